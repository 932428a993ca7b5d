package httpapi_test

import (
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/chat-service/app"
	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/platform/authn/authntest"
	"github.com/parleychat/parley/platform/testkit"
)

// presenceView is a client's picture of one room's presence, built from
// presence and presence_delta frames the way the SPA builds it.
type presenceView struct {
	room   int64
	users  map[int64]string
	count  int
	listed bool             // false after a count-only frame: no list is kept
	frames []map[string]any // every presence frame applied, in order
}

func newPresenceView(room int64) *presenceView {
	return &presenceView{room: room, users: map[int64]string{}}
}

func refs(v any) map[int64]string {
	out := map[int64]string{}
	list, _ := v.([]any)
	for _, x := range list {
		u := x.(map[string]any)
		out[num(u["user_id"])] = u["username"].(string)
	}
	return out
}

// apply folds one frame in; it reports whether it was this room's presence.
func (v *presenceView) apply(t *testing.T, f map[string]any) bool {
	t.Helper()
	if num(f["room_id"]) != v.room || (f["type"] != "presence" && f["type"] != "presence_delta") {
		return false
	}
	v.frames = append(v.frames, f)
	v.count = int(num(f["count"]))
	if f["type"] == "presence" {
		online, listed := f["online"]
		v.listed = listed
		if _, ok := f["truncated"]; ok {
			t.Errorf("presence says truncated: %v", f)
		}
		v.users = refs(online)
		if len(v.users) > 200 {
			t.Errorf("presence lists %d users", len(v.users))
		}
		if listed && len(v.users) != v.count {
			t.Errorf("snapshot of %d users says count %d", len(v.users), v.count)
		}
		return true
	}
	if !v.listed {
		t.Errorf("presence_delta in a room whose list is not kept: %v", f)
	}
	for id, name := range refs(f["joined"]) {
		v.users[id] = name
	}
	for id := range refs(f["left"]) {
		delete(v.users, id)
	}
	if len(v.users) != v.count {
		t.Errorf("after a delta %d users listed, count %d", len(v.users), v.count)
	}
	return true
}

func (v *presenceView) names() string {
	var out []string
	for _, n := range v.users {
		out = append(out, n)
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// read returns c's next frame of one of types, applying every presence
// frame on the way.
func (v *presenceView) read(t *testing.T, c *wsClient, types ...string) map[string]any {
	t.Helper()
	for {
		f := c.next(append([]string{"presence", "presence_delta"}, types...)...)
		v.apply(t, f)
		if slices.Contains(types, f["type"].(string)) {
			return f
		}
	}
}

// until reads c's presence frames until ok holds.
func (v *presenceView) until(t *testing.T, c *wsClient, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: presence is %d users (count %d, listed %v)", what, len(v.users), v.count, v.listed)
		}
		v.read(t, c, "presence", "presence_delta")
	}
}

// waitPresence reads presence frames until the room's online names match.
func waitPresence(t *testing.T, c *wsClient, v *presenceView, want string) {
	t.Helper()
	v.until(t, c, "online "+want, func() bool { return v.listed && v.names() == want })
}

func uname(i int) string { return fmt.Sprintf("u%03d", i) }

type onlinePage struct {
	Online     []chat.UserRef `json:"online"`
	NextCursor string         `json:"next_cursor"`
	Count      *int           `json:"count"`
}

// TestPresenceBigRoom fills General past 200 online and back with real
// WebSocket clients: deltas are batched and exact, past 200 only counts
// are sent (a new subscriber's snapshot too), and the crossing back sends
// a full snapshot; typing is not fanned out past 200; the HTTP list pages
// in (username, user_id) order and answers user_ids.
func TestPresenceBigRoom(t *testing.T) {
	h := start(t, map[string]string{"PRESENCE_BIG_INTERVAL": "300ms", "PRESENCE_FLUSH": "250ms"})
	users := map[int]user{}
	clients := map[int]*wsClient{}
	// join connects users from..to, eight at a time, each subscribed to
	// General.
	join := func(from, to int) {
		type joined struct {
			i int
			u user
			c *wsClient
		}
		next, done := make(chan int), make(chan joined)
		for range 8 {
			go func() {
				for i := range next {
					u := h.user(int64(i), uname(i))
					c := h.connect(u)
					c.subscribe(1, nil)
					done <- joined{i, u, c}
				}
			}()
		}
		go func() {
			for i := from; i <= to; i++ {
				next <- i
			}
			close(next)
		}()
		for range to - from + 1 {
			j := <-done
			users[j.i], clients[j.i] = j.u, j.c
		}
	}
	join(1, 1)
	obs := clients[1]
	ov := newPresenceView(1)
	first := ov.read(t, obs, "presence")
	if _, ok := first["online"]; !ok || first["truncated"] != nil {
		t.Fatalf("first snapshot = %v", first)
	}
	for _, i := range []int{2, 3, 4} {
		h.must(200, "POST", "/rooms/1/join", h.user(int64(i), uname(i)), nil, nil)
	}

	join(2, 200)
	ov.until(t, obs, "200 online", func() bool { return ov.listed && len(ov.users) == 200 })
	deltas := 0
	for _, f := range ov.frames {
		if f["type"] == "presence_delta" {
			deltas++
		}
	}
	if deltas == 0 || deltas >= 150 {
		t.Errorf("199 joins came as %d deltas; want them batched", deltas)
	}
	if ov.names() != func() string {
		var n []string
		for i := 1; i <= 200; i++ {
			n = append(n, uname(i))
		}
		return strings.Join(n, ",")
	}() {
		t.Fatalf("online = %s", ov.names())
	}

	// At 200 online typing is fanned out.
	clients[2].send(map[string]any{"type": "typing", "room_id": 1})
	if f := ov.read(t, obs, "typing"); num(f["user_id"]) != 2 {
		t.Fatalf("typing = %v", f)
	}

	// The 201st: subscribers get the count only.
	join(201, 201)
	f := ov.read(t, obs, "presence")
	if _, listed := f["online"]; listed || num(f["count"]) != 201 {
		t.Fatalf("crossing 200 sent %v", f)
	}
	// A new subscriber's snapshot past 200 is the count-only frame.
	join(202, 202)
	nv := newPresenceView(1)
	snap := nv.read(t, clients[202], "presence")
	if _, listed := snap["online"]; listed || num(snap["count"]) < 201 || len(snap) != 3 {
		t.Fatalf("snapshot past 200 = %v", snap)
	}
	ov.until(t, obs, "count 202", func() bool { return ov.count == 202 })
	if ov.listed {
		t.Fatal("a list was sent past 200")
	}

	// Past 200 typing is dropped: the typist's next message arrives with no
	// typing before it.
	clients[3].send(map[string]any{"type": "typing", "room_id": 1})
	clients[3].send(map[string]any{"type": "send", "room_id": 1, "body": "after typing", "client_msg_id": "big-1"})
	if f := ov.read(t, obs, "typing", "message"); f["type"] != "message" {
		t.Fatalf("typing fanned out past 200: %v", f)
	}
	clients[3].expect("ack")

	// The HTTP list: pages of 50 in (username, user_id) order.
	var all []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		var p onlinePage
		h.must(200, "GET", "/rooms/1/online?limit=50&cursor="+url.QueryEscape(cursor), users[1], nil, &p)
		if p.Count == nil || *p.Count != 202 {
			t.Fatalf("page count = %v", p.Count)
		}
		for _, u := range p.Online {
			all = append(all, u.Username)
		}
		if p.NextCursor == "" {
			if len(p.Online) != 2 {
				t.Fatalf("last page has %d", len(p.Online))
			}
			break
		}
		if len(p.Online) != 50 {
			t.Fatalf("page of %d", len(p.Online))
		}
		cursor = p.NextCursor
	}
	if len(all) != 202 || !slices.IsSorted(all) || all[0] != "u001" || all[201] != "u202" {
		t.Fatalf("paged %d users: %v…", len(all), all[:3])
	}
	var p onlinePage
	h.must(200, "GET", "/rooms/1/online", users[1], nil, &p)
	if len(p.Online) != 100 || p.NextCursor == "" {
		t.Fatalf("default page: %d, next %q", len(p.Online), p.NextCursor)
	}
	p = onlinePage{}
	h.must(200, "GET", "/rooms/1/online?limit=500", users[1], nil, &p)
	if len(p.Online) != 202 || p.NextCursor != "" {
		t.Fatalf("limit 500: %d, next %q", len(p.Online), p.NextCursor)
	}
	// Which of some users are online: no paging.
	var among onlinePage
	h.must(200, "GET", "/rooms/1/online?user_ids=202,7,9999,7", users[1], nil, &among)
	if len(among.Online) != 2 || among.Online[0].Username != "u007" || among.Online[1].Username != "u202" || among.NextCursor != "" || *among.Count != 202 {
		t.Fatalf("user_ids = %+v", among)
	}
	ids := make([]string, 201)
	for i := range ids {
		ids[i] = fmt.Sprint(i + 1)
	}
	for q, code := range map[string]string{
		"limit=501": "invalid_limit", "limit=0": "invalid_limit", "limit=-3": "invalid_limit", "limit=ten": "invalid_limit",
		"cursor=%21%21": "invalid_cursor", "cursor=" + base64.RawURLEncoding.EncodeToString([]byte("x:amy")): "invalid_cursor",
		"cursor=" + base64.RawURLEncoding.EncodeToString([]byte("12amy")): "invalid_cursor",
		"user_ids=" + strings.Join(ids, ","):                              "invalid_user_ids", "user_ids=": "invalid_user_ids",
		"user_ids=1,x": "invalid_user_ids", "user_ids=0": "invalid_user_ids", "user_ids=1&limit=5": "invalid_query",
	} {
		status, raw, _ := h.call("GET", "/rooms/1/online?"+q, users[1], nil)
		if status != http.StatusBadRequest || errCode(raw) != code {
			t.Errorf("?%s: %d %s, want 400 %s", q, status, raw, code)
		}
	}
	// Private rooms stay invisible to non-members, in both forms.
	priv := h.createRoom(users[5], "secret", "private")
	for _, q := range []string{"", "?user_ids=5", "?limit=5"} {
		if status, raw, _ := h.call("GET", "/rooms/"+itoa(priv.ID)+"/online"+q, users[1], nil); status != 404 {
			t.Errorf("private room online%s as a non-member: %d %s", q, status, raw)
		}
	}
	h.must(200, "GET", "/rooms/"+itoa(priv.ID)+"/online?user_ids=5", users[5], nil, nil)

	// Back to 200: a full snapshot, then deltas again.
	clients[201].conn.Close()
	clients[202].conn.Close()
	ov.until(t, obs, "back to 200", func() bool { return ov.listed })
	last := ov.frames[len(ov.frames)-1]
	if last["type"] != "presence" || len(ov.users) != 200 || ov.count != 200 {
		t.Fatalf("crossing back sent %v (%d listed)", last["type"], len(ov.users))
	}
	clients[200].conn.Close()
	f = ov.read(t, obs, "presence_delta")
	if left := refs(f["left"]); len(left) != 1 || left[200] != "u200" || num(f["count"]) != 199 || len(refs(f["joined"])) != 0 {
		t.Fatalf("delta after the crossing back = %v", f)
	}
	// And typing is fanned out again.
	clients[4].send(map[string]any{"type": "typing", "room_id": 1})
	if f := ov.read(t, obs, "typing"); num(f["user_id"]) != 4 {
		t.Fatalf("typing = %v", f)
	}
}

// TestPresenceAcrossReplicasWS runs two replicas on one database and an
// embedded NATS server: a join and a leave on one reach the other's
// subscribers as deltas, and either replica's HTTP list shows both.
func TestPresenceAcrossReplicasWS(t *testing.T) {
	natsURL := testkit.StartNATS(t)
	is := authntest.New(t)
	dir := t.TempDir()
	env := map[string]string{
		"DATA_DIR": dir, "JWKS_URL": is.JWKSURL, "NATS_URL": natsURL, "LOG_LEVEL": "warn",
		"ALLOWED_ORIGINS": "http://app.example", "USER_RATE_LIMIT_RPS": "100000", "USER_RATE_LIMIT_BURST": "100000",
		"PRESENCE_FLUSH": "50ms", "PRESENCE_HEARTBEAT": "200ms", "PRESENCE_TTL": "5s",
	}
	replica := func(name string) *harness {
		svc := testkit.Start(t, name, app.Run, maps.Clone(env))
		return &harness{t: t, is: is, svc: svc, url: svc.URL, ws: "ws" + strings.TrimPrefix(svc.URL, "http") + "/ws"}
	}
	ha := replica("chat-a")
	hb := replica("chat-b")
	alice, bob := ha.user(1, "alice"), ha.user(2, "bob")
	a := ha.connect(alice)
	a.subscribe(1, nil)
	av := newPresenceView(1)
	waitPresence(t, a, av, "alice")

	b := hb.connect(bob)
	b.subscribe(1, nil)
	waitPresence(t, a, av, "alice,bob")
	if f := av.frames[len(av.frames)-1]; f["type"] != "presence_delta" || refs(f["joined"])[2] != "bob" {
		t.Fatalf("bob's join on b reached a as %v", f)
	}
	for _, h := range []*harness{ha, hb} {
		testkit.Eventually(t, "both online over HTTP", 10*time.Second, func() bool {
			var p onlinePage
			h.must(200, "GET", "/rooms/1/online", alice, nil, &p)
			return len(p.Online) == 2 && p.Online[0].Username == "alice" && p.Online[1].Username == "bob" && *p.Count == 2
		})
	}
	b.conn.Close()
	waitPresence(t, a, av, "alice")
	if f := av.frames[len(av.frames)-1]; f["type"] != "presence_delta" || refs(f["left"])[2] != "bob" || num(f["count"]) != 1 {
		t.Fatalf("bob's leave on b reached a as %v", f)
	}
}
