package httpapi_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/parleychat/parley/chat-service/internal/chat"
)

type page struct {
	Messages   []chat.Message `json:"messages"`
	NextCursor *int64         `json:"next_cursor"`
}

func seqsOf(ms []chat.Message) string {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.Seq
	}
	return fmt.Sprint(out)
}

func TestPermalinks(t *testing.T) {
	h := start(t, nil)
	alice, bob := h.user(1, "alice"), h.user(2, "bob")
	room := h.createRoom(alice, "long", "public")
	r := "/rooms/" + itoa(room.ID) + "/messages"
	var ms []chat.Message
	for i := 1; i <= 30; i++ {
		ms = append(ms, h.post(alice, room.ID, fmt.Sprint("m", i), ""))
	}
	var got chat.Message
	h.must(200, "GET", "/messages/"+itoa(ms[9].ID), bob, nil, &got)
	if got.ID != ms[9].ID || got.Body != "m10" || got.Seq != 10 {
		t.Fatalf("permalink = %+v", got)
	}
	// A message of a private room is as unknown to outsiders as no message.
	priv := h.createRoom(alice, "inner", "private")
	secret := h.post(alice, priv.ID, "secret", "")
	for _, path := range []string{"/messages/" + itoa(secret.ID), "/messages/999999"} {
		status, raw, _ := h.call("GET", path, bob, nil)
		if status != 404 || errCode(raw) != "message_not_found" {
			t.Fatalf("GET %s as an outsider: %d %s", path, status, raw)
		}
	}
	h.must(200, "GET", "/messages/"+itoa(secret.ID), alice, nil, nil)
	status, raw, _ := h.call("GET", "/rooms/"+itoa(priv.ID)+"/messages?around_seq=1", bob, nil)
	if status != 404 || errCode(raw) != "room_not_found" {
		t.Fatalf("around in a private room as an outsider: %d %s", status, raw)
	}

	var p page
	h.must(200, "GET", r+"?around_seq=15&limit=6", bob, nil, &p)
	if seqsOf(p.Messages) != "[13 14 15 16 17 18]" || p.NextCursor == nil || *p.NextCursor != 13 {
		t.Fatalf("around 15 = %s next %v", seqsOf(p.Messages), p.NextCursor)
	}
	h.must(200, "GET", r+"?around_seq=2&limit=6", bob, nil, &p)
	if seqsOf(p.Messages) != "[1 2 3 4 5]" || p.NextCursor != nil {
		t.Fatalf("around 2 = %s next %v", seqsOf(p.Messages), p.NextCursor)
	}
	h.must(200, "GET", r+"?around_seq=30&limit=5", bob, nil, &p)
	if seqsOf(p.Messages) != "[28 29 30]" {
		t.Fatalf("around 30 = %s", seqsOf(p.Messages))
	}
	for _, c := range []struct {
		query, code string
		status      int
	}{
		{"around_seq=31", "invalid_cursor", 400},
		{"around_seq=0", "invalid_cursor", 400},
		{"around_seq=-4", "invalid_cursor", 400},
		{"around_seq=x", "invalid_query", 400},
		{"around_seq=5&before_seq=9", "invalid_query", 400},
		{"around_seq=5&after_seq=0", "invalid_query", 400},
		{"top_level=maybe", "invalid_query", 400},
	} {
		status, raw, _ := h.call("GET", r+"?"+c.query, bob, nil)
		if status != c.status || errCode(raw) != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.query, status, raw, c.status, c.code)
		}
	}
}

func TestThreadsHTTP(t *testing.T) {
	h := start(t, nil)
	alice, bob, carol := h.user(1, "alice"), h.user(2, "bob"), h.user(3, "carol")
	room := h.createRoom(alice, "threads", "public")
	h.must(200, "POST", "/rooms/"+itoa(room.ID)+"/join", bob, nil, nil)
	other := h.createRoom(alice, "elsewhere", "public")
	msgs := "/rooms/" + itoa(room.ID) + "/messages"
	root := h.post(alice, room.ID, "a question", "")
	reply := func(u user, rootID any, body string) (int, []byte) {
		status, raw, _ := h.call("POST", msgs, u, map[string]any{"body": body, "thread_root_id": rootID})
		return status, raw
	}
	var r1, r2 chat.Message
	h.must(201, "POST", msgs, bob, map[string]any{"body": "an answer", "thread_root_id": root.ID, "client_msg_id": "r1"}, &r1)
	if r1.Seq != 2 || r1.ThreadRootID == nil || *r1.ThreadRootID != root.ID {
		t.Fatalf("reply = %+v", r1)
	}
	// The retry answers the original.
	h.must(201, "POST", msgs, bob, map[string]any{"body": "an answer", "thread_root_id": root.ID, "client_msg_id": "r1"}, &r2)
	if r2.ID != r1.ID {
		t.Fatalf("retried reply = %+v", r2)
	}
	h.must(201, "POST", msgs, alice, map[string]any{"body": "thanks", "thread_root_id": root.ID}, &r2)
	plain := h.post(bob, room.ID, "unrelated", "")
	doomed := h.post(alice, room.ID, "doomed", "")
	h.must(200, "DELETE", "/messages/"+itoa(doomed.ID), alice, nil, nil)
	elsewhere := h.post(alice, other.ID, "elsewhere", "")

	// Bad roots: each 422 invalid_thread, nothing written.
	for _, bad := range []any{r1.ID, doomed.ID, elsewhere.ID, 999999, 0, -1} {
		status, raw := reply(bob, bad, "x")
		if status != 422 || errCode(raw) != "invalid_thread" {
			t.Errorf("reply to %v: %d %s", bad, status, raw)
		}
	}
	if status, raw := reply(bob, "7", "x"); status != 422 || errCode(raw) != "invalid_field" {
		t.Errorf("thread_root_id as a string: %d %s", status, raw)
	}
	var v chat.RoomView
	h.must(200, "GET", "/rooms/"+itoa(room.ID), bob, nil, &v)
	if v.LastSeq != 5 {
		t.Fatalf("last seq after refused replies = %d", v.LastSeq)
	}

	var got chat.Message
	h.must(200, "GET", "/messages/"+itoa(root.ID), carol, nil, &got)
	if got.ReplyCount != 2 || got.LastReplyAt == nil || !got.LastReplyAt.Equal(r2.CreatedAt) {
		t.Fatalf("root = %+v", got)
	}
	var th struct {
		Root       chat.Message   `json:"root"`
		Messages   []chat.Message `json:"messages"`
		NextCursor *int64         `json:"next_cursor"`
	}
	h.must(200, "GET", "/messages/"+itoa(root.ID)+"/thread?limit=1", carol, nil, &th)
	if th.Root.ID != root.ID || len(th.Messages) != 1 || th.Messages[0].ID != r1.ID || th.NextCursor == nil || *th.NextCursor != r1.Seq {
		t.Fatalf("thread page 1 = %+v", th)
	}
	h.must(200, "GET", "/messages/"+itoa(root.ID)+"/thread?after_seq="+itoa(*th.NextCursor), carol, nil, &th)
	if len(th.Messages) != 1 || th.Messages[0].ID != r2.ID || th.NextCursor != nil {
		t.Fatalf("thread page 2 = %+v", th)
	}
	status, raw, _ := h.call("GET", "/messages/"+itoa(r1.ID)+"/thread", carol, nil)
	if status != 404 || errCode(raw) != "thread_not_found" {
		t.Fatalf("thread of a reply: %d %s", status, raw)
	}
	if status, _, _ := h.call("GET", "/messages/"+itoa(root.ID)+"/thread?after_seq=-1", carol, nil); status != 400 {
		t.Fatalf("negative after_seq: %d", status)
	}

	// History: every message, or the top level only.
	var p page
	h.must(200, "GET", msgs, carol, nil, &p)
	if seqsOf(p.Messages) != "[1 2 3 4 5]" {
		t.Fatalf("history = %s", seqsOf(p.Messages))
	}
	h.must(200, "GET", msgs+"?top_level=true", carol, nil, &p)
	if seqsOf(p.Messages) != "[1 4 5]" || p.Messages[0].ReplyCount != 2 {
		t.Fatalf("top level = %+v", p.Messages)
	}
	_ = plain

	// Followed threads: alice (the root's author, who replied last) has
	// read it all; bob has one unread reply (alice's) until he reads it.
	type threads struct {
		Threads []struct {
			Root          chat.Message `json:"root"`
			UnreadReplies int64        `json:"unread_replies"`
		} `json:"threads"`
		NextCursor *int64 `json:"next_cursor"`
	}
	var ts threads
	h.must(200, "GET", "/threads", bob, nil, &ts)
	if len(ts.Threads) != 1 || ts.Threads[0].Root.ID != root.ID || ts.Threads[0].UnreadReplies != 1 {
		t.Fatalf("bob's threads = %+v", ts)
	}
	h.must(200, "GET", "/threads", carol, nil, &ts)
	if len(ts.Threads) != 0 {
		t.Fatalf("carol follows %+v", ts)
	}
	var rs chat.ThreadReadState
	h.must(200, "POST", "/messages/"+itoa(root.ID)+"/thread/read", bob, map[string]any{"seq": r2.Seq}, &rs)
	if !rs.Following || rs.LastReadSeq != r2.Seq || rs.UnreadReplies != 0 {
		t.Fatalf("thread read = %+v", rs)
	}
	h.must(200, "POST", "/messages/"+itoa(root.ID)+"/thread/read", carol, map[string]any{"seq": 1}, &rs)
	if rs.Following {
		t.Fatalf("carol's thread read = %+v", rs)
	}
	for _, body := range []any{map[string]any{}, map[string]any{"seq": -1}} {
		if status, raw, _ := h.call("POST", "/messages/"+itoa(root.ID)+"/thread/read", bob, body); status != 422 || errCode(raw) != "invalid_seq" {
			t.Errorf("thread read %v: %d %s", body, status, raw)
		}
	}

	// A thread in a private room is 404 to outsiders, whatever they try.
	priv := h.createRoom(alice, "inner", "private")
	proot := h.post(alice, priv.ID, "secret", "")
	h.must(201, "POST", "/rooms/"+itoa(priv.ID)+"/messages", alice, map[string]any{"body": "secret reply", "thread_root_id": proot.ID}, nil)
	for _, c := range []struct{ method, path string }{
		{"GET", "/messages/" + itoa(proot.ID) + "/thread"},
		{"POST", "/messages/" + itoa(proot.ID) + "/thread/read"},
		{"GET", "/messages/" + itoa(proot.ID)},
	} {
		status, raw, _ := h.call(c.method, c.path, carol, map[string]any{"seq": 1})
		if status != 404 || errCode(raw) != "message_not_found" {
			t.Errorf("%s %s as an outsider: %d %s", c.method, c.path, status, raw)
		}
	}
	// Naming it as the root of a reply elsewhere is refused as an unknown
	// root is; replying in its room from outside: the room is not found.
	h.must(200, "POST", "/rooms/"+itoa(room.ID)+"/join", carol, nil, nil)
	if status, raw := reply(carol, proot.ID, "x"); status != 422 || errCode(raw) != "invalid_thread" {
		t.Fatalf("reply to a private root from another room: %d %s", status, raw)
	}
	status, raw, _ = h.call("POST", "/rooms/"+itoa(priv.ID)+"/messages", carol, map[string]any{"body": "x", "thread_root_id": proot.ID})
	if status != 404 || errCode(raw) != "room_not_found" {
		t.Fatalf("outsider's reply in a private room: %d %s", status, raw)
	}
}

func TestWSThreads(t *testing.T) {
	h := start(t, nil)
	alice, bob := h.user(1, "alice"), h.user(2, "bob")
	a, b := h.connect(alice), h.connect(bob)
	a.subscribe(1, nil)
	b.subscribe(1, nil)
	root := h.post(alice, 1, "root", "")
	a.next("message")
	b.next("message")
	b.send(map[string]any{"type": "send", "room_id": 1, "body": "reply", "client_msg_id": "w1", "thread_root_id": root.ID})
	ack := msgOf(b.expect("ack"))
	if num(ack["thread_root_id"]) != root.ID || num(ack["seq"]) != 2 {
		t.Fatalf("ack = %v", ack)
	}
	// Alice gets the reply as a message, then the root's new count.
	m := msgOf(a.next("message"))
	if num(m["id"]) != num(ack["id"]) || num(m["thread_root_id"]) != root.ID {
		t.Fatalf("reply event = %v", m)
	}
	u := msgOf(a.next("message_updated"))
	if num(u["id"]) != root.ID || num(u["reply_count"]) != 1 || u["last_reply_at"] == nil {
		t.Fatalf("root update = %v", u)
	}
	// Bad roots are error frames; the socket stays.
	for _, bad := range []int64{num(ack["id"]), 0, 424242} {
		b.send(map[string]any{"type": "send", "room_id": 1, "body": "x", "client_msg_id": fmt.Sprint("bad", bad), "thread_root_id": bad})
		b.expectError("invalid_thread")
	}
	// Resume across a reply: the replay has it, in seq order.
	a.conn.Close()
	h.must(http.StatusCreated, "POST", "/rooms/1/messages", bob, map[string]any{"body": "second reply", "thread_root_id": root.ID}, nil)
	h.post(bob, 1, "top", "")
	a = h.connect(alice)
	after := int64(1)
	a.send(map[string]any{"type": "subscribe", "room_id": 1, "after_seq": after})
	var seqs []int64
	for len(seqs) < 3 {
		seqs = append(seqs, num(msgOf(a.next("message"))["seq"]))
	}
	if fmt.Sprint(seqs) != "[2 3 4]" {
		t.Fatalf("replayed %v", seqs)
	}
	a.expect("subscribed")
}

func TestGroupDMs(t *testing.T) {
	names := map[int64]string{1: "alice", 2: "bob", 3: "carol", 4: "dave"}
	for id := int64(10); id < 20; id++ {
		names[id] = fmt.Sprint("u", id)
	}
	dir := newUserDirectory(t, names)
	h := start(t, map[string]string{"USER_SERVICE_URL": dir.URL})
	alice, bob, carol, dave := h.user(1, "alice"), h.user(2, "bob"), h.user(3, "carol"), h.user(4, "dave")
	c := h.connect(carol)

	var g chat.RoomView
	h.must(201, "POST", "/dms", alice, map[string]any{"user_ids": []int64{3, 2}}, &g)
	if g.Kind != "group" || g.MemberCount != 3 || g.Name != "bob, carol" || len(g.GroupUsers) != 2 || g.DMUser != nil {
		t.Fatalf("group = %+v", g)
	}
	if f := c.next("member_joined"); num(f["room_id"]) != g.ID {
		t.Fatalf("carol's member_joined = %v", f)
	}
	// The same set, in any order, with repeats and the caller: the same room.
	var again chat.RoomView
	h.must(200, "POST", "/dms", bob, map[string]any{"user_ids": []int64{1, 3, 3, 2}}, &again)
	if again.ID != g.ID || again.Name != "alice, carol" {
		t.Fatalf("bob's view = %+v", again)
	}
	for _, c := range []struct {
		body   any
		status int
		code   string
	}{
		{map[string]any{"user_ids": []int64{2}}, 422, "invalid_group_size"},
		{map[string]any{"user_ids": []int64{2, 2, 1}}, 422, "invalid_group_size"},
		{map[string]any{"user_ids": []int64{}}, 422, "invalid_group_size"},
		{map[string]any{"user_ids": []int64{2, 3, 4, 10, 11, 12, 13, 14, 15}}, 422, "invalid_group_size"},
		{map[string]any{"user_ids": []int64{2, 0}}, 422, "invalid_user_id"},
		{map[string]any{"user_ids": []int64{2, 77}}, 404, "user_not_found"},
		{map[string]any{"user_ids": []int64{2, 3}, "user_id": 2}, 422, "invalid_request"},
		{map[string]any{"user_ids": "2,3"}, 422, "invalid_field"},
	} {
		status, raw, _ := h.call("POST", "/dms", alice, c.body)
		if status != c.status || (c.code != "" && errCode(raw) != c.code) {
			t.Errorf("%v: %d %s, want %d %s", c.body, status, raw, c.status, c.code)
		}
	}
	// Eight others is the most.
	h.must(201, "POST", "/dms", alice, map[string]any{"user_ids": []int64{2, 3, 4, 10, 11, 12, 13, 14}}, nil)

	gr := "/rooms/" + itoa(g.ID)
	h.post(bob, g.ID, "hi all", "")
	// A search hit in the group is named as lists name it.
	var hits struct {
		Messages []chat.SearchHit `json:"messages"`
	}
	h.must(200, "GET", "/search?q=hi", carol, nil, &hits)
	if len(hits.Messages) != 1 || hits.Messages[0].RoomID != g.ID || hits.Messages[0].RoomName != "alice, bob" {
		t.Fatalf("carol's search in the group = %+v", hits.Messages)
	}
	h.must(404, "GET", gr, dave, nil, nil)
	h.must(404, "POST", gr+"/join", dave, nil, nil)
	for _, c := range []struct{ method, path string }{{"PATCH", gr}, {"DELETE", gr}, {"POST", gr + "/members"}, {"DELETE", gr + "/members/2"}} {
		status, raw, _ := h.call(c.method, c.path, alice, map[string]any{"name": "x", "user_id": 4})
		if status != 403 {
			t.Errorf("%s %s on a group: %d %s", c.method, c.path, status, raw)
		}
	}
	var list struct{ Rooms []chat.RoomView }
	h.must(200, "GET", "/rooms", carol, nil, &list)
	found := false
	for _, r := range list.Rooms {
		found = found || (r.ID == g.ID && r.Unread == 1)
	}
	if !found {
		t.Fatalf("group not listed for carol with 1 unread: %+v", list.Rooms)
	}
	h.must(200, "GET", "/rooms", dave, nil, &list)
	for _, r := range list.Rooms {
		if r.ID == g.ID {
			t.Fatal("dave sees the group")
		}
	}
	// Members may leave; opening the group again brings them back.
	h.must(204, "POST", gr+"/leave", carol, nil, nil)
	h.must(404, "GET", gr, carol, nil, nil)
	h.must(200, "POST", "/dms", alice, map[string]any{"user_ids": []int64{2, 3}}, &again)
	if again.ID != g.ID || again.MemberCount != 3 {
		t.Fatalf("reopened = %+v", again)
	}
	h.must(200, "GET", gr, carol, nil, nil)
}

func TestMentions(t *testing.T) {
	h := start(t, nil)
	alice, bob, carol := h.user(1, "alice"), h.user(2, "Bob"), h.user(3, "carol")
	for _, u := range []user{bob, carol} {
		h.must(200, "GET", "/rooms", u, nil, nil) // chat-service learns their names
	}
	b, c := h.connect(bob), h.connect(carol)
	priv := h.createRoom(alice, "inner", "private")
	h.must(201, "POST", "/rooms/"+itoa(priv.ID)+"/members", alice, map[string]any{"user_id": 2}, nil)

	// carol cannot read the room: she is not mentioned, gets no frame, and
	// the message shows nothing of her.
	m := h.post(alice, priv.ID, "@BOB and @carol and @nobody, see mail@bob.example", "")
	if fmt.Sprint(m.Mentions) != "[2]" || m.MentionsRoom {
		t.Fatalf("mentions = %v %v", m.Mentions, m.MentionsRoom)
	}
	f := msgOf(b.next("mention"))
	if num(f["id"]) != m.ID || num(f["room_id"]) != priv.ID {
		t.Fatalf("bob's mention = %v", f)
	}
	pub := h.createRoom(alice, "open", "public")
	h.must(200, "POST", "/rooms/"+itoa(pub.ID)+"/join", carol, nil, nil)
	pm := h.post(alice, pub.ID, "@room, @carol: hello", "")
	if fmt.Sprint(pm.Mentions) != "[3]" || !pm.MentionsRoom {
		t.Fatalf("public mentions = %v %v", pm.Mentions, pm.MentionsRoom)
	}
	if f := msgOf(c.next("mention")); num(f["id"]) != pm.ID {
		t.Fatalf("carol's first mention frame = %v (the private one leaked?)", f)
	}

	var list struct{ Rooms []chat.RoomView }
	h.must(200, "GET", "/rooms", bob, nil, &list)
	for _, r := range list.Rooms {
		if r.ID == priv.ID && (r.MentionCount != 1 || r.Unread != 1) {
			t.Fatalf("bob's private room = %+v", r)
		}
	}
	h.must(200, "GET", "/rooms", carol, nil, &list)
	for _, r := range list.Rooms {
		if r.ID == pub.ID && r.MentionCount != 1 {
			t.Fatalf("carol's public room = %+v", r)
		}
	}
	var p page
	h.must(200, "GET", "/mentions", bob, nil, &p)
	if len(p.Messages) != 1 || p.Messages[0].ID != m.ID || p.NextCursor != nil {
		t.Fatalf("bob's mentions = %+v", p)
	}
	h.must(200, "GET", "/mentions?limit=1", carol, nil, &p)
	if len(p.Messages) != 1 || p.Messages[0].ID != pm.ID {
		t.Fatalf("carol's mentions = %+v", p)
	}
	for _, q := range []string{"before_id=-1", "before_id=x", "limit=x"} {
		if status, raw, _ := h.call("GET", "/mentions?"+q, bob, nil); status != 400 {
			t.Errorf("GET /mentions?%s: %d %s", q, status, raw)
		}
	}
	// Marking the room read clears the count.
	h.must(200, "POST", "/rooms/"+itoa(priv.ID)+"/read", bob, map[string]any{"seq": m.Seq}, nil)
	h.must(200, "GET", "/rooms", bob, nil, &list)
	for _, r := range list.Rooms {
		if r.ID == priv.ID && r.MentionCount != 0 {
			t.Fatalf("bob's private room after reading = %+v", r)
		}
	}
}
