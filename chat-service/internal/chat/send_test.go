package chat_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/chat-service/internal/store"
	"github.com/parleychat/parley/chat-service/internal/store/sqlstore"
	"github.com/parleychat/parley/chat-service/internal/store/storetest"
	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/sqldb"
	"github.com/parleychat/parley/platform/sqldb/sqldbtest"
	"github.com/parleychat/parley/platform/testkit"
)

// heldStore is the real store with a gate in front of CreateMessages:
// while held, the next batch waits at the gate, so a test can line sends
// up behind it and have them committed together as the following batch.
type heldStore struct {
	*sqlstore.Store
	mu      sync.Mutex
	gate    chan struct{}
	waiting chan struct{}
	sizes   []int // of every batch, in order
}

func (h *heldStore) hold() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gate, h.waiting = make(chan struct{}), make(chan struct{}, 1)
}

func (h *heldStore) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	close(h.gate)
	h.gate = nil
}

func (h *heldStore) batchSizes() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int(nil), h.sizes...)
}

func (h *heldStore) CreateMessages(ctx context.Context, nms []chat.NewMessage, check chat.SendCheck) ([]chat.CreateResult, error) {
	h.mu.Lock()
	h.sizes = append(h.sizes, len(nms))
	gate, waiting := h.gate, h.waiting
	h.mu.Unlock()
	if gate != nil {
		waiting <- struct{}{}
		<-gate
	}
	return h.Store.CreateMessages(ctx, nms, check)
}

// recorder is a Publisher that keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []chat.Event
}

func (r *recorder) Publish(_ context.Context, e chat.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	return nil
}

// messages are the messages published, in publishing order.
func (r *recorder) messages() []chat.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []chat.Message
	for _, e := range r.events {
		if e.Type == chat.EventMessage {
			out = append(out, e.Frame.(chat.MessageFrame).Message)
		}
	}
	return out
}

func newService(st chat.Store, pub chat.Publisher) *chat.Service {
	return chat.NewService(chat.Options{Store: st, Publisher: pub, SendRate: 1e6, SendBurst: 1e6})
}

type sent struct {
	msg     chat.Message
	created bool
	err     error
}

func sendAsync(svc *chat.Service, a chat.Actor, room int64, body, cmid string) <-chan sent {
	ch := make(chan sent, 1)
	go func() {
		m, created, err := svc.SendMessage(context.Background(), a, room, body, cmid)
		ch <- sent{m, created, err}
	}()
	return ch
}

// waitQueued polls until n sends wait for the committer.
func waitQueued(t *testing.T, svc *chat.Service, n int) {
	t.Helper()
	testkit.Eventually(t, fmt.Sprintf("%d sends queued", n), 20*time.Second, func() bool { return svc.QueuedSends() == n })
}

func mustRoom(t *testing.T, svc *chat.Service, owner chat.Actor, name, kind string, members ...chat.Actor) int64 {
	t.Helper()
	ctx := context.Background()
	v, err := svc.CreateRoom(ctx, owner, name, "", kind)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		if _, err := svc.JoinRoom(ctx, m, v.ID); err != nil {
			t.Fatal(err)
		}
	}
	return v.ID
}

func errKind(err error) apperr.Kind {
	if e, ok := apperr.From(err); ok {
		return e.Kind
	}
	return -1
}

// checkSeqOrder checks that each room's messages were published in
// strictly increasing seq order.
func checkSeqOrder(t *testing.T, msgs []chat.Message) {
	t.Helper()
	last := map[int64]int64{}
	for _, m := range msgs {
		if m.Seq <= last[m.RoomID] {
			t.Fatalf("room %d: seq %d published after %d", m.RoomID, m.Seq, last[m.RoomID])
		}
		last[m.RoomID] = m.Seq
	}
}

// TestSendBatch lines sends up behind a held batch so that they are
// committed as one: new messages in two rooms, a client id repeated inside
// the batch, a retry of a message of an earlier batch, a client id reused
// in another room, a send to a room deleted while it waited, and sends the
// sender may not make (not a member, a private room, an archived room, no
// such room). Each gets what it would have had alone; sends refused by
// validation never join a batch.
func TestSendBatch(t *testing.T) {
	sqldbtest.EachFresh(t, func(t *testing.T, fresh sqldbtest.Fresh) {
		hs := &heldStore{Store: storetest.Open(t, fresh(t))}
		pub := &recorder{}
		svc := newService(hs, pub)
		ctx := context.Background()
		alice, bob, carol := chat.Actor{UserID: 1, Username: "alice"}, chat.Actor{UserID: 2, Username: "bob"}, chat.Actor{UserID: 3, Username: "carol"}
		dave := chat.Actor{UserID: 4, Username: "dave"}
		a := mustRoom(t, svc, alice, "a", chat.KindPublic, bob, carol)
		b := mustRoom(t, svc, alice, "b", chat.KindPublic, bob, carol)
		gone := mustRoom(t, svc, alice, "gone", chat.KindPublic, carol)
		priv := mustRoom(t, svc, alice, "priv", chat.KindPrivate)
		old := mustRoom(t, svc, alice, "old", chat.KindPublic, bob)
		archived := true
		if _, err := svc.UpdateRoom(ctx, alice, old, chat.RoomPatch{Archived: &archived}); err != nil {
			t.Fatal(err)
		}

		first, created, err := svc.SendMessage(ctx, alice, a, "first", "c0")
		if err != nil || !created || first.Seq != 1 {
			t.Fatalf("first: %v %v %+v", err, created, first)
		}
		hs.hold()
		held := sendAsync(svc, alice, a, "held", "h0")
		<-hs.waiting
		lineUp := []struct {
			who        chat.Actor
			room       int64
			body, cmid string
		}{
			{bob, a, "b1", "b1"},           // 0: a seq 3
			{carol, b, "c1", "c1"},         // 1: b seq 1
			{bob, a, "b1 again", "b1"},     // 2: repeats 0
			{alice, a, "retry", "c0"},      // 3: the first message
			{carol, gone, "lost", ""},      // 4: its room is deleted meanwhile
			{bob, b, "moved", "b1"},        // 5: repeats 0 in another room
			{alice, b, "no client id", ""}, // 6: b seq 2
			{dave, a, "not a member", "d"}, // 7: 403
			{bob, priv, "private", "p"},    // 8: 404
			{bob, old, "archived", "o"},    // 9: 409
			{carol, 9999, "nowhere", "n"},  // 10: 404
			{carol, a, "c2", "c2"},         // 11: a seq 4
		}
		results := make([]<-chan sent, len(lineUp))
		for i, s := range lineUp {
			results[i] = sendAsync(svc, s.who, s.room, s.body, s.cmid)
			waitQueued(t, svc, i+1)
		}
		// Refused before queueing, while the committer is busy.
		for _, body := range []string{strings.Repeat("x", chat.MaxBodyRunes+1), "   "} {
			if _, _, err := svc.SendMessage(ctx, bob, a, body, ""); errKind(err) != apperr.KindValidation {
				t.Fatalf("send of %d characters: %v", len(body), err)
			}
		}
		if _, _, err := svc.SendMessage(ctx, bob, 0, "no room", ""); errKind(err) != apperr.KindNotFound {
			t.Fatalf("send to room 0: %v", err)
		}
		waitQueued(t, svc, len(lineUp))
		if err := svc.DeleteRoom(ctx, alice, gone); err != nil {
			t.Fatal(err)
		}
		hs.release()

		h := <-held
		if h.err != nil || !h.created || h.msg.Seq != 2 || h.msg.RoomID != a {
			t.Fatalf("held send: %+v", h)
		}
		got := make([]sent, len(results))
		for i, ch := range results {
			got[i] = <-ch
		}
		if sizes := hs.batchSizes(); sizes[len(sizes)-1] != len(lineUp) {
			t.Fatalf("batch sizes %v: the lined-up sends were not one batch", sizes)
		}
		for _, i := range []int{0, 1, 6, 11} {
			want := map[int]struct{ room, seq int64 }{0: {a, 3}, 1: {b, 1}, 6: {b, 2}, 11: {a, 4}}[i]
			g := got[i]
			if g.err != nil || !g.created || g.msg.RoomID != want.room || g.msg.Seq != want.seq || g.msg.Body != lineUp[i].body {
				t.Fatalf("send %d: %+v, want room %d seq %d", i, g, want.room, want.seq)
			}
			stored, err := hs.Message(ctx, g.msg.ID)
			if err != nil || stored.Seq != g.msg.Seq || stored.Body != g.msg.Body || stored.UserID != lineUp[i].who.UserID {
				t.Fatalf("send %d stored as %+v (%v), acked %+v", i, stored, err, g.msg)
			}
		}
		if g := got[2]; g.err != nil || g.created || g.msg.ID != got[0].msg.ID || g.msg.Body != "b1" {
			t.Fatalf("repeat inside the batch: %+v", g)
		}
		if g := got[3]; g.err != nil || g.created || g.msg.ID != first.ID {
			t.Fatalf("retry of an earlier batch: %+v", g)
		}
		if g := got[4]; errKind(g.err) != apperr.KindNotFound {
			t.Fatalf("send to the deleted room: %+v", g)
		}
		if e, _ := apperr.From(got[5].err); e == nil || e.Code != "client_msg_id_reused" {
			t.Fatalf("client id reused in another room: %+v", got[5])
		}
		for i, kind := range map[int]apperr.Kind{7: apperr.KindForbidden, 8: apperr.KindNotFound, 9: apperr.KindConflict, 10: apperr.KindNotFound} {
			if errKind(got[i].err) != kind {
				t.Fatalf("send %d (%q): %+v, want kind %v", i, lineUp[i].body, got[i], kind)
			}
		}

		// Published: each new message once, rooms in seq order.
		pubd := pub.messages()
		checkSeqOrder(t, pubd)
		ids := map[int64]bool{}
		for _, m := range pubd {
			ids[m.ID] = true
		}
		for _, m := range []chat.Message{first, h.msg, got[0].msg, got[1].msg, got[6].msg, got[11].msg} {
			if !ids[m.ID] {
				t.Fatalf("message %d (%q) was not published", m.ID, m.Body)
			}
		}
		if len(pubd) != 6 {
			t.Fatalf("published %d messages, want 6", len(pubd))
		}
		for room, want := range map[int64][]string{a: {"first", "held", "b1", "c2"}, b: {"c1", "no client id"}} {
			msgs, _, err := hs.Messages(ctx, chat.MessageFilter{RoomID: room, Limit: 50})
			if err != nil || len(msgs) != len(want) {
				t.Fatalf("room %d: %+v %v", room, msgs, err)
			}
			for i, m := range msgs {
				if m.Seq != int64(i+1) || m.Body != want[i] {
					t.Fatalf("room %d message %d: %+v, want %q", room, i, m, want[i])
				}
			}
		}
	})
}

// TestSendConcurrentReplicas sends from many goroutines through two
// services (replicas) writing one database, each send sometimes retried
// through the other replica: every message is stored once, seqs are
// gap-free, acks carry the stored message, and each replica publishes
// every room in seq order.
func TestSendConcurrentReplicas(t *testing.T) {
	sqldbtest.EachFresh(t, func(t *testing.T, fresh sqldbtest.Fresh) {
		target := fresh(t)
		pubs := []*recorder{{}, {}}
		svcs := []*chat.Service{newService(storetest.Open(t, target), pubs[0]), newService(storetest.Open(t, target), pubs[1])}
		ctx := context.Background()
		owner := chat.Actor{UserID: 1, Username: "owner"}
		const senders, perSender = 16, 12
		users := make([]chat.Actor, senders)
		for i := range users {
			users[i] = chat.Actor{UserID: int64(10 + i), Username: fmt.Sprint("user", i)}
		}
		rooms := []int64{
			mustRoom(t, svcs[0], owner, "r1", chat.KindPublic, users...),
			mustRoom(t, svcs[0], owner, "r2", chat.KindPublic, users...),
			mustRoom(t, svcs[1], owner, "r3", chat.KindPrivate),
		}
		for _, u := range users {
			if _, _, err := svcs[1].AddMember(ctx, owner, rooms[2], u.UserID, u.Username); err != nil {
				t.Fatal(err)
			}
		}
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			acked = map[string]chat.Message{}
		)
		errs := make(chan error, senders)
		for g, u := range users {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perSender {
					cmid := fmt.Sprintf("g%d-%d", g, i)
					room := rooms[(g+i)%len(rooms)]
					m, created, err := svcs[(g+i)%2].SendMessage(ctx, u, room, cmid, cmid)
					if err != nil || !created || m.RoomID != room || m.Body != cmid {
						errs <- fmt.Errorf("%s: %v %v %+v", cmid, err, created, m)
						return
					}
					if i%3 == 0 {
						again, created, err := svcs[(g+i+1)%2].SendMessage(ctx, u, room, cmid, cmid)
						if err != nil || created || again.ID != m.ID || again.Seq != m.Seq {
							errs <- fmt.Errorf("retry of %s: %v %v %+v, first %+v", cmid, err, created, again, m)
							return
						}
					}
					mu.Lock()
					acked[cmid] = m
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if len(acked) != senders*perSender {
			t.Fatalf("%d messages acked, want %d", len(acked), senders*perSender)
		}
		st := storetest.Open(t, target)
		stored := 0
		for _, room := range rooms {
			msgs, _, err := st.Messages(ctx, chat.MessageFilter{RoomID: room, Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			for i, m := range msgs {
				if m.Seq != int64(i+1) {
					t.Fatalf("room %d: message %d has seq %d", room, i, m.Seq)
				}
				a, ok := acked[*m.ClientMsgID]
				if !ok || a.ID != m.ID || a.Seq != m.Seq || a.RoomID != room {
					t.Fatalf("stored %+v, acked %+v", m, a)
				}
			}
			stored += len(msgs)
		}
		if stored != senders*perSender {
			t.Fatalf("stored %d messages, want %d", stored, senders*perSender)
		}
		published := map[int64]int{}
		for _, p := range pubs {
			msgs := p.messages()
			checkSeqOrder(t, msgs)
			for _, m := range msgs {
				published[m.ID]++
			}
		}
		for cmid, m := range acked {
			if published[m.ID] != 1 {
				t.Fatalf("%s published %d times", cmid, published[m.ID])
			}
		}
	})
}

// TestSendBatchDatabaseGone: when the database fails under a batch, every
// send of it fails with the same error, and the service recovers.
func TestSendBatchDatabaseGone(t *testing.T) {
	t.Run("sqlite closed", func(t *testing.T) {
		target := sqldbtest.SQLite(t, "chat.db")
		ctx := context.Background()
		db, err := sqldb.Open(ctx, target)
		if err != nil {
			t.Fatal(err)
		}
		st, err := store.Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		hs := &heldStore{Store: st}
		svc := newService(hs, &recorder{})
		owner := chat.Actor{UserID: 1, Username: "owner"}
		room := mustRoom(t, svc, owner, "room", chat.KindPublic)
		errs := lineUpAndFail(t, svc, hs, owner, room, func() { db.Close() })
		for _, err := range errs {
			if err == nil || err.Error() != errs[0].Error() {
				t.Fatalf("errors %v: want one error for all", errs)
			}
		}
	})
	t.Run("postgres stopped", func(t *testing.T) {
		srv := sqldbtest.StartServer(t)
		hs := &heldStore{Store: storetest.Open(t, srv.Target())}
		svc := newService(hs, &recorder{})
		owner := chat.Actor{UserID: 1, Username: "owner"}
		room := mustRoom(t, svc, owner, "room", chat.KindPublic)
		errs := lineUpAndFail(t, svc, hs, owner, room, srv.Stop)
		for _, err := range errs {
			if errKind(err) != apperr.KindUnavailable {
				t.Fatalf("errors %v: want 503 for all", errs)
			}
		}
		srv.Start()
		testkit.Eventually(t, "a send after the database came back", 30*time.Second, func() bool {
			m, created, err := svc.SendMessage(context.Background(), owner, room, "back", "back")
			if err == nil && (!created || m.Seq != 1) {
				t.Fatalf("after the outage: %v %+v", created, m)
			}
			return err == nil
		})
	})
}

// lineUpAndFail holds a batch, lines three sends up behind it, breaks the
// database and returns what the three got.
func lineUpAndFail(t *testing.T, svc *chat.Service, hs *heldStore, who chat.Actor, room int64, breakDB func()) []error {
	t.Helper()
	hs.hold()
	held := sendAsync(svc, who, room, "held", "h")
	<-hs.waiting
	var chans []<-chan sent
	for i := range 3 {
		chans = append(chans, sendAsync(svc, who, room, fmt.Sprint("m", i), fmt.Sprint("m", i)))
		waitQueued(t, svc, i+1)
	}
	breakDB()
	hs.release()
	<-held
	var errs []error
	for _, ch := range chans {
		errs = append(errs, (<-ch).err)
	}
	return errs
}
