// Package storetest is the behaviour every chat-service store must have. It
// runs against each SQL dialect on a real database (see dialects_test.go),
// so SQLite and PostgreSQL are held to the same tests, including gap-free
// seqs with several handles and several processes writing at once.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/chat-service/internal/store"
	"github.com/parleychat/parley/chat-service/internal/store/sqlstore"
	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/sqldb"
	"github.com/parleychat/parley/platform/sqldb/sqldbtest"
)

// Run runs the suite; fresh makes a new, empty database of one dialect for
// each subtest.
func Run(t *testing.T, fresh sqldbtest.Fresh) {
	tests := []struct {
		name string
		fn   func(t *testing.T, target sqldb.Target)
	}{
		{"MigrationCreatesGeneral", testMigrationCreatesGeneral},
		{"MigrateTwiceIsSafe", testMigrateTwiceIsSafe},
		{"CreateMessageIdempotent", testCreateMessageIdempotent},
		{"SeqGapFreeAcrossHandles", testSeqGapFreeAcrossHandles},
		{"SeqGapFreeAcrossProcesses", testSeqGapFreeAcrossProcesses},
		{"ConcurrentRetries", testConcurrentRetries},
		{"CreateMessagesBatch", testCreateMessagesBatch},
		{"BatchesGapFreeAcrossHandles", testBatchesGapFreeAcrossHandles},
		{"ConcurrentBatchRetries", testConcurrentBatchRetries},
		{"BatchSeqGapFreeAcrossProcesses", testBatchSeqGapFreeAcrossProcesses},
		{"RoomMember", testRoomMember},
		{"ConcurrentFirstSight", testConcurrentFirstSight},
		{"MessagesPaging", testMessagesPaging},
		{"EditDeleteReactSearch", testEditDeleteReactSearch},
		{"SearchWords", testSearchWords},
		{"RoomViewsUnreadAndDM", testRoomViewsUnreadAndDM},
		{"MembersAndOwnerPromotion", testMembersAndOwnerPromotion},
		{"OwnersLeavingAtOnce", testOwnersLeavingAtOnce},
		{"Stats", testStats},
		{"PublicNamesUniqueAfterFolding", testPublicNamesUniqueAfterFolding},
		{"Migration0002RefoldsLegacyNames", testMigration0002RefoldsLegacyNames},
		{"AdminRooms", testAdminRooms},
		{"DailyActivity", testDailyActivity},
		{"MessagesPerDay", testMessagesPerDay},
		{"Threads", testThreads},
		{"GroupDMs", testGroupDMs},
		{"Mentions", testMentions},
		{"ConcurrentReplies", testConcurrentReplies},
		{"Migration0004Upgrades", testMigration0004Upgrades},
		{"Files", testFiles},
		{"Pins", testPins},
		{"ConcurrentPins", testConcurrentPins},
		{"Migration0006Upgrades", testMigration0006Upgrades},
		{"Webhooks", testWebhooks},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, fresh(t)) })
	}
}

// Open opens (and migrates) a new handle, with its own pool, on target.
func Open(t testing.TB, target sqldb.Target) *sqlstore.Store {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 6_000_000, time.UTC)

func mustRoom(t *testing.T, st *sqlstore.Store, name, kind string, owner int64) chat.Room {
	t.Helper()
	r, err := st.CreateRoom(context.Background(), chat.NewRoom{Name: name, Kind: kind, CreatedBy: owner, CreatorName: "owner", At: t0})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func kindOf(err error) apperr.Kind {
	var e *apperr.Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return apperr.KindInternal
}

func testMigrationCreatesGeneral(t *testing.T, target sqldb.Target) {
	st := Open(t, target)
	ctx := context.Background()
	r, err := st.Room(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != "General" || r.Kind != chat.KindPublic || !r.IsDefault {
		t.Fatalf("room 1 = %+v", r)
	}
	joined, err := st.TouchUser(ctx, chat.UserRef{UserID: 7, Username: "alice"}, t0)
	if err != nil || joined == nil || joined.RoomID != 1 {
		t.Fatalf("first touch: %v %+v", err, joined)
	}
	joined, err = st.TouchUser(ctx, chat.UserRef{UserID: 7, Username: "alice2"}, t0)
	if err != nil || joined != nil {
		t.Fatalf("second touch: %v %+v", err, joined)
	}
	if name, _ := st.Username(ctx, 7); name != "alice2" {
		t.Fatalf("username = %q", name)
	}
	m, ok, err := st.Member(ctx, 1, 7)
	if err != nil || !ok || m.Username != "alice2" {
		t.Fatalf("member = %+v %v %v", m, ok, err)
	}
}

func testMigrateTwiceIsSafe(t *testing.T, target sqldb.Target) {
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); Open(t, target) }()
	}
	wg.Wait()
	st := Open(t, target)
	views, err := st.RoomViews(context.Background(), 1, 0, 50)
	if err != nil || len(views) != 1 {
		t.Fatalf("rooms after concurrent migrations: %v %+v", err, views)
	}
}

func testCreateMessageIdempotent(t *testing.T, target sqldb.Target) {
	st := Open(t, target)
	ctx := context.Background()
	r := mustRoom(t, st, "room", chat.KindPublic, 1)
	m1, created, err := st.CreateMessage(ctx, chat.NewMessage{RoomID: r.ID, UserID: 1, Username: "a", Body: "hi", ClientMsgID: "c1", At: t0})
	if err != nil || !created || m1.Seq != 1 || *m1.ClientMsgID != "c1" {
		t.Fatalf("first: %v %v %+v", err, created, m1)
	}
	m2, created, err := st.CreateMessage(ctx, chat.NewMessage{RoomID: r.ID, UserID: 1, Username: "a", Body: "hi again", ClientMsgID: "c1", At: t0})
	if err != nil || created || m2.ID != m1.ID || m2.Seq != 1 || m2.Body != "hi" {
		t.Fatalf("retry: %v %v %+v", err, created, m2)
	}
	// Another user may use the same client id; no id means no idempotency.
	m3, created, err := st.CreateMessage(ctx, chat.NewMessage{RoomID: r.ID, UserID: 2, Username: "b", Body: "x", ClientMsgID: "c1", At: t0})
	if err != nil || !created || m3.Seq != 2 {
		t.Fatalf("other user: %v %v %+v", err, created, m3)
	}
	for i := range 2 {
		m, created, err := st.CreateMessage(ctx, chat.NewMessage{RoomID: r.ID, UserID: 1, Username: "a", Body: "y", At: t0})
		if err != nil || !created || m.Seq != int64(3+i) || m.ClientMsgID != nil {
			t.Fatalf("no client id: %v %v %+v", err, created, m)
		}
	}
	if _, _, err := st.CreateMessage(ctx, chat.NewMessage{RoomID: 999, UserID: 1, Username: "a", Body: "y", At: t0}); kindOf(err) != apperr.KindNotFound {
		t.Fatalf("missing room: %v", err)
	}
	room, _ := st.Room(ctx, r.ID)
	if room.LastSeq != 4 {
		t.Fatalf("last_seq = %d", room.LastSeq)
	}
}

// testSeqGapFreeAcrossHandles sends from many goroutines through several
// *sql.DB handles on one database (as several replicas would) and checks
// that each room's seqs are exactly 1..n.
func testSeqGapFreeAcrossHandles(t *testing.T, target sqldb.Target) {
	handles := []*sqlstore.Store{Open(t, target), Open(t, target), Open(t, target)}
	ctx := context.Background()
	rooms := []chat.Room{mustRoom(t, handles[0], "a", chat.KindPublic, 1), mustRoom(t, handles[0], "b", chat.KindPublic, 1)}
	const senders, perSender = 12, 25
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := handles[g%len(handles)]
			for i := range perSender {
				room := rooms[(g+i)%len(rooms)]
				cmid := fmt.Sprintf("g%d-%d", g, i)
				m, _, err := st.CreateMessage(ctx, chat.NewMessage{RoomID: room.ID, UserID: int64(g + 1), Username: "u", Body: "x", ClientMsgID: cmid, At: t0})
				if err != nil {
					errs <- err
					return
				}
				// Retrying through another handle must return the same message.
				again, created, err := handles[(g+1)%len(handles)].CreateMessage(ctx, chat.NewMessage{RoomID: room.ID, UserID: int64(g + 1), Username: "u", Body: "x", ClientMsgID: cmid, At: t0})
				if err != nil || created || again.ID != m.ID || again.Seq != m.Seq {
					errs <- fmt.Errorf("retry of %s: created=%v %+v vs %+v (%v)", cmid, created, again, m, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	checkGapFree(t, handles[2], rooms, senders*perSender)
}

// checkGapFree reads every room's history in pages and checks that the
// seqs are exactly 1..n, that last_seq is n, and that want messages exist
// in all.
func checkGapFree(t *testing.T, st *sqlstore.Store, rooms []chat.Room, want int) {
	t.Helper()
	ctx := context.Background()
	total := 0
	for _, r := range rooms {
		var all []chat.Message
		after := int64(0)
		for {
			page, _, err := st.Messages(ctx, chat.MessageFilter{RoomID: r.ID, AfterSeq: &after, Limit: 200})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			all = append(all, page...)
			after = page[len(page)-1].Seq
		}
		for i, m := range all {
			if m.Seq != int64(i+1) {
				t.Fatalf("room %d: message %d has seq %d", r.ID, i, m.Seq)
			}
		}
		room, _ := st.Room(ctx, r.ID)
		if room.LastSeq != int64(len(all)) {
			t.Fatalf("room %d last_seq %d, %d messages", r.ID, room.LastSeq, len(all))
		}
		total += len(all)
	}
	if total != want {
		t.Fatalf("stored %d messages, want %d", total, want)
	}
}

func testMessagesPaging(t *testing.T, target sqldb.Target) {
	st := Open(t, target)
	ctx := context.Background()
	r := mustRoom(t, st, "room", chat.KindPublic, 1)
	for i := range 7 {
		if _, _, err := st.CreateMessage(ctx, chat.NewMessage{RoomID: r.ID, UserID: 1, Username: "a", Body: fmt.Sprint("m", i+1), At: t0}); err != nil {
			t.Fatal(err)
		}
	}
	seqs := func(ms []chat.Message) []int64 {
		var out []int64
		for _, m := range ms {
			out = append(out, m.Seq)
		}
		return out
	}
	seq := func(v int64) *int64 { return &v }
	cases := []struct {
		name      string
		f         chat.MessageFilter
		want      string
		wantOlder bool
	}{
		{"newest", chat.MessageFilter{Limit: 3}, "[5 6 7]", true},
		{"before", chat.MessageFilter{BeforeSeq: 5, Limit: 3}, "[2 3 4]", true},
		{"before start", chat.MessageFilter{BeforeSeq: 3, Limit: 3}, "[1 2]", false},
		{"after", chat.MessageFilter{AfterSeq: seq(2), Limit: 3}, "[3 4 5]", true},
		{"after zero is from the start", chat.MessageFilter{AfterSeq: seq(0), Limit: 3}, "[1 2 3]", false},
		{"after end", chat.MessageFilter{AfterSeq: seq(7), Limit: 3}, "[]", false},
		{"range", chat.MessageFilter{AfterSeq: seq(1), BeforeSeq: 4, Limit: 10}, "[2 3]", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.f.RoomID = r.ID
			ms, older, err := st.Messages(ctx, c.f)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(seqs(ms)); got != c.want || older != c.wantOlder {
				t.Fatalf("got %s older=%v, want %s older=%v", got, older, c.want, c.wantOlder)
			}
		})
	}
}

func testEditDeleteReactSearch(t *testing.T, target sqldb.Target) {
	st := Open(t, target)
	ctx := context.Background()
	pub := mustRoom(t, st, "pub", chat.KindPublic, 1)
	priv := mustRoom(t, st, "priv", chat.KindPrivate, 1)
	m, _, _ := st.CreateMessage(ctx, chat.NewMessage{RoomID: pub.ID, UserID: 1, Username: "a", Body: "the quick brown fox", At: t0})
	secret, _, _ := st.CreateMessage(ctx, chat.NewMessage{RoomID: priv.ID, UserID: 1, Username: "a", Body: "quick secret plans", At: t0})

	for _, u := range []int64{2, 3} {
		if ok, err := st.AddReaction(ctx, m.ID, u, "👍", t0); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	if ok, _ := st.AddReaction(ctx, m.ID, 2, "👍", t0); ok {
		t.Fatal("duplicate reaction reported a change")
	}
	st.AddReaction(ctx, m.ID, 2, ":tada:", t0)
	got, _ := st.Message(ctx, m.ID)
	if len(got.Reactions) != 2 || got.Reactions[0].Emoji != "👍" || got.Reactions[0].Count != 2 || fmt.Sprint(got.Reactions[0].UserIDs) != "[2 3]" {
		t.Fatalf("reactions = %+v", got.Reactions)
	}
	if ok, _ := st.RemoveReaction(ctx, m.ID, 3, "👍"); !ok {
		t.Fatal("remove reported no change")
	}

	hits, err := st.Search(ctx, chat.SearchFilter{UserID: 2, Words: []string{"quick"}, Limit: 10})
	if err != nil || len(hits) != 1 || hits[0].ID != m.ID || hits[0].RoomName != "pub" {
		t.Fatalf("search as non-member: %v %+v", err, hits)
	}
	hits, _ = st.Search(ctx, chat.SearchFilter{UserID: 1, Words: []string{"quick"}, Limit: 10})
	if len(hits) != 2 || hits[0].ID != secret.ID {
		t.Fatalf("search as owner: %+v", hits)
	}

	edited, err := st.EditMessage(ctx, m.ID, "a lazy dog", t0.Add(time.Minute))
	if err != nil || edited.Body != "a lazy dog" || edited.EditedAt == nil || edited.Seq != m.Seq {
		t.Fatalf("edit: %v %+v", err, edited)
	}
	if hits, _ := st.Search(ctx, chat.SearchFilter{UserID: 2, Words: []string{"fox"}, Limit: 10}); len(hits) != 0 {
		t.Fatalf("old text still found: %+v", hits)
	}
	if hits, _ := st.Search(ctx, chat.SearchFilter{UserID: 2, Words: []string{"lazy"}, Limit: 10}); len(hits) != 1 {
		t.Fatalf("new text not found: %+v", hits)
	}
	del, err := st.DeleteMessage(ctx, m.ID)
	if err != nil || !del.Deleted || del.Body != "" || len(del.Reactions) != 0 {
		t.Fatalf("delete: %v %+v", err, del)
	}
	if hits, _ := st.Search(ctx, chat.SearchFilter{UserID: 2, Words: []string{"lazy"}, Limit: 10}); len(hits) != 0 {
		t.Fatalf("deleted text still found: %+v", hits)
	}
	room, _ := st.Room(ctx, pub.ID)
	if room.LastSeq != 1 {
		t.Fatalf("edit/delete/react moved last_seq to %d", room.LastSeq)
	}
	dm, _, _ := st.OpenDM(ctx, chat.UserRef{UserID: 1, Username: "a"}, chat.UserRef{UserID: 2, Username: "bee"}, t0)
	st.CreateMessage(ctx, chat.NewMessage{RoomID: dm.ID, UserID: 2, Username: "bee", Body: "direct words", At: t0})
	if hits, _ := st.Search(ctx, chat.SearchFilter{UserID: 1, Words: []string{"direct"}, Limit: 10}); len(hits) != 1 || hits[0].RoomName != "bee" {
		t.Fatalf("dm search hit = %+v", hits)
	}
}

func testRoomViewsUnreadAndDM(t *testing.T, target sqldb.Target) {
	st := Open(t, target)
	ctx := context.Background()
	r := mustRoom(t, st, "room", chat.KindPublic, 1)
	priv := mustRoom(t, st, "hidden", chat.KindPrivate, 1)
	if _, created, err := st.AddMember(ctx, chat.Member{RoomID: r.ID, UserID: 2, Username: "b", Role: chat.RoleMember, JoinedAt: t0}); err != nil || !created {
		t.Fatal(err)
	}
	for i := range 3 {
		st.CreateMessage(ctx, chat.NewMessage{RoomID: r.ID, UserID: 1, Username: "a", Body: fmt.Sprint("x", i), At: t0})
	}
	own, _, _ := st.CreateMessage(ctx, chat.NewMessage{RoomID: r.ID, UserID: 2, Username: "b", Body: "mine", At: t0})
	gone, _, _ := st.CreateMessage(ctx, chat.NewMessage{RoomID: r.ID, UserID: 1, Username: "a", Body: "gone", At: t0})
	st.DeleteMessage(ctx, gone.ID)

	v, err := st.RoomView(ctx, r.ID, 2)
	if err != nil || !v.IsMember || v.Unread != 3 || v.MemberCount != 2 || v.LastMessage == nil || v.LastMessage.ID != own.ID {
		t.Fatalf("view: %v %+v", err, v)
	}
	st2, err := st.MarkRead(ctx, r.ID, 2, 2)
	if err != nil || st2.LastReadSeq != 2 || st2.Unread != 1 {
		t.Fatalf("mark read: %v %+v", err, st2)
	}
	if st3, _ := st.MarkRead(ctx, r.ID, 2, 1); st3.LastReadSeq != 2 {
		t.Fatalf("marker moved backwards: %+v", st3)
	}
	if st4, _ := st.MarkRead(ctx, r.ID, 2, 1000); st4.LastReadSeq != 5 || st4.Unread != 0 {
		t.Fatalf("marker not clamped: %+v", st4)
	}

	dm, created, err := st.OpenDM(ctx, chat.UserRef{UserID: 2, Username: "b"}, chat.UserRef{UserID: 3, Username: "c"}, t0)
	if err != nil || !created {
		t.Fatal(err)
	}
	again, created, _ := st.OpenDM(ctx, chat.UserRef{UserID: 3, Username: "c"}, chat.UserRef{UserID: 2, Username: "b"}, t0)
	if created || again.ID != dm.ID {
		t.Fatalf("second OpenDM made a new room")
	}
	views, err := st.RoomViews(ctx, 2, 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range views {
		names = append(names, v.Name)
		if v.ID == priv.ID {
			t.Fatal("private room listed for non-member")
		}
		if v.Kind == chat.KindDM && (v.DMUser == nil || v.DMUser.UserID != 3 || v.Name != "c") {
			t.Fatalf("dm view: %+v", v)
		}
	}
	if fmt.Sprint(names) != "[General room c]" {
		t.Fatalf("rooms = %v", names)
	}
	if views, _ := st.RoomViews(ctx, 1, 0, 50); len(views) != 3 {
		t.Fatalf("owner sees %d rooms", len(views))
	}
}

func testMembersAndOwnerPromotion(t *testing.T, target sqldb.Target) {
	st := Open(t, target)
	ctx := context.Background()
	r := mustRoom(t, st, "room", chat.KindPrivate, 1)
	for _, u := range []int64{3, 2} {
		st.AddMember(ctx, chat.Member{RoomID: r.ID, UserID: u, Role: chat.RoleMember, JoinedAt: t0.Add(time.Duration(u) * time.Second)})
	}
	if _, created, _ := st.AddMember(ctx, chat.Member{RoomID: r.ID, UserID: 2, Role: chat.RoleMember, JoinedAt: t0}); created {
		t.Fatal("re-adding a member created it")
	}
	removed, promoted, err := st.RemoveMember(ctx, r.ID, 1)
	if err != nil || !removed || promoted == nil || promoted.UserID != 2 || promoted.Role != chat.RoleOwner {
		t.Fatalf("remove owner: %v %v %+v", err, removed, promoted)
	}
	if removed, _, _ := st.RemoveMember(ctx, r.ID, 1); removed {
		t.Fatal("removed twice")
	}
	ms, _ := st.Members(ctx, r.ID, 0, 1)
	if len(ms) != 1 || ms[0].UserID != 2 {
		t.Fatalf("members page = %+v", ms)
	}
	if _, err := st.CreateRoom(ctx, chat.NewRoom{Name: "GENERAL", Kind: chat.KindPublic, CreatedBy: 1, At: t0}); kindOf(err) != apperr.KindConflict {
		t.Fatalf("duplicate public name: %v", err)
	}
	if _, err := st.CreateRoom(ctx, chat.NewRoom{Name: "General", Kind: chat.KindPrivate, CreatedBy: 1, At: t0}); err != nil {
		t.Fatalf("private room with a public name: %v", err)
	}
	if err := st.DeleteRoom(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Room(ctx, r.ID); kindOf(err) != apperr.KindNotFound {
		t.Fatalf("deleted room: %v", err)
	}
}

func testStats(t *testing.T, target sqldb.Target) {
	st := Open(t, target)
	ctx := context.Background()
	mustRoom(t, st, "mine", chat.KindPublic, 5)
	st.OpenDM(ctx, chat.UserRef{UserID: 5}, chat.UserRef{UserID: 6}, t0)
	st.CreateMessage(ctx, chat.NewMessage{RoomID: 1, UserID: 5, Username: "e", Body: "x", At: t0})
	s, err := st.Stats(ctx, 5)
	if err != nil || s.MessagesSent != 1 || s.RoomsCreated != 1 || s.RoomsJoined != 1 || s.LastActiveAt == nil || !s.LastActiveAt.Equal(t0.Truncate(time.Millisecond)) {
		t.Fatalf("stats: %v %+v", err, s)
	}
	s, _ = st.Stats(ctx, 99)
	if s.MessagesSent != 0 || s.LastActiveAt != nil {
		t.Fatalf("unknown user stats: %+v", s)
	}
}
