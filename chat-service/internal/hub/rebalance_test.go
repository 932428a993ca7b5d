package hub

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/parleychat/parley/platform/broker"
)

func TestRebalanceShed(t *testing.T) {
	cases := []struct {
		name  string
		own   int
		peers []int
		want  int
	}{
		{"alone", 1000, nil, 0},
		{"at the minimum", 50, []int{0}, 0},
		{"just over the minimum", 51, []int{0}, 5}, // mean 25.5: excess 25, 10% of 51
		{"all on one of two", 200, []int{0}, 20},
		{"just over the band", 121, []int{79}, 12}, // mean 100: excess 21, 10% of 121
		{"over the band", 125, []int{75}, 12},
		{"within the slack", 119, []int{81}, 0},
		{"exactly at the band", 120, []int{80}, 0},
		{"four replicas", 130, []int{100, 100, 98}, 13},       // mean 107: band 128.4, excess 23, 10% 13
		{"excess under the share", 250, []int{50, 200}, 25},   // mean 166.7: excess 83, 10% 25
		{"within the band of a big mean", 700, []int{560}, 0}, // mean 630: band 756
		{"eight after a scale-out", 400, []int{400, 10, 10, 10, 10, 10, 10}, 40},
		{"under the mean", 10, []int{400, 400}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := RebalanceShed(c.own, c.peers, 0, DefaultRebalanceSlack, DefaultRebalanceMin, DefaultRebalanceShare)
			if got != c.want {
				t.Errorf("RebalanceShed(%d, %v) = %d, want %d", c.own, c.peers, got, c.want)
			}
		})
	}
	// With the defaults the share always binds (past the band the excess
	// is over a sixth); a larger share stops at the mean.
	if k := RebalanceShed(200, []int{0}, 0, DefaultRebalanceSlack, DefaultRebalanceMin, 0.9); k != 100 {
		t.Errorf("share 0.9: sheds %d, want the excess 100", k)
	}
	// Sockets still moving: the last round saw 200 in all; now A holds 130
	// and B counts 40, 30 are in flight. The floor keeps the mean at 100,
	// so A moves at most 30 (share 1 here); without it the mean would be
	// 85 and A would move 45, below its fair share.
	if k := RebalanceShed(130, []int{40}, 200, DefaultRebalanceSlack, DefaultRebalanceMin, 1); k != 30 {
		t.Errorf("with 30 in flight: sheds %d, want 30 (down to 100)", k)
	}
	if k := RebalanceShed(130, []int{40}, 0, DefaultRebalanceSlack, DefaultRebalanceMin, 1); k != 45 {
		t.Errorf("without the floor: sheds %d, want 45 (down to 85)", k)
	}
	// The band: once shed to at most (1+slack) × mean nothing more goes,
	// whatever the shares, so a replica that reached it stays.
	for own := 0; own <= 1000; own++ {
		if k := RebalanceShed(own, []int{500}, 0, DefaultRebalanceSlack, DefaultRebalanceMin, DefaultRebalanceShare); k > 0 {
			mean := float64(own+500) / 2
			if float64(own) <= 1.2*mean || own-k < int(mean) {
				t.Fatalf("own %d vs 500: sheds %d (mean %.1f)", own, k, mean)
			}
		}
	}
}

// TestPeerConns: socket counts ride on the presence heartbeat; a replica
// that sends none, or has not counted since a given time, makes the
// picture stale; a replica gone (TTL or bye) no longer counts.
func TestPeerConns(t *testing.T) {
	b := broker.NewMemory()
	clk := &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	h, err := New(Options{Broker: b, ReplicaID: "a", Now: clk.Now, PresenceHeartbeat: time.Hour, PresenceTTL: 15 * time.Second, RebalanceOff: true})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())
	sent := record(t, b, "a")
	sent.wait(t, "a's first heartbeat carries its count", func(ms []presenceMsg) bool {
		return slices.ContainsFunc(ms, func(m presenceMsg) bool { return m.Kind == "hb" && m.Conns != nil && *m.Conns == 0 })
	})

	if counts, fresh := h.presence.peerConns(time.Time{}); len(counts) != 0 || !fresh {
		t.Fatalf("no peers: %v %v", counts, fresh)
	}
	n := func(v int) *int { return &v }
	announce(t, b, presenceMsg{Kind: "hb", Rep: "b", Conns: n(120)})
	announce(t, b, presenceMsg{Kind: "hb", Rep: "c"}) // an older replica
	counts, fresh := h.presence.peerConns(time.Time{})
	if !slices.Equal(counts, []int{120}) || fresh {
		t.Fatalf("b counted, c not: %v %v", counts, fresh)
	}
	announce(t, b, presenceMsg{Kind: "bye", Rep: "c"})
	counts, fresh = h.presence.peerConns(time.Time{})
	if !slices.Equal(counts, []int{120}) || !fresh {
		t.Fatalf("c gone: %v %v", counts, fresh)
	}
	clk.advance(time.Second)
	if _, fresh := h.presence.peerConns(clk.Now().Add(-time.Millisecond)); fresh {
		t.Fatal("b's count taken before since is fresh")
	}
	announce(t, b, presenceMsg{Kind: "hb", Rep: "b", Conns: n(90)})
	if counts, fresh := h.presence.peerConns(clk.Now().Add(-time.Millisecond)); !slices.Equal(counts, []int{90}) || !fresh {
		t.Fatalf("b counted again: %v %v", counts, fresh)
	}
	if total, replicas := h.clusterConns(); total != 90 || replicas != 2 {
		t.Fatalf("cluster: %d sockets on %d replicas", total, replicas)
	}
	clk.advance(16 * time.Second)
	if counts, _ := h.presence.peerConns(time.Time{}); len(counts) != 0 {
		t.Fatalf("b past its TTL still counted: %v", counts)
	}

	// A replica shutting down says at once, before its sockets close and
	// before its goodbye, that its count no longer counts: nobody moves
	// sockets towards a replica that is emptying.
	dsent := record(t, b, "d")
	d, err := New(Options{Broker: b, ReplicaID: "d", Now: clk.Now, PresenceHeartbeat: time.Hour, PresenceTTL: 15 * time.Second, RebalanceOff: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	dsent.wait(t, "d's draining heartbeat, then its goodbye", func(ms []presenceMsg) bool {
		drain := slices.IndexFunc(ms, func(m presenceMsg) bool { return m.Kind == "hb" && m.Conns == nil })
		bye := slices.IndexFunc(ms, func(m presenceMsg) bool { return m.Kind == "bye" })
		return drain >= 0 && bye > drain
	})
}
