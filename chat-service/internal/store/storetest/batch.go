package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/chat-service/internal/store/sqlstore"
	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/sqldb"
)

// testCreateMessagesBatch: one batch holds new messages in two rooms, a
// client id repeated inside the batch, one used before the batch, one
// used before in another room, messages without client ids and one for a
// room that does not exist; each gets what sending them one by one would
// have given it.
func testCreateMessagesBatch(t *testing.T, target sqldb.Target) {
	st := Open(t, target)
	ctx := context.Background()
	a := mustRoom(t, st, "a", chat.KindPublic, 1)
	b := mustRoom(t, st, "b", chat.KindPublic, 1)
	before, _, err := st.CreateMessage(ctx, chat.NewMessage{RoomID: a.ID, UserID: 1, Username: "u1", Body: "before", ClientMsgID: "old", At: t0})
	if err != nil {
		t.Fatal(err)
	}
	nm := func(room, user int64, body, cmid string) chat.NewMessage {
		return chat.NewMessage{RoomID: room, UserID: user, Username: fmt.Sprint("u", user), Body: body, ClientMsgID: cmid, At: t0}
	}
	batch := []chat.NewMessage{
		nm(a.ID, 1, "a1", "c1"),     // 0: a seq 2
		nm(b.ID, 2, "b1", "c1"),     // 1: b seq 1 (another user may reuse a client id)
		nm(a.ID, 1, "again", "c1"),  // 2: repeats 0
		nm(999, 3, "nowhere", ""),   // 3: no such room
		nm(a.ID, 1, "retry", "old"), // 4: the message sent before the batch
		nm(b.ID, 4, "b2", ""),       // 5: b seq 2
		nm(b.ID, 1, "moved", "c1"),  // 6: repeats 0, which is in room a
		nm(a.ID, 5, "a2", "c5"),     // 7: a seq 3
	}
	res, err := st.CreateMessages(ctx, batch, nil)
	if err != nil || len(res) != len(batch) {
		t.Fatalf("batch: %v, %d results", err, len(res))
	}
	want := []struct {
		room, seq int64
		created   bool
		body      string
	}{
		{a.ID, 2, true, "a1"}, {b.ID, 1, true, "b1"}, {a.ID, 2, false, "a1"}, {},
		{a.ID, 1, false, "before"}, {b.ID, 2, true, "b2"}, {a.ID, 2, false, "a1"}, {a.ID, 3, true, "a2"},
	}
	for i, w := range want {
		r := res[i]
		if i == 3 {
			if kindOf(r.Err) != apperr.KindNotFound {
				t.Fatalf("message %d for a missing room: %+v", i, r)
			}
			continue
		}
		if r.Err != nil || r.Created != w.created || r.Message.RoomID != w.room || r.Message.Seq != w.seq || r.Message.Body != w.body {
			t.Fatalf("message %d: %+v, want %+v", i, r, w)
		}
		if r.Message.ID == 0 || r.Message.Reactions == nil {
			t.Fatalf("message %d: %+v", i, r.Message)
		}
	}
	if res[2].Message.ID != res[0].Message.ID || res[4].Message.ID != before.ID {
		t.Fatalf("repeats: %+v / %+v", res[2].Message, res[4].Message)
	}
	if *res[0].Message.ClientMsgID != "c1" || res[5].Message.ClientMsgID != nil {
		t.Fatalf("client ids: %+v / %+v", res[0].Message, res[5].Message)
	}
	// What the batch returned is what is stored.
	for _, i := range []int{0, 1, 5, 7} {
		got, err := st.Message(ctx, res[i].Message.ID)
		if err != nil || got.Seq != res[i].Message.Seq || got.RoomID != res[i].Message.RoomID || got.Body != res[i].Message.Body ||
			!got.CreatedAt.Equal(res[i].Message.CreatedAt) {
			t.Fatalf("stored message %d: %+v %v, returned %+v", i, got, err, res[i].Message)
		}
	}
	checkGapFree(t, st, []chat.Room{a, b}, 5)

	// A repeat whose first occurrence failed is stored, as it would have
	// been sent alone after the failure.
	res, err = st.CreateMessages(ctx, []chat.NewMessage{nm(998, 6, "lost", "x"), nm(b.ID, 6, "found", "x"), nm(a.ID, 6, "third", "y")}, nil)
	if err != nil || kindOf(res[0].Err) != apperr.KindNotFound || !res[1].Created || res[1].Message.Seq != 3 || !res[2].Created || res[2].Message.Seq != 4 {
		t.Fatalf("repeat of a failed message: %v %+v", err, res)
	}
	if res, err := st.CreateMessages(ctx, nil, nil); err != nil || len(res) != 0 {
		t.Fatalf("empty batch: %v %+v", err, res)
	}
	checkGapFree(t, st, []chat.Room{a, b}, 7)

	// check sees each message's room and its sender's membership, read in
	// the batch's transaction, and refuses messages alone; a repeat of a
	// refused message is judged on its own.
	priv := mustRoom(t, st, "private", chat.KindPrivate, 8)
	var seen []string
	check := func(room chat.Room, m *chat.Member) error {
		who := "-"
		if m != nil {
			who = fmt.Sprintf("%d %s", m.UserID, m.Role)
		}
		seen = append(seen, fmt.Sprint(room.Name, " ", who))
		if m == nil {
			return apperr.Forbidden("not_member", "join the room first")
		}
		return nil
	}
	res, err = st.CreateMessages(ctx, []chat.NewMessage{nm(priv.ID, 9, "outsider", "z"), nm(priv.ID, 8, "owner", "z"),
		nm(997, 8, "gone", ""), nm(priv.ID, 8, "owner again", "z")}, check)
	if err != nil || kindOf(res[0].Err) != apperr.KindForbidden || !res[1].Created || res[1].Message.Seq != 1 ||
		kindOf(res[2].Err) != apperr.KindNotFound || res[3].Created || res[3].Message.ID != res[1].Message.ID {
		t.Fatalf("checked batch: %v %+v", err, res)
	}
	if fmt.Sprint(seen) != "[private - private 8 owner]" { // once per room and sender
		t.Fatalf("check saw %q", seen)
	}
	checkGapFree(t, st, []chat.Room{a, b, priv}, 8)
}

// testBatchesGapFreeAcrossHandles: goroutines store batches mixing rooms,
// new messages and retries of earlier ones through several handles at
// once (replicas); every message is stored once and seqs are gap-free.
func testBatchesGapFreeAcrossHandles(t *testing.T, target sqldb.Target) {
	handles := []*sqlstore.Store{Open(t, target), Open(t, target), Open(t, target)}
	ctx := context.Background()
	rooms := []chat.Room{mustRoom(t, handles[0], "a", chat.KindPublic, 1), mustRoom(t, handles[0], "b", chat.KindPublic, 1),
		mustRoom(t, handles[0], "c", chat.KindPublic, 1)}
	const writers, batches, size = 6, 8, 10
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		byID = map[string]chat.Message{} // client id → stored message
	)
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := int64(100 + w%3) // writers share users, so client ids of one user come from several writers
			for n := range batches {
				var nms []chat.NewMessage
				for i := range size {
					cmid := fmt.Sprintf("w%d-%d-%d", w, n, i)
					if i%4 == 3 && n > 0 {
						cmid = fmt.Sprintf("w%d-%d-%d", w, n-1, i) // a retry of the previous batch
					}
					nms = append(nms, chat.NewMessage{RoomID: rooms[(w+i)%len(rooms)].ID, UserID: user, Username: "u",
						Body: cmid, ClientMsgID: cmid, At: time.Now()})
				}
				res, err := handles[(w+n)%len(handles)].CreateMessages(ctx, nms, nil)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for i, r := range res {
					cmid := nms[i].ClientMsgID
					prev, seen := byID[cmid]
					switch {
					case r.Err != nil:
						errs <- fmt.Errorf("%s: %v", cmid, r.Err)
					case r.Created == seen:
						errs <- fmt.Errorf("%s: created=%v, stored before: %v", cmid, r.Created, seen)
					case seen && (prev.ID != r.Message.ID || prev.Seq != r.Message.Seq):
						errs <- fmt.Errorf("%s: retry got %+v, stored %+v", cmid, r.Message, prev)
					}
					byID[cmid] = r.Message
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	checkGapFree(t, handles[2], rooms, len(byID))
}

// testRoomMember: the room with the user's membership, or nil.
func testRoomMember(t *testing.T, target sqldb.Target) {
	st := Open(t, target)
	ctx := context.Background()
	r := mustRoom(t, st, "room", chat.KindPrivate, 7)
	room, m, err := st.RoomMember(ctx, r.ID, 7)
	if err != nil || room.ID != r.ID || room.Kind != chat.KindPrivate || m == nil || m.UserID != 7 || m.RoomID != r.ID ||
		m.Role != chat.RoleOwner || m.Username != "owner" || !m.JoinedAt.Equal(t0) {
		t.Fatalf("owner: %+v %+v %v", room, m, err)
	}
	if room, m, err := st.RoomMember(ctx, r.ID, 8); err != nil || room.ID != r.ID || m != nil {
		t.Fatalf("not a member: %+v %+v %v", room, m, err)
	}
	if _, _, err := st.RoomMember(ctx, r.ID+100, 7); kindOf(err) != apperr.KindNotFound {
		t.Fatalf("missing room: %v", err)
	}
}

// testConcurrentBatchRetries sends each batch twice at once through two
// handles (a client retrying on another replica before the first answer):
// each message is created once, both calls return it, seqs stay gap-free.
func testConcurrentBatchRetries(t *testing.T, target sqldb.Target) {
	handles := []*sqlstore.Store{Open(t, target), Open(t, target)}
	rooms := []chat.Room{mustRoom(t, handles[0], "a", chat.KindPublic, 1), mustRoom(t, handles[0], "b", chat.KindPublic, 1)}
	ctx := context.Background()
	const rounds, size = 15, 5
	for n := range rounds {
		var nms []chat.NewMessage
		for i := range size {
			nms = append(nms, chat.NewMessage{RoomID: rooms[i%2].ID, UserID: int64(1 + i%2), Username: "u", Body: "x",
				ClientMsgID: fmt.Sprintf("r%d-%d", n, i), At: t0})
		}
		var (
			wg   sync.WaitGroup
			res  [2][]chat.CreateResult
			errs [2]error
		)
		for h := range handles {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[h], errs[h] = handles[h].CreateMessages(ctx, nms, nil)
			}()
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("round %d: %v / %v", n, errs[0], errs[1])
		}
		for i := range nms {
			a, b := res[0][i], res[1][i]
			if a.Err != nil || b.Err != nil || a.Created == b.Created || a.Message.ID != b.Message.ID || a.Message.Seq != b.Message.Seq {
				t.Fatalf("round %d message %d: %+v / %+v", n, i, a, b)
			}
		}
	}
	checkGapFree(t, handles[1], rooms, rounds*size)
}
