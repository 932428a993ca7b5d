package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/chat-service/internal/store"
	"github.com/parleychat/parley/chat-service/internal/store/sqlstore"
	"github.com/parleychat/parley/platform/sqldb"
)

func send(t *testing.T, st *sqlstore.Store, nm chat.NewMessage) chat.Message {
	t.Helper()
	if nm.At.IsZero() {
		nm.At = t0
	}
	m, created, err := st.CreateMessage(context.Background(), nm)
	if err != nil || !created {
		t.Fatalf("send %+v: %v created=%v", nm, err, created)
	}
	return m
}

// testThreads: replies take the room's next seq, count on their root and
// make their authors follow; a reply to anything but a top-level, not
// deleted message of the room is refused whole, by the one-message and the
// batch path alike.
func testThreads(t *testing.T, target sqldb.Target) {
	st := Open(t, target)
	ctx := context.Background()
	room := mustRoom(t, st, "room", chat.KindPublic, 1)
	other := mustRoom(t, st, "other", chat.KindPublic, 1)
	root := send(t, st, chat.NewMessage{RoomID: room.ID, UserID: 1, Username: "a", Body: "root"})
	if root.ThreadRootID != nil || root.ReplyCount != 0 || root.LastReplyAt != nil {
		t.Fatalf("root = %+v", root)
	}
	r1 := send(t, st, chat.NewMessage{RoomID: room.ID, UserID: 2, Username: "b", Body: "r1", ThreadRootID: root.ID, At: t0.Add(time.Second)})
	if r1.Seq != 2 || r1.ThreadRootID == nil || *r1.ThreadRootID != root.ID {
		t.Fatalf("reply = %+v", r1)
	}
	// A batch: a plain message, two replies (one by the root's author), a
	// retry of r2 and bad replies, each failing alone.
	deleted := send(t, st, chat.NewMessage{RoomID: room.ID, UserID: 1, Username: "a", Body: "doomed"})
	if _, err := st.DeleteMessage(ctx, deleted.ID); err != nil {
		t.Fatal(err)
	}
	elsewhere := send(t, st, chat.NewMessage{RoomID: other.ID, UserID: 1, Username: "a", Body: "elsewhere"})
	at := t0.Add(2 * time.Second)
	res, err := st.CreateMessages(ctx, []chat.NewMessage{
		{RoomID: room.ID, UserID: 3, Username: "c", Body: "plain", At: at},
		{RoomID: room.ID, UserID: 3, Username: "c", Body: "r2", ClientMsgID: "r2", ThreadRootID: root.ID, At: at},
		{RoomID: room.ID, UserID: 3, Username: "c", Body: "to a reply", ThreadRootID: r1.ID, At: at},
		{RoomID: room.ID, UserID: 3, Username: "c", Body: "to a tombstone", ThreadRootID: deleted.ID, At: at},
		{RoomID: room.ID, UserID: 3, Username: "c", Body: "to another room", ThreadRootID: elsewhere.ID, At: at},
		{RoomID: room.ID, UserID: 3, Username: "c", Body: "to nothing", ThreadRootID: 1 << 40, At: at},
		{RoomID: room.ID, UserID: 1, Username: "a", Body: "r3", ThreadRootID: root.ID, At: at.Add(time.Millisecond)},
		{RoomID: room.ID, UserID: 3, Username: "c", Body: "r2", ClientMsgID: "r2", ThreadRootID: root.ID, At: at},
	}, func(chat.Room, *chat.Member) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= 5; i++ {
		if !errors.Is(res[i].Err, chat.ErrInvalidThread) {
			t.Fatalf("bad reply %d: %+v", i, res[i])
		}
	}
	if res[0].Message.Seq != 4 || res[1].Message.Seq != 5 || res[6].Message.Seq != 6 || res[0].Root != nil {
		t.Fatalf("batch seqs: %+v %+v %+v", res[0], res[1], res[6])
	}
	if res[7].Created || res[7].Message.ID != res[1].Message.ID {
		t.Fatalf("retry in the batch = %+v", res[7])
	}
	if r := res[6].Root; r == nil || r.ID != root.ID || r.ReplyCount != 3 || !r.LastReplyAt.Equal(at.Add(time.Millisecond)) {
		t.Fatalf("root after the batch = %+v", r)
	}
	// Nothing of the bad replies was written: the room's seqs end at 6.
	if r, _ := st.Room(ctx, room.ID); r.LastSeq != 6 {
		t.Fatalf("last seq = %d", r.LastSeq)
	}
	// The one-message path refuses the same way, storing nothing.
	for _, bad := range []int64{r1.ID, deleted.ID, elsewhere.ID, 1 << 40} {
		_, _, err := st.CreateMessage(ctx, chat.NewMessage{RoomID: room.ID, UserID: 2, Username: "b", Body: "x", ThreadRootID: bad, At: t0})
		if !errors.Is(err, chat.ErrInvalidThread) {
			t.Fatalf("reply to %d: %v", bad, err)
		}
	}
	if r, _ := st.Room(ctx, room.ID); r.LastSeq != 6 {
		t.Fatalf("last seq after refused replies = %d", r.LastSeq)
	}

	got, err := st.Message(ctx, root.ID)
	if err != nil || got.ReplyCount != 3 || got.LastReplyAt == nil {
		t.Fatalf("root = %+v %v", got, err)
	}
	page, err := st.Thread(ctx, root.ID, 0, 2)
	if err != nil || len(page) != 2 || page[0].ID != r1.ID || page[1].Body != "r2" {
		t.Fatalf("thread page = %+v %v", page, err)
	}
	page, err = st.Thread(ctx, root.ID, page[1].Seq, 50)
	if err != nil || len(page) != 1 || page[0].Body != "r3" {
		t.Fatalf("thread page 2 = %+v %v", page, err)
	}
	// History keeps every message; top-level only leaves the replies out.
	all, _, err := st.Messages(ctx, chat.MessageFilter{RoomID: room.ID, Limit: 50})
	if err != nil || len(all) != 6 {
		t.Fatalf("history = %d %v", len(all), err)
	}
	top, hasOlder, err := st.Messages(ctx, chat.MessageFilter{RoomID: room.ID, Limit: 2, TopLevel: true})
	if err != nil || len(top) != 2 || top[0].Seq != 3 || top[1].Seq != 4 || !hasOlder {
		t.Fatalf("top level = %+v %v %v", top, hasOlder, err)
	}

	// Followers: the root's author (1) and the repliers (2, 3); a reply
	// marks the thread read up to it (1 replied last).
	for user, unread := range map[int64]int64{1: 0, 2: 2, 3: 1} {
		ts, err := st.Threads(ctx, user, 0, 50)
		if err != nil || len(ts) != 1 || ts[0].Root.ID != root.ID || ts[0].UnreadReplies != unread {
			t.Fatalf("threads of %d = %+v %v; want %d unread", user, ts, err, unread)
		}
	}
	if ts, err := st.Threads(ctx, 4, 0, 50); err != nil || len(ts) != 0 {
		t.Fatalf("threads of a non-follower = %+v %v", ts, err)
	}
	rs, err := st.MarkThreadRead(ctx, root.ID, 3, 6)
	if err != nil || !rs.Following || rs.LastReadSeq != 6 || rs.UnreadReplies != 0 {
		t.Fatalf("mark read = %+v %v", rs, err)
	}
	if rs, err = st.MarkThreadRead(ctx, root.ID, 2, 1000); err != nil || rs.LastReadSeq != 6 || rs.UnreadReplies != 0 {
		t.Fatalf("mark read past the end = %+v %v", rs, err)
	}
	if rs, err = st.MarkThreadRead(ctx, root.ID, 2, 3); err != nil || rs.LastReadSeq != 6 {
		t.Fatalf("mark read backwards = %+v %v", rs, err)
	}
	if rs, err = st.MarkThreadRead(ctx, root.ID, 4, 3); err != nil || rs.Following {
		t.Fatalf("mark read by a non-follower = %+v %v", rs, err)
	}
	if ts, _ := st.Threads(ctx, 4, 0, 50); len(ts) != 0 {
		t.Fatalf("reading made user 4 follow: %+v", ts)
	}

	// Threads in private rooms drop out of the list of someone who left.
	priv := mustRoom(t, st, "private", chat.KindPrivate, 1)
	if _, _, err := st.AddMember(ctx, chat.Member{RoomID: priv.ID, UserID: 2, Username: "b", Role: chat.RoleMember, JoinedAt: t0}); err != nil {
		t.Fatal(err)
	}
	proot := send(t, st, chat.NewMessage{RoomID: priv.ID, UserID: 1, Username: "a", Body: "secret root"})
	send(t, st, chat.NewMessage{RoomID: priv.ID, UserID: 2, Username: "b", Body: "secret reply", ThreadRootID: proot.ID})
	if ts, _ := st.Threads(ctx, 2, 0, 50); len(ts) != 2 || ts[0].Root.ID != proot.ID {
		t.Fatalf("threads of 2 = %+v", ts)
	}
	if ts, _ := st.Threads(ctx, 2, proot.ID, 50); len(ts) != 1 || ts[0].Root.ID != root.ID {
		t.Fatalf("threads of 2 before %d = %+v", proot.ID, ts)
	}
	if _, _, err := st.RemoveMember(ctx, priv.ID, 2); err != nil {
		t.Fatal(err)
	}
	if ts, _ := st.Threads(ctx, 2, 0, 50); len(ts) != 1 || ts[0].Root.ID != root.ID {
		t.Fatalf("threads of 2 after leaving = %+v", ts)
	}
	// Deleting the room takes its threads and follows along.
	if err := st.DeleteRoom(ctx, priv.ID); err != nil {
		t.Fatal(err)
	}
	if ts, _ := st.Threads(ctx, 1, 0, 50); len(ts) != 1 {
		t.Fatalf("threads of 1 after the delete = %+v", ts)
	}
}

// testGroupDMs: one group per member set, whatever the order; members who
// left are back when the group is opened again; lists name it by the
// other members.
func testGroupDMs(t *testing.T, target sqldb.Target) {
	st := Open(t, target)
	ctx := context.Background()
	a, b, c := chat.UserRef{UserID: 1, Username: "ann"}, chat.UserRef{UserID: 2, Username: "bob"}, chat.UserRef{UserID: 3, Username: "cy"}
	g, created, err := st.OpenGroup(ctx, 1, []chat.UserRef{a, c, b}, t0)
	if err != nil || !created || g.Kind != chat.KindGroup {
		t.Fatalf("open group = %+v %v %v", g, created, err)
	}
	again, created, err := st.OpenGroup(ctx, 3, []chat.UserRef{c, b, a}, t0)
	if err != nil || created || again.ID != g.ID {
		t.Fatalf("reopen = %+v %v %v", again, created, err)
	}
	// Another set is another group; a 1:1 DM is not a group.
	g2, created, err := st.OpenGroup(ctx, 1, []chat.UserRef{a, b, {UserID: 4, Username: "dee"}}, t0)
	if err != nil || !created || g2.ID == g.ID {
		t.Fatalf("other set = %+v %v %v", g2, created, err)
	}
	dm, _, err := st.OpenDM(ctx, a, b, t0)
	if err != nil || dm.ID == g.ID || dm.Kind != chat.KindDM {
		t.Fatalf("dm = %+v %v", dm, err)
	}
	v, err := st.RoomView(ctx, g.ID, 1)
	if err != nil || v.Name != "bob, cy" || len(v.GroupUsers) != 2 || v.DMUser != nil || v.MemberCount != 3 || !v.IsMember {
		t.Fatalf("group view = %+v %v", v, err)
	}
	// Search names a group hit as lists do; a 1:1 DM hit by the other person.
	gm := send(t, st, chat.NewMessage{RoomID: g.ID, UserID: 2, Username: "bob", Body: "groupword in the group"})
	dmm := send(t, st, chat.NewMessage{RoomID: dm.ID, UserID: 2, Username: "bob", Body: "groupword in the dm"})
	hits, err := st.Search(ctx, chat.SearchFilter{UserID: 1, Words: []string{"groupword"}, Limit: 10})
	if err != nil || len(hits) != 2 || hits[0].ID != dmm.ID || hits[0].RoomName != "bob" || hits[1].ID != gm.ID || hits[1].RoomName != "bob, cy" {
		t.Fatalf("search in a group and a dm = %+v %v", hits, err)
	}
	if hits, err := st.Search(ctx, chat.SearchFilter{UserID: 3, Words: []string{"groupword"}, Limit: 10}); err != nil || len(hits) != 1 || hits[0].RoomName != "ann, bob" {
		t.Fatalf("cy's search = %+v %v", hits, err)
	}
	if _, _, err := st.RemoveMember(ctx, g.ID, 3); err != nil {
		t.Fatal(err)
	}
	if v, _ := st.RoomView(ctx, g.ID, 1); v.MemberCount != 2 || v.Name != "bob" {
		t.Fatalf("after cy left = %+v", v)
	}
	if _, created, err := st.OpenGroup(ctx, 1, []chat.UserRef{a, b, c}, t0); err != nil || created {
		t.Fatal(err, created)
	}
	if v, _ := st.RoomView(ctx, g.ID, 3); v.MemberCount != 3 || !v.IsMember {
		t.Fatalf("cy after the reopen = %+v", v)
	}
	// Groups are listed for members only.
	views, err := st.RoomViews(ctx, 4, 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range views {
		if v.ID == g.ID {
			t.Fatalf("user 4 sees group %d", g.ID)
		}
	}
	if st, err := st.Stats(ctx, 1); err != nil || st.RoomsCreated != 0 || st.RoomsJoined != 0 {
		t.Fatalf("stats count groups: %+v %v", st, err)
	}
}

// testMigration0004Upgrades: a database at migration 0002, with rooms and
// messages, is upgraded in place: its messages are top-level without
// replies, they take replies, and group rooms can be created.
func testMigration0004Upgrades(t *testing.T, target sqldb.Target) {
	ctx := context.Background()
	db := openAtMigration(t, target, 2)
	if _, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO messages (room_id, seq, user_id, username, body, created_at)
		VALUES (1, 1, 5, 'old', 'from before threads', '2025-01-01T00:00:00.000Z')`)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE rooms SET last_seq = 1 WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	// A second handle opened before the upgrade must see the new schema.
	early, err := sqldb.Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { early.Close() })
	if err := early.Check(ctx); err != nil {
		t.Fatal(err)
	}

	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	msgs, _, err := st.Messages(ctx, chat.MessageFilter{RoomID: 1, Limit: 10})
	if err != nil || len(msgs) != 1 || msgs[0].ThreadRootID != nil || msgs[0].ReplyCount != 0 || msgs[0].LastReplyAt != nil ||
		msgs[0].Mentions == nil || len(msgs[0].Mentions) != 0 || msgs[0].MentionsRoom {
		t.Fatalf("old message after the upgrade = %+v %v", msgs, err)
	}
	reply := send(t, st, chat.NewMessage{RoomID: 1, UserID: 6, Username: "new", Body: "a reply", ThreadRootID: msgs[0].ID})
	if reply.Seq != 2 {
		t.Fatalf("reply = %+v", reply)
	}
	if _, _, err := st.OpenGroup(ctx, 1, []chat.UserRef{{UserID: 1}, {UserID: 2}, {UserID: 3}}, t0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.New(early).OpenGroup(ctx, 1, []chat.UserRef{{UserID: 1}, {UserID: 2}, {UserID: 4}}, t0); err != nil {
		t.Fatalf("group through a handle opened before the upgrade: %v", err)
	}
	// The kind is still checked.
	if _, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO rooms (name, kind, created_by, created_at, updated_at)
		VALUES ('x', 'bogus', 1, '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z')`)); err == nil {
		t.Fatal("a room of kind bogus was accepted")
	}
}

// testMentions: names resolve only to users who may read the room; the
// rooms' mention_count and Mentions follow read markers, deletions and
// membership; a mentioned user follows the thread of a reply.
func testMentions(t *testing.T, target sqldb.Target) {
	st := Open(t, target)
	ctx := context.Background()
	for id, name := range map[int64]string{1: "Alice", 2: "bob", 3: "carol"} {
		if _, err := st.TouchUser(ctx, chat.UserRef{UserID: id, Username: name}, t0); err != nil {
			t.Fatal(err)
		}
	}
	pub := mustRoom(t, st, "open", chat.KindPublic, 1)
	priv := mustRoom(t, st, "closed", chat.KindPrivate, 1)
	if _, _, err := st.AddMember(ctx, chat.Member{RoomID: priv.ID, UserID: 2, Username: "bob", Role: chat.RoleMember, JoinedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if ids, err := st.ResolveMentions(ctx, pub.ID, []string{"alice", "bob", "carol", "nobody"}); err != nil || fmt.Sprint(ids) != "[1 2 3]" {
		t.Fatalf("resolve in a public room = %v %v", ids, err)
	}
	if ids, err := st.ResolveMentions(ctx, priv.ID, []string{"alice", "bob", "carol"}); err != nil || fmt.Sprint(ids) != "[1 2]" {
		t.Fatalf("resolve in a private room = %v %v", ids, err)
	}
	if ids, err := st.ResolveMentions(ctx, 1<<40, []string{"bob"}); err != nil || len(ids) != 0 {
		t.Fatalf("resolve in no room = %v %v", ids, err)
	}
	m1 := send(t, st, chat.NewMessage{RoomID: priv.ID, UserID: 1, Username: "Alice", Body: "@bob look", Mentions: []int64{2}})
	if fmt.Sprint(m1.Mentions) != "[2]" || m1.MentionsRoom {
		t.Fatalf("stored = %+v", m1)
	}
	if got, _ := st.Message(ctx, m1.ID); fmt.Sprint(got.Mentions) != "[2]" {
		t.Fatalf("read back = %+v", got)
	}
	// Names resolved before someone left (here: carol, never a member) are
	// dropped in the storing transaction, on both paths.
	if m := send(t, st, chat.NewMessage{RoomID: priv.ID, UserID: 1, Username: "Alice", Body: "@carol", Mentions: []int64{3}}); len(m.Mentions) != 0 {
		t.Fatalf("a non-member's mention was stored: %+v", m)
	}
	res, err := st.CreateMessages(ctx, []chat.NewMessage{
		{RoomID: priv.ID, UserID: 1, Username: "Alice", Body: "@carol @bob", Mentions: []int64{2, 3}, At: t0},
		{RoomID: pub.ID, UserID: 1, Username: "Alice", Body: "@carol", Mentions: []int64{3}, At: t0},
	}, func(chat.Room, *chat.Member) error { return nil })
	if err != nil || fmt.Sprint(res[0].Message.Mentions) != "[2]" || fmt.Sprint(res[1].Message.Mentions) != "[3]" {
		t.Fatalf("batch mentions = %+v %v", res, err)
	}
	if got, _ := st.Message(ctx, res[0].Message.ID); fmt.Sprint(got.Mentions) != "[2]" {
		t.Fatalf("stored batch mentions = %+v", got)
	}
	if ms, _ := st.Mentions(ctx, 3, 0, 50); len(ms) != 1 || ms[0].ID != res[1].Message.ID {
		t.Fatalf("carol's mentions = %+v", ms)
	}
	if _, err := st.DeleteMessage(ctx, res[0].Message.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DeleteMessage(ctx, res[1].Message.ID); err != nil {
		t.Fatal(err)
	}
	send(t, st, chat.NewMessage{RoomID: priv.ID, UserID: 1, Username: "Alice", Body: "@room and @bob", Mentions: []int64{2}, MentionsRoom: true})
	m3 := send(t, st, chat.NewMessage{RoomID: priv.ID, UserID: 1, Username: "Alice", Body: "@here", MentionsRoom: true})
	send(t, st, chat.NewMessage{RoomID: priv.ID, UserID: 2, Username: "bob", Body: "@room mine", MentionsRoom: true})
	mentionCount := func(room, user int64) int64 {
		t.Helper()
		v, err := st.RoomView(ctx, room, user)
		if err != nil {
			t.Fatal(err)
		}
		return v.MentionCount
	}
	if n := mentionCount(priv.ID, 2); n != 3 {
		t.Fatalf("bob's mention_count = %d, want 3", n)
	}
	if n := mentionCount(priv.ID, 1); n != 1 { // bob's @room
		t.Fatalf("alice's mention_count = %d, want 1", n)
	}
	if _, err := st.DeleteMessage(ctx, m3.ID); err != nil {
		t.Fatal(err)
	}
	if n := mentionCount(priv.ID, 2); n != 2 {
		t.Fatalf("bob's mention_count after a delete = %d, want 2", n)
	}
	ms, err := st.Mentions(ctx, 2, 0, 50)
	if err != nil || len(ms) != 2 || ms[0].ID <= ms[1].ID || ms[1].ID != m1.ID {
		t.Fatalf("bob's mentions = %+v %v", ms, err)
	}
	if ms, err := st.Mentions(ctx, 2, ms[0].ID, 50); err != nil || len(ms) != 1 || ms[0].ID != m1.ID {
		t.Fatalf("bob's older mentions = %+v %v", ms, err)
	}
	if _, err := st.MarkRead(ctx, priv.ID, 2, 1); err != nil {
		t.Fatal(err)
	}
	if n := mentionCount(priv.ID, 2); n != 1 {
		t.Fatalf("bob's mention_count after reading seq 1 = %d, want 1", n)
	}
	if _, _, err := st.RemoveMember(ctx, priv.ID, 2); err != nil {
		t.Fatal(err)
	}
	if ms, err := st.Mentions(ctx, 2, 0, 50); err != nil || len(ms) != 0 {
		t.Fatalf("bob's mentions after leaving = %+v %v", ms, err)
	}
	// A reply that mentions carol makes her follow the thread.
	root := send(t, st, chat.NewMessage{RoomID: pub.ID, UserID: 1, Username: "Alice", Body: "root"})
	send(t, st, chat.NewMessage{RoomID: pub.ID, UserID: 1, Username: "Alice", Body: "@carol?", ThreadRootID: root.ID, Mentions: []int64{3}})
	if ts, err := st.Threads(ctx, 3, 0, 50); err != nil || len(ts) != 1 || ts[0].Root.ID != root.ID || ts[0].UnreadReplies != 1 {
		t.Fatalf("carol's threads = %+v %v", ts, err)
	}
	if ms, err := st.Mentions(ctx, 3, 0, 50); err != nil || len(ms) != 1 {
		t.Fatalf("carol's mentions = %+v %v", ms, err)
	}
}

// testConcurrentReplies: batches of replies to one root from several
// handles at once (on PostgreSQL, replicas) count every reply once and
// keep the room's seqs gap-free.
func testConcurrentReplies(t *testing.T, target sqldb.Target) {
	const handles, batches, per = 4, 5, 5
	st := Open(t, target)
	ctx := context.Background()
	room := mustRoom(t, st, "busy", chat.KindPublic, 1)
	other := mustRoom(t, st, "other busy", chat.KindPublic, 1)
	root := send(t, st, chat.NewMessage{RoomID: room.ID, UserID: 1, Username: "a", Body: "root"})
	otherRoot := send(t, st, chat.NewMessage{RoomID: other.ID, UserID: 1, Username: "a", Body: "root"})
	allow := func(chat.Room, *chat.Member) error { return nil }
	errs := make(chan error, handles)
	for h := range handles {
		hs := Open(t, target)
		go func() {
			for b := range batches {
				var nms []chat.NewMessage
				for i := range per {
					// Replies in both rooms, roots in either order, and a
					// plain message: batches take roots and rooms alike.
					r, rt := room.ID, root.ID
					if (h+i)%2 == 1 {
						r, rt = other.ID, otherRoot.ID
					}
					nms = append(nms, chat.NewMessage{RoomID: r, UserID: int64(h + 2), Username: "w", Body: "reply",
						ClientMsgID: fmt.Sprintf("h%d-b%d-%d", h, b, i), ThreadRootID: rt, At: t0})
				}
				nms = append(nms, chat.NewMessage{RoomID: room.ID, UserID: int64(h + 2), Username: "w", Body: "plain", At: t0})
				res, err := hs.CreateMessages(ctx, nms, allow)
				if err == nil {
					for _, r := range res {
						if r.Err != nil {
							err = r.Err
						}
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range handles {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	total := 0
	for _, c := range []struct{ room, root int64 }{{room.ID, root.ID}, {other.ID, otherRoot.ID}} {
		m, err := st.Message(ctx, c.root)
		if err != nil {
			t.Fatal(err)
		}
		replies, err := st.Thread(ctx, c.root, 0, 1000)
		if err != nil || int64(len(replies)) != m.ReplyCount {
			t.Fatalf("root %d counts %d replies, its thread has %d (%v)", c.root, m.ReplyCount, len(replies), err)
		}
		total += len(replies)
		r, _ := st.Room(ctx, c.room)
		msgs, _, err := st.Messages(ctx, chat.MessageFilter{RoomID: c.room, Limit: 1000})
		if err != nil || int64(len(msgs)) != r.LastSeq {
			t.Fatalf("room %d: %d messages, last seq %d (%v)", c.room, len(msgs), r.LastSeq, err)
		}
		for i, m := range msgs {
			if m.Seq != int64(i+1) {
				t.Fatalf("room %d: seq %d at %d", c.room, m.Seq, i)
			}
		}
	}
	if total != handles*batches*per {
		t.Fatalf("%d replies stored, want %d", total, handles*batches*per)
	}
}
