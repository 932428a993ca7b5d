package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/platform/authn"
)

func TestAuthRequired(t *testing.T) {
	h := start(t, nil)
	expired := user{name: "expired", token: h.is.Token(t, 1, "x", authn.RoleUser, -time.Hour)}
	forged := user{name: "forged", token: h.user(1, "x").token[:40] + "AAAA" + h.user(1, "x").token[44:]}
	for _, u := range []user{{name: "anonymous"}, expired, forged, {name: "garbage", token: "abc"}} {
		status, raw, _ := h.call("GET", "/rooms", u, nil)
		if status != http.StatusUnauthorized || !strings.Contains(string(raw), `"error"`) {
			t.Errorf("%s: %d %s", u.name, status, raw)
		}
	}
}

// TestValidation is a table of bad inputs per endpoint: none is a 500.
func TestValidation(t *testing.T) {
	h := start(t, nil)
	alice := h.user(1, "alice")
	room := h.createRoom(alice, "valid", "public")
	msg := h.post(alice, room.ID, "hello", "")
	r := "/rooms/" + itoa(room.ID)
	m := "/messages/" + itoa(msg.ID)
	cases := []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"room name blank", "POST", "/rooms", map[string]string{"name": "   "}, 422, "invalid_name"},
		{"room name long", "POST", "/rooms", map[string]string{"name": strings.Repeat("n", 65)}, 422, "invalid_name"},
		{"room name newline", "POST", "/rooms", map[string]string{"name": "a\nb"}, 422, "invalid_name"},
		{"room description long", "POST", "/rooms", map[string]string{"name": "d", "description": strings.Repeat("d", 501)}, 422, "invalid_description"},
		{"room kind dm", "POST", "/rooms", map[string]string{"name": "k", "kind": "dm"}, 422, "invalid_kind"},
		{"room name wrong type", "POST", "/rooms", `{"name": 5}`, 422, "invalid_field"},
		{"room invalid json", "POST", "/rooms", `{"name":`, 400, "invalid_json"},
		{"room no body", "POST", "/rooms", nil, 400, "invalid_json"},
		{"room duplicate public name", "POST", "/rooms", map[string]string{"name": "VALID"}, 409, "room_name_taken"},
		{"room duplicate public name after folding", "POST", "/rooms", map[string]string{"name": "ｖａｌｉｄ"}, 409, "room_name_taken"},
		{"room duplicate of General after folding", "POST", "/rooms", map[string]string{"name": "gEnErAl"}, 409, "room_name_taken"},
		{"patch name blank", "PATCH", r, map[string]any{"name": " "}, 422, "invalid_name"},
		{"patch archived wrong type", "PATCH", r, `{"archived": "yes"}`, 422, "invalid_field"},
		{"room id not a number", "GET", "/rooms/abc", nil, 404, "not_found"},
		{"room id unknown", "GET", "/rooms/999", nil, 404, "room_not_found"},
		{"message body empty", "POST", r + "/messages", map[string]string{"body": ""}, 422, "empty_body"},
		{"message body whitespace", "POST", r + "/messages", map[string]string{"body": " \n\t"}, 422, "empty_body"},
		{"message body too long", "POST", r + "/messages", map[string]string{"body": strings.Repeat("é", 4001)}, 422, "body_too_long"},
		{"message body zero-width only", "POST", r + "/messages", map[string]string{"body": "\u200b\u200b"}, 422, "empty_body"},
		{"message body NUL", "POST", r + "/messages", map[string]string{"body": "a\u0000b"}, 422, "invalid_body"},
		{"message body ESC", "POST", r + "/messages", map[string]string{"body": "\u001b[2J"}, 422, "invalid_body"},
		{"room name zero-width", "POST", "/rooms", map[string]string{"name": "Genera\u200bl", "kind": "public"}, 422, "invalid_name"},
		{"room name bidi override", "POST", "/rooms", map[string]string{"name": "evil\u202etxt", "kind": "public"}, 422, "invalid_name"},
		{"search NUL", "GET", "/search?q=a%00b", nil, 400, "invalid_query"},
		{"message client id spaces", "POST", r + "/messages", map[string]string{"body": "x", "client_msg_id": "a b"}, 422, "invalid_client_msg_id"},
		{"message client id long", "POST", r + "/messages", map[string]string{"body": "x", "client_msg_id": strings.Repeat("c", 65)}, 422, "invalid_client_msg_id"},
		{"message to unknown room", "POST", "/rooms/999/messages", map[string]string{"body": "x"}, 404, "room_not_found"},
		{"history bad before_seq", "GET", r + "/messages?before_seq=x", nil, 400, "invalid_query"},
		{"history negative after_seq", "GET", r + "/messages?after_seq=-1", nil, 400, "invalid_query"},
		{"history bad limit", "GET", r + "/messages?limit=lots", nil, 400, "invalid_query"},
		{"edit empty", "PATCH", m, map[string]string{"body": "  "}, 422, "empty_body"},
		{"edit missing body", "PATCH", m, map[string]string{}, 422, "empty_body"},
		{"edit unknown message", "PATCH", "/messages/999", map[string]string{"body": "x"}, 404, "message_not_found"},
		{"react junk", "POST", m + "/reactions/abc", nil, 422, "invalid_emoji"},
		{"react two emoji", "POST", m + "/reactions/" + url.PathEscape("👍👍"), nil, 422, "invalid_emoji"},
		{"react html", "POST", m + "/reactions/" + url.PathEscape("<b>"), nil, 422, "invalid_emoji"},
		{"react long", "POST", m + "/reactions/" + url.PathEscape(":"+strings.Repeat("a", 40)+":"), nil, 422, "invalid_emoji"},
		{"read missing seq", "POST", r + "/read", map[string]any{}, 422, "invalid_seq"},
		{"read negative", "POST", r + "/read", map[string]any{"seq": -1}, 422, "invalid_seq"},
		{"read wrong type", "POST", r + "/read", map[string]any{"seq": "1"}, 422, "invalid_field"},
		{"dm self", "POST", "/dms", map[string]any{"user_id": 1}, 422, "invalid_user_id"},
		{"dm zero", "POST", "/dms", map[string]any{}, 422, "invalid_user_id"},
		{"invite zero", "POST", r + "/members", map[string]any{"user_id": 0}, 422, "invalid_user_id"},
		{"invite bad username", "POST", r + "/members", map[string]any{"user_id": 5, "username": "a\x00b"}, 422, "invalid_username"},
		{"search no q", "GET", "/search", nil, 400, "invalid_query"},
		{"search blank q", "GET", "/search?q=%20%20", nil, 400, "invalid_query"},
		{"search long q", "GET", "/search?q=" + strings.Repeat("q", 257), nil, 422, "invalid_query"},
		{"search bad room", "GET", "/search?q=x&room_id=abc", nil, 400, "invalid_query"},
		{"search bad cursor", "GET", "/search?q=x&cursor=-4", nil, 400, "invalid_query"},
		{"stats bad id", "GET", "/users/zero/stats", nil, 404, "not_found"},
		{"unknown route", "GET", "/nope", nil, 404, "not_found"},
		{"oversize body", "POST", r + "/messages", `{"body":"` + strings.Repeat("x", 300<<10) + `"}`, 413, "body_too_large"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, raw, _ := h.call(c.method, c.path, alice, c.body)
			if status != c.status || errCode(raw) != c.code {
				t.Fatalf("%s %s: %d %s, want %d %s", c.method, c.path, status, raw, c.status, c.code)
			}
		})
	}
	// FTS syntax in the query is quoted, never an error.
	for _, q := range []string{`"unbalanced`, `a AND (b OR`, `NEAR(x y)`, `*`, `-x`, `col:val`, `^start`, `!!!`} {
		status, raw, _ := h.call("GET", "/search?q="+url.QueryEscape(q), alice, nil)
		if status != 200 {
			t.Errorf("search %q: %d %s", q, status, raw)
		}
	}
}

func TestRoomsAndMembership(t *testing.T) {
	h := start(t, nil)
	alice, bob, carol := h.user(1, "alice"), h.user(2, "bob"), h.user(3, "carol")
	admin := h.admin(9, "root")

	pub := h.createRoom(alice, "Random", "public")
	if pub.Kind != "public" || !pub.IsMember || pub.Role == nil || *pub.Role != "owner" || pub.MemberCount != 1 || pub.CreatedBy != 1 {
		t.Fatalf("created room = %+v", pub)
	}
	priv := h.createRoom(alice, "Secret", "private")
	def := h.createRoom(alice, "defaulted", "")
	if def.Kind != "public" {
		t.Fatalf("default kind = %q", def.Kind)
	}

	var list struct {
		Rooms      []chat.RoomView `json:"rooms"`
		NextCursor *int64          `json:"next_cursor"`
	}
	h.must(200, "GET", "/rooms", bob, nil, &list)
	names := map[string]chat.RoomView{}
	for _, r := range list.Rooms {
		names[r.Name] = r
	}
	if _, ok := names["Secret"]; ok || len(list.Rooms) != 3 || list.NextCursor != nil {
		t.Fatalf("bob's rooms = %+v", list)
	}
	if r := names["Random"]; r.IsMember || r.Role != nil || r.Unread != 0 {
		t.Fatalf("non-member view = %+v", r)
	}
	if r := names["General"]; !r.IsMember || !r.IsDefault {
		t.Fatalf("bob is not in General: %+v", r)
	}
	// Paging with a cursor.
	h.must(200, "GET", "/rooms?limit=2", bob, nil, &list)
	if len(list.Rooms) != 2 || list.NextCursor == nil {
		t.Fatalf("page 1 = %+v", list)
	}
	h.must(200, "GET", fmt.Sprintf("/rooms?limit=2&cursor=%d", *list.NextCursor), bob, nil, &list)
	if len(list.Rooms) != 1 || list.NextCursor != nil {
		t.Fatalf("page 2 = %+v", list)
	}

	// Private rooms are invisible to non-members: 404 everywhere.
	p := "/rooms/" + itoa(priv.ID)
	for _, c := range []struct{ method, path string }{
		{"GET", p}, {"PATCH", p}, {"DELETE", p}, {"POST", p + "/join"}, {"POST", p + "/leave"},
		{"GET", p + "/members"}, {"POST", p + "/members"}, {"DELETE", p + "/members/1"},
		{"GET", p + "/messages"}, {"POST", p + "/messages"}, {"POST", p + "/read"}, {"GET", p + "/online"},
		{"GET", "/search?q=x&room_id=" + itoa(priv.ID)},
	} {
		var body any
		if c.method == "POST" || c.method == "PATCH" {
			body = map[string]any{"name": "x", "body": "x", "seq": 1, "user_id": 3}
		}
		status, raw, _ := h.call(c.method, c.path, bob, body)
		if status != 404 {
			t.Errorf("bob %s %s: %d %s, want 404", c.method, c.path, status, raw)
		}
	}

	// Owner invites bob; any member may invite.
	var m chat.Member
	h.must(201, "POST", p+"/members", alice, map[string]any{"user_id": 2, "username": "bobby"}, &m)
	// chat-service saw bob's own token, and that name wins over the inviter's.
	if m.UserID != 2 || m.Username != "bob" || m.Role != "member" {
		t.Fatalf("invited = %+v", m)
	}
	// A name for a user never seen is taken from the request...
	h.must(201, "POST", p+"/members", alice, map[string]any{"user_id": 5, "username": "eve"}, &m)
	if m.Username != "eve" {
		t.Fatalf("invited unknown = %+v", m)
	}
	// ...and corrected once that user calls with their own token.
	h.must(200, "GET", p, h.user(5, "eve_real"), nil, nil)
	h.must(200, "POST", p+"/members", alice, map[string]any{"user_id": 2}, nil)
	h.must(200, "GET", p, bob, nil, nil)
	var members struct {
		Members    []chat.Member `json:"members"`
		NextCursor *int64        `json:"next_cursor"`
	}
	h.must(200, "GET", p+"/members", bob, nil, &members)
	if len(members.Members) != 3 || members.Members[1].Username != "bob" || members.Members[2].Username != "eve_real" {
		t.Fatalf("members = %+v", members)
	}
	// Inviting someone chat-service has never seen stores an empty name.
	h.must(201, "POST", p+"/members", bob, map[string]any{"user_id": 77}, &m)
	if m.Username != "" {
		t.Fatalf("unknown user's name = %q", m.Username)
	}
	h.must(200, "GET", p+"/members?limit=1", alice, nil, &members)
	if len(members.Members) != 1 || members.NextCursor == nil || *members.NextCursor != 1 {
		t.Fatalf("members page = %+v", members)
	}

	// Only owners and admins change or delete a room.
	r := "/rooms/" + itoa(pub.ID)
	h.must(200, "POST", r+"/join", bob, nil, nil)
	h.must(200, "POST", r+"/join", bob, nil, nil)
	status, raw, _ := h.call("PATCH", r, bob, map[string]any{"name": "mine"})
	if status != 403 || errCode(raw) != "forbidden" {
		t.Fatalf("member patch: %d %s", status, raw)
	}
	var v chat.RoomView
	h.must(200, "PATCH", r, alice, map[string]any{"description": "  chit chat  "}, &v)
	if v.Description != "chit chat" || v.Name != "Random" {
		t.Fatalf("patched = %+v", v)
	}
	h.must(200, "PATCH", r, admin, map[string]any{"name": "Random2"}, &v)
	if v.Name != "Random2" {
		t.Fatalf("admin patch = %+v", v)
	}
	status, raw, _ = h.call("PATCH", "/rooms/1", admin, map[string]any{"archived": true})
	if status != 409 || errCode(raw) != "default_room" {
		t.Fatalf("archive General: %d %s", status, raw)
	}
	status, _, _ = h.call("DELETE", "/rooms/1", admin, nil)
	if status != 409 {
		t.Fatalf("delete General: %d", status)
	}

	// Archived rooms are read-only.
	h.must(200, "PATCH", r, alice, map[string]any{"archived": true}, &v)
	if !v.Archived {
		t.Fatal("not archived")
	}
	status, raw, _ = h.call("POST", r+"/messages", bob, map[string]any{"body": "hi"})
	if status != 409 || errCode(raw) != "room_archived" {
		t.Fatalf("post to archived: %d %s", status, raw)
	}
	status, _, _ = h.call("POST", r+"/join", carol, nil)
	if status != 409 {
		t.Fatalf("join archived: %d", status)
	}
	h.must(200, "PATCH", r, alice, map[string]any{"archived": false}, nil)

	// Kick and leave.
	status, _, _ = h.call("DELETE", r+"/members/1", bob, nil)
	if status != 403 {
		t.Fatalf("member kicks owner: %d", status)
	}
	h.must(204, "DELETE", p+"/members/2", alice, nil, nil)
	h.must(404, "GET", p, bob, nil, nil)
	h.must(404, "DELETE", p+"/members/2", alice, nil, nil)
	h.must(204, "DELETE", r+"/members/2", bob, nil, nil) // self = leave
	h.must(204, "POST", r+"/leave", bob, nil, nil)       // already out: no-op
	h.must(200, "GET", r, bob, nil, &v)
	if v.IsMember {
		t.Fatal("bob still a member after leaving")
	}
	// The owner leaving hands the room to the longest-standing member.
	h.must(200, "POST", r+"/join", carol, nil, nil)
	h.must(204, "POST", r+"/leave", alice, nil, nil)
	h.must(200, "GET", r, carol, nil, &v)
	if v.Role == nil || *v.Role != "owner" {
		t.Fatalf("carol after owner left = %+v", v)
	}

	// Delete.
	status, _, _ = h.call("DELETE", "/rooms/"+itoa(def.ID), bob, nil)
	if status != 403 {
		t.Fatalf("non-owner delete: %d", status)
	}
	h.must(204, "DELETE", "/rooms/"+itoa(def.ID), alice, nil, nil)
	h.must(404, "GET", "/rooms/"+itoa(def.ID), alice, nil, nil)
	h.must(204, "DELETE", r, admin, nil, nil)
}

func TestDirectMessages(t *testing.T) {
	dir := newUserDirectory(t, map[int64]string{1: "alice", 2: "bob", 3: "carol", 42: "zed"})
	h := start(t, map[string]string{"USER_SERVICE_URL": dir.URL})
	alice, bob, carol := h.user(1, "alice"), h.user(2, "bob"), h.user(3, "carol")
	h.must(200, "GET", "/rooms", bob, nil, nil) // chat-service learns bob's name

	var dm chat.RoomView
	h.must(201, "POST", "/dms", alice, map[string]any{"user_id": 2}, &dm)
	if dm.Kind != "dm" || dm.DMUser == nil || dm.DMUser.UserID != 2 || dm.DMUser.Username != "bob" || dm.Name != "bob" || dm.MemberCount != 2 {
		t.Fatalf("dm = %+v", dm)
	}
	var again chat.RoomView
	h.must(200, "POST", "/dms", bob, map[string]any{"user_id": 1}, &again)
	if again.ID != dm.ID || again.DMUser.UserID != 1 || again.Name != "alice" {
		t.Fatalf("bob's view of the dm = %+v", again)
	}
	d := "/rooms/" + itoa(dm.ID)
	h.post(bob, dm.ID, "psst", "")
	h.must(404, "GET", d, carol, nil, nil)
	h.must(404, "GET", d+"/messages", carol, nil, nil)
	for _, c := range []struct{ method, path string }{{"PATCH", d}, {"DELETE", d}, {"POST", d + "/leave"}, {"POST", d + "/members"}, {"DELETE", d + "/members/2"}} {
		status, raw, _ := h.call(c.method, c.path, alice, map[string]any{"name": "x", "user_id": 3})
		if status != 403 {
			t.Errorf("%s %s on a dm: %d %s", c.method, c.path, status, raw)
		}
	}
	var list struct{ Rooms []chat.RoomView }
	h.must(200, "GET", "/rooms", alice, nil, &list)
	found := false
	for _, r := range list.Rooms {
		if r.ID == dm.ID {
			found = r.Unread == 1 && r.LastMessage != nil && r.LastMessage.Body == "psst"
		}
	}
	if !found {
		t.Fatalf("dm not listed with unread 1: %+v", list.Rooms)
	}
	// Someone chat-service never saw is named by the directory, not by the
	// name the client sent.
	h.must(201, "POST", "/dms", alice, map[string]any{"user_id": 42, "username": "impostor"}, &dm)
	if dm.DMUser.Username != "zed" || dm.Name != "zed" {
		t.Fatalf("dm with a user chat-service never saw = %+v", dm)
	}
	if got := dir.lastAuthorization(); got != "Bearer "+alice.token {
		t.Fatalf("the directory was asked with Authorization %q, want the caller's", got)
	}

	// An id the directory does not know is no DM.
	status, raw, _ := h.call("POST", "/dms", alice, map[string]any{"user_id": 77, "username": "ghost"})
	if status != 404 || errCode(raw) != "user_not_found" {
		t.Fatalf("dm with an unknown user: %d %s", status, raw)
	}
	var rooms struct{ Rooms []chat.RoomView }
	h.must(200, "GET", "/rooms", alice, nil, &rooms)
	for _, r := range rooms.Rooms {
		if r.DMUser != nil && r.DMUser.UserID == 77 {
			t.Fatalf("a dm with an unknown user was made: %+v", r)
		}
	}

	// A directory that answers 5xx, or not at all, is 503: never a DM with
	// someone it could not vouch for, even one chat-service has seen.
	h.must(200, "GET", "/rooms", carol, nil, nil)
	dir.fail(http.StatusInternalServerError)
	status, raw, _ = h.call("POST", "/dms", alice, map[string]any{"user_id": 3})
	if status != 503 || errCode(raw) != "directory_unavailable" {
		t.Fatalf("dm while the directory answers 500: %d %s", status, raw)
	}
	dir.Close()
	status, raw, _ = h.call("POST", "/dms", alice, map[string]any{"user_id": 3})
	if status != 503 || errCode(raw) != "directory_unavailable" {
		t.Fatalf("dm while the directory is down: %d %s", status, raw)
	}
	h.must(200, "GET", "/rooms", alice, nil, &rooms)
	for _, r := range rooms.Rooms {
		if r.DMUser != nil && r.DMUser.UserID == 3 {
			t.Fatalf("a dm was made while the directory was down: %+v", r)
		}
	}
}

func TestDirectMessageDirectoryMisconfigured(t *testing.T) {
	// A USER_SERVICE_URL that lands on something else (a bare 404, not
	// user-service's profile_not_found) is a directory that cannot answer,
	// not a user that does not exist.
	other := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(other.Close)
	h := start(t, map[string]string{"USER_SERVICE_URL": other.URL})
	status, raw, _ := h.call("POST", "/dms", h.user(1, "alice"), map[string]any{"user_id": 2})
	if status != 503 || errCode(raw) != "directory_unavailable" {
		t.Fatalf("dm with the directory misconfigured: %d %s", status, raw)
	}
}

func TestMessagesHTTP(t *testing.T) {
	h := start(t, nil)
	alice, bob, carol := h.user(1, "alice"), h.user(2, "bob"), h.user(3, "carol")
	admin := h.admin(9, "root")
	room := h.createRoom(alice, "talk", "public")
	r := "/rooms/" + itoa(room.ID)
	h.must(200, "POST", r+"/join", bob, nil, nil)

	// Non-members of a public room may read but not post.
	status, raw, _ := h.call("POST", r+"/messages", carol, map[string]any{"body": "hi"})
	if status != 403 || errCode(raw) != "not_member" {
		t.Fatalf("non-member post: %d %s", status, raw)
	}

	m1 := h.post(alice, room.ID, "hello 😀", "c-1")
	if m1.Seq != 1 || m1.Body != "hello 😀" || m1.Username != "alice" || m1.ClientMsgID == nil || *m1.ClientMsgID != "c-1" || m1.Deleted || m1.EditedAt != nil || m1.Reactions == nil {
		t.Fatalf("m1 = %+v", m1)
	}
	// Retrying with the same client_msg_id returns the original.
	status, raw, hdr := h.call("POST", r+"/messages", alice, map[string]any{"body": "changed", "client_msg_id": "c-1"})
	var retry chat.Message
	json.Unmarshal(raw, &retry)
	if status != 201 || retry.ID != m1.ID || retry.Seq != 1 || retry.Body != "hello 😀" || hdr.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry: %d %s", status, raw)
	}
	// The same client id in another room is a conflict, not a silent no-op.
	other := h.createRoom(alice, "other", "public")
	status, raw, _ = h.call("POST", "/rooms/"+itoa(other.ID)+"/messages", alice, map[string]any{"body": "x", "client_msg_id": "c-1"})
	if status != 409 || errCode(raw) != "client_msg_id_reused" {
		t.Fatalf("reused id: %d %s", status, raw)
	}
	for i := 2; i <= 6; i++ {
		h.post(bob, room.ID, fmt.Sprint("m", i), "")
	}

	var page struct {
		Messages   []chat.Message `json:"messages"`
		NextCursor *int64         `json:"next_cursor"`
	}
	h.must(200, "GET", r+"/messages?limit=2", carol, nil, &page)
	if len(page.Messages) != 2 || page.Messages[0].Seq != 5 || page.Messages[1].Seq != 6 || page.NextCursor == nil || *page.NextCursor != 5 {
		t.Fatalf("newest page = %+v", page)
	}
	h.must(200, "GET", fmt.Sprintf("%s/messages?limit=10&before_seq=%d", r, *page.NextCursor), carol, nil, &page)
	if len(page.Messages) != 4 || page.Messages[0].Seq != 1 || page.NextCursor != nil {
		t.Fatalf("older page = %+v", page)
	}
	h.must(200, "GET", r+"/messages?after_seq=4&limit=1000", carol, nil, &page)
	if len(page.Messages) != 2 || page.Messages[0].Seq != 5 {
		t.Fatalf("after page = %+v", page)
	}

	// Edit: the author only; 403 for other members and for visible non-members.
	m := "/messages/" + itoa(m1.ID)
	for _, u := range []user{bob, carol, admin} {
		status, raw, _ := h.call("PATCH", m, u, map[string]any{"body": "hijack"})
		if status != 403 || errCode(raw) != "not_author" {
			t.Fatalf("%s edits alice's message: %d %s", u.name, status, raw)
		}
	}
	var edited chat.Message
	h.must(200, "PATCH", m, alice, map[string]any{"body": "hello, edited"}, &edited)
	if edited.Body != "hello, edited" || edited.EditedAt == nil || edited.Seq != 1 {
		t.Fatalf("edited = %+v", edited)
	}

	// Reactions, URL-escaped.
	thumbs := "/reactions/" + url.PathEscape("👍")
	var reacted chat.Message
	h.must(200, "POST", m+thumbs, bob, nil, &reacted)
	h.must(200, "POST", m+thumbs, bob, nil, &reacted) // idempotent
	h.must(200, "POST", m+"/reactions/:tada:", alice, nil, &reacted)
	h.must(200, "POST", m+thumbs, alice, nil, &reacted)
	if len(reacted.Reactions) != 2 || reacted.Reactions[0].Emoji != "👍" || reacted.Reactions[0].Count != 2 || reacted.Reactions[1].Emoji != ":tada:" {
		t.Fatalf("reactions = %+v", reacted.Reactions)
	}
	status, _, _ = h.call("POST", m+thumbs, carol, nil)
	if status != 403 {
		t.Fatalf("non-member reacts: %d", status)
	}
	h.must(200, "DELETE", m+thumbs, bob, nil, &reacted)
	if reacted.Reactions[0].Count != 1 {
		t.Fatalf("after unreact = %+v", reacted.Reactions)
	}

	// Delete: author, room owner or admin; tombstones stay.
	m2 := "/messages/" + itoa(m1.ID+1)
	status, _, _ = h.call("DELETE", m, bob, nil)
	if status != 403 {
		t.Fatalf("member deletes another's message: %d", status)
	}
	var tomb chat.Message
	h.must(200, "DELETE", m2, alice, nil, &tomb) // room owner
	if !tomb.Deleted || tomb.Body != "" {
		t.Fatalf("tombstone = %+v", tomb)
	}
	h.must(200, "DELETE", m, admin, nil, &tomb)
	h.must(200, "DELETE", m, admin, nil, &tomb) // again: unchanged
	status, raw, _ = h.call("PATCH", m, alice, map[string]any{"body": "resurrect"})
	if status != 409 || errCode(raw) != "message_deleted" {
		t.Fatalf("edit tombstone: %d %s", status, raw)
	}
	h.must(200, "GET", r+"/messages", carol, nil, &page)
	if len(page.Messages) != 6 || !page.Messages[0].Deleted || page.Messages[0].Body != "" || len(page.Messages[0].Reactions) != 0 {
		t.Fatalf("history with tombstones = %+v", page.Messages[:2])
	}

	// A private room's messages are 404 to outsiders, even by message id.
	priv := h.createRoom(alice, "hidden", "private")
	secret := h.post(alice, priv.ID, "secret plans", "")
	s := "/messages/" + itoa(secret.ID)
	for _, c := range []struct{ method, path string }{{"PATCH", s}, {"DELETE", s}, {"POST", s + thumbs}, {"DELETE", s + thumbs}} {
		status, raw, _ := h.call(c.method, c.path, bob, map[string]any{"body": "x"})
		if status != 404 || errCode(raw) != "message_not_found" {
			t.Errorf("bob %s %s: %d %s", c.method, c.path, status, raw)
		}
	}
}

func TestReadMarkersOnlineSearchStats(t *testing.T) {
	h := start(t, nil)
	alice, bob, carol := h.user(1, "alice"), h.user(2, "bob"), h.user(3, "carol")
	room := h.createRoom(alice, "reads", "public")
	r := "/rooms/" + itoa(room.ID)
	h.must(200, "POST", r+"/join", bob, nil, nil)
	for i := range 4 {
		h.post(alice, room.ID, fmt.Sprint("searchable note ", i), "")
	}
	h.post(bob, room.ID, "my own", "")

	var v chat.RoomView
	h.must(200, "GET", r, bob, nil, &v)
	if v.Unread != 4 || v.LastReadSeq != 0 || v.LastMessage == nil || v.LastMessage.Body != "my own" {
		t.Fatalf("before read = %+v", v)
	}
	var st chat.ReadState
	h.must(200, "POST", r+"/read", bob, map[string]any{"seq": 2}, &st)
	if st.LastReadSeq != 2 || st.Unread != 2 || st.RoomID != room.ID {
		t.Fatalf("read 2 = %+v", st)
	}
	h.must(200, "POST", r+"/read", bob, map[string]any{"seq": 1}, &st)
	if st.LastReadSeq != 2 {
		t.Fatalf("marker moved backwards: %+v", st)
	}
	h.must(200, "POST", r+"/read", bob, map[string]any{"seq": 999}, &st)
	if st.LastReadSeq != 5 || st.Unread != 0 {
		t.Fatalf("marker not clamped: %+v", st)
	}
	status, raw, _ := h.call("POST", r+"/read", carol, map[string]any{"seq": 1})
	if status != 403 || errCode(raw) != "not_member" {
		t.Fatalf("non-member read: %d %s", status, raw)
	}

	var online struct {
		Online []chat.UserRef `json:"online"`
	}
	h.must(200, "GET", r+"/online", carol, nil, &online)
	if online.Online == nil || len(online.Online) != 0 {
		t.Fatalf("online = %s", h.must(200, "GET", r+"/online", carol, nil, nil))
	}

	var res struct {
		Messages   []chat.SearchHit `json:"messages"`
		NextCursor *int64           `json:"next_cursor"`
	}
	h.must(200, "GET", "/search?q=SEARCHABLE+not&limit=3", carol, nil, &res)
	if len(res.Messages) != 3 || res.NextCursor == nil || res.Messages[0].RoomName != "reads" || res.Messages[0].Seq != 4 {
		t.Fatalf("search = %+v", res)
	}
	h.must(200, "GET", fmt.Sprintf("/search?q=searchable&cursor=%d", *res.NextCursor), carol, nil, &res)
	if len(res.Messages) != 1 || res.NextCursor != nil {
		t.Fatalf("search page 2 = %+v", res)
	}
	priv := h.createRoom(alice, "priv", "private")
	h.post(alice, priv.ID, "searchable secret", "")
	h.must(200, "GET", "/search?q=secret", carol, nil, &res)
	if len(res.Messages) != 0 {
		t.Fatalf("carol found a private message: %+v", res)
	}
	h.must(200, "GET", "/search?q=secret&room_id="+itoa(priv.ID), alice, nil, &res)
	if len(res.Messages) != 1 {
		t.Fatalf("alice's room search = %+v", res)
	}

	var stats chat.Stats
	h.must(200, "GET", "/users/1/stats", carol, nil, &stats)
	if stats.MessagesSent != 5 || stats.RoomsCreated != 2 || stats.RoomsJoined != 3 || stats.LastActiveAt == nil {
		t.Fatalf("stats = %+v", stats)
	}
	h.must(200, "GET", "/users/12345/stats", carol, nil, &stats)
	if stats.MessagesSent != 0 || stats.LastActiveAt != nil {
		t.Fatalf("unknown user's stats = %+v", stats)
	}
}

// TestSendRateLimitHTTP checks the per-user limit answers 429 with
// Retry-After.
func TestSendRateLimitHTTP(t *testing.T) {
	h := start(t, map[string]string{"SEND_RATE": "1", "SEND_BURST": "2"})
	alice := h.user(1, "alice")
	h.post(alice, 1, "one", "")
	h.post(alice, 1, "two", "")
	status, raw, hdr := h.call("POST", "/rooms/1/messages", alice, map[string]any{"body": "three"})
	if status != 429 || errCode(raw) != "rate_limited" || hdr.Get("Retry-After") == "" {
		t.Fatalf("third message: %d %s %v", status, raw, hdr)
	}
}
