package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/chat-service/internal/store"
	"github.com/parleychat/parley/chat-service/internal/store/sqlstore"
	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/sqldb"
)

func mustNotFound(t *testing.T, what string, err error) {
	t.Helper()
	var e *apperr.Error
	if !errors.As(err, &e) || e.Kind != apperr.KindNotFound || e.Code != "message_not_found" {
		t.Fatalf("%s: err = %v, want 404 message_not_found", what, err)
	}
}

func pinnedIDs(t *testing.T, st *sqlstore.Store, roomID int64) []int64 {
	t.Helper()
	msgs, err := st.Pins(context.Background(), roomID)
	if err != nil {
		t.Fatal(err)
	}
	ids := []int64{}
	for _, m := range msgs {
		if !m.Pinned || m.PinnedAt == nil || m.PinnedBy == nil {
			t.Fatalf("listed pin without its pin fields: %+v", m)
		}
		ids = append(ids, m.ID)
	}
	return ids
}

// testPins: a pin is stored on the message (who, when) and read back with
// it everywhere; pinning twice changes nothing; only live messages of the
// room can be pinned; the list is newest pin first; deleting unpins; a
// room holds at most MaxPinsPerRoom pins.
func testPins(t *testing.T, target sqldb.Target) {
	st := Open(t, target)
	ctx := context.Background()
	room := mustRoom(t, st, "pins", chat.KindPublic, 1)
	other := mustRoom(t, st, "other", chat.KindPublic, 1)
	a := send(t, st, chat.NewMessage{RoomID: room.ID, UserID: 1, Username: "ann", Body: "first"})
	b := send(t, st, chat.NewMessage{RoomID: room.ID, UserID: 2, Username: "bob", Body: "second"})
	reply := send(t, st, chat.NewMessage{RoomID: room.ID, UserID: 2, Username: "bob", Body: "a reply", ThreadRootID: a.ID})
	elsewhere := send(t, st, chat.NewMessage{RoomID: other.ID, UserID: 1, Username: "ann", Body: "elsewhere"})
	if a.Pinned || a.PinnedBy != nil || a.PinnedAt != nil {
		t.Fatalf("new message = %+v", a)
	}

	ann := chat.UserRef{UserID: 1, Username: "ann"}
	got, changed, err := st.PinMessage(ctx, room.ID, a.ID, ann, t0.Add(time.Second))
	if err != nil || !changed || !got.Pinned || got.PinnedBy == nil || *got.PinnedBy != ann || !got.PinnedAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("pin = %+v changed=%v err=%v", got, changed, err)
	}
	// Pinning again keeps the first pin's author and time.
	got, changed, err = st.PinMessage(ctx, room.ID, a.ID, chat.UserRef{UserID: 2, Username: "bob"}, t0.Add(time.Hour))
	if err != nil || changed || got.PinnedBy.UserID != 1 || !got.PinnedAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("pin again = %+v changed=%v err=%v", got, changed, err)
	}
	if _, _, err := st.PinMessage(ctx, room.ID, reply.ID, ann, t0.Add(2*time.Second)); err != nil {
		t.Fatalf("pin a reply: %v", err)
	}
	if _, _, err := st.PinMessage(ctx, room.ID, b.ID, ann, t0.Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	if ids := pinnedIDs(t, st, room.ID); !slices.Equal(ids, []int64{b.ID, reply.ID, a.ID}) {
		t.Fatalf("pins = %v, want newest pin first %v", ids, []int64{b.ID, reply.ID, a.ID})
	}
	if ids := pinnedIDs(t, st, other.ID); len(ids) != 0 {
		t.Fatalf("other room's pins = %v", ids)
	}
	// Every read of a message carries the pin.
	if m, err := st.Message(ctx, a.ID); err != nil || !m.Pinned || m.PinnedBy.Username != "ann" {
		t.Fatalf("Message = %+v %v", m, err)
	}
	page, _, err := st.Messages(ctx, chat.MessageFilter{RoomID: room.ID, Limit: 10})
	if err != nil || len(page) != 3 || !page[0].Pinned || !page[1].Pinned || !page[2].Pinned {
		t.Fatalf("history = %+v %v", page, err)
	}
	if replies, err := st.Thread(ctx, a.ID, 0, 10); err != nil || len(replies) != 1 || !replies[0].Pinned {
		t.Fatalf("thread = %+v %v", replies, err)
	}

	// Only live messages of the room.
	for name, id := range map[string]int64{"another room's message": elsewhere.ID, "an unknown id": 1 << 40} {
		_, _, err := st.PinMessage(ctx, room.ID, id, ann, t0)
		mustNotFound(t, "pin "+name, err)
		_, _, err = st.UnpinMessage(ctx, room.ID, id)
		mustNotFound(t, "unpin "+name, err)
	}
	if m, _ := st.Message(ctx, elsewhere.ID); m.Pinned {
		t.Fatalf("another room's message was pinned: %+v", m)
	}

	// Unpin, twice.
	got, changed, err = st.UnpinMessage(ctx, room.ID, reply.ID)
	if err != nil || !changed || got.Pinned || got.PinnedBy != nil || got.PinnedAt != nil {
		t.Fatalf("unpin = %+v changed=%v err=%v", got, changed, err)
	}
	if got, changed, err = st.UnpinMessage(ctx, room.ID, reply.ID); err != nil || changed || got.Pinned {
		t.Fatalf("unpin again = %+v changed=%v err=%v", got, changed, err)
	}

	// Deleting unpins, and a tombstone cannot be pinned or unpinned.
	del, err := st.DeleteMessage(ctx, b.ID)
	if err != nil || del.Pinned || del.PinnedBy != nil || del.PinnedAt != nil {
		t.Fatalf("delete = %+v %v", del, err)
	}
	if ids := pinnedIDs(t, st, room.ID); !slices.Equal(ids, []int64{a.ID}) {
		t.Fatalf("pins after the delete = %v", ids)
	}
	_, _, err = st.PinMessage(ctx, room.ID, b.ID, ann, t0)
	mustNotFound(t, "pin a tombstone", err)
	_, _, err = st.UnpinMessage(ctx, room.ID, b.ID)
	mustNotFound(t, "unpin a tombstone", err)

	// The cap: a's pin and 49 more fill the room; the next is refused and
	// changes nothing; re-pinning a pinned one is still fine; unpinning
	// one makes room.
	var last chat.Message
	for i := range chat.MaxPinsPerRoom - 1 {
		last = send(t, st, chat.NewMessage{RoomID: room.ID, UserID: 1, Username: "ann", Body: "fill"})
		if _, _, err := st.PinMessage(ctx, room.ID, last.ID, ann, t0.Add(time.Duration(10+i)*time.Second)); err != nil {
			t.Fatalf("pin %d: %v", i+2, err)
		}
	}
	extra := send(t, st, chat.NewMessage{RoomID: room.ID, UserID: 1, Username: "ann", Body: "one too many"})
	if _, _, err := st.PinMessage(ctx, room.ID, extra.ID, ann, t0.Add(time.Hour)); !errors.Is(err, chat.ErrTooManyPins) {
		t.Fatalf("pin 51: %v, want too_many_pins", err)
	}
	if m, _ := st.Message(ctx, extra.ID); m.Pinned {
		t.Fatal("the refused pin was stored")
	}
	if _, _, err := st.PinMessage(ctx, room.ID, a.ID, ann, t0.Add(time.Hour)); err != nil {
		t.Fatalf("re-pin at the cap: %v", err)
	}
	if n := len(pinnedIDs(t, st, room.ID)); n != chat.MaxPinsPerRoom {
		t.Fatalf("%d pins, want %d", n, chat.MaxPinsPerRoom)
	}
	if _, _, err := st.UnpinMessage(ctx, room.ID, last.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.PinMessage(ctx, room.ID, extra.ID, ann, t0.Add(time.Hour)); err != nil {
		t.Fatalf("pin after an unpin: %v", err)
	}
	// Another room's cap is its own.
	if _, _, err := st.PinMessage(ctx, other.ID, elsewhere.ID, ann, t0); err != nil {
		t.Fatal(err)
	}
}

// testConcurrentPins: pins racing for a room's last free places, through
// separate handles, never take it past MaxPinsPerRoom.
func testConcurrentPins(t *testing.T, target sqldb.Target) {
	handles := []*sqlstore.Store{Open(t, target), Open(t, target), Open(t, target)}
	st := handles[0]
	ctx := context.Background()
	room := mustRoom(t, st, "race", chat.KindPublic, 1)
	ann := chat.UserRef{UserID: 1, Username: "ann"}
	const free, racers = 2, 6
	for range chat.MaxPinsPerRoom - free {
		m := send(t, st, chat.NewMessage{RoomID: room.ID, UserID: 1, Username: "ann", Body: "fill"})
		if _, _, err := st.PinMessage(ctx, room.ID, m.ID, ann, t0); err != nil {
			t.Fatal(err)
		}
	}
	ids := make([]int64, racers)
	for i := range ids {
		ids[i] = send(t, st, chat.NewMessage{RoomID: room.ID, UserID: 1, Username: "ann", Body: "racer"}).ID
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		pinned  int
		refused int
	)
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := handles[i%len(handles)].PinMessage(ctx, room.ID, id, ann, t0.Add(time.Minute))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				pinned++
			case errors.Is(err, chat.ErrTooManyPins):
				refused++
			default:
				t.Errorf("pin %d: %v", id, err)
			}
		}()
	}
	wg.Wait()
	if pinned != free || refused != racers-free {
		t.Fatalf("%d pinned and %d refused, want %d and %d", pinned, refused, free, racers-free)
	}
	if n := len(pinnedIDs(t, st, room.ID)); n != chat.MaxPinsPerRoom {
		t.Fatalf("%d pins, want %d", n, chat.MaxPinsPerRoom)
	}
}

// testMigration0006Upgrades: messages stored before pins come out
// unpinned and can be pinned.
func testMigration0006Upgrades(t *testing.T, target sqldb.Target) {
	ctx := context.Background()
	db := openAtMigration(t, target, 4)
	if _, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO messages (room_id, seq, user_id, username, body, created_at)
		VALUES (1, 1, 5, 'old', 'from before pins', '2025-01-01T00:00:00.000Z')`)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE rooms SET last_seq = 1 WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	msgs, _, err := st.Messages(ctx, chat.MessageFilter{RoomID: 1, Limit: 10})
	if err != nil || len(msgs) != 1 || msgs[0].Pinned || msgs[0].PinnedBy != nil || msgs[0].PinnedAt != nil {
		t.Fatalf("old message after the upgrade = %+v %v", msgs, err)
	}
	if m, _, err := st.PinMessage(ctx, 1, msgs[0].ID, chat.UserRef{UserID: 6, Username: "new"}, t0); err != nil || !m.Pinned {
		t.Fatalf("pin the old message: %+v %v", m, err)
	}
}
