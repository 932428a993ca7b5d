package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/platform/testkit"
)

type adminRoomList struct {
	Rooms      []chat.AdminRoom `json:"rooms"`
	NextCursor *int64           `json:"next_cursor"`
}

func (h *harness) adminRooms(u user, query string) map[string]chat.AdminRoom {
	h.t.Helper()
	var list adminRoomList
	h.must(200, "GET", "/admin/rooms"+query, u, nil, &list)
	out := map[string]chat.AdminRoom{}
	for _, r := range list.Rooms {
		out[r.Name] = r
	}
	return out
}

func TestAdminRoutesRefuseNonAdmins(t *testing.T) {
	h := start(t, nil)
	alice := h.user(1, "alice")
	room := h.createRoom(alice, "mine", "public")
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/admin/rooms", nil},
		{"GET", "/admin/usage", nil},
		// The room's owner is no admin either; a bad body or id does not
		// change the answer.
		{"PATCH", "/admin/rooms/" + itoa(room.ID), map[string]bool{"archived": true}},
		{"PATCH", "/admin/rooms/" + itoa(room.ID), "{"},
		{"PATCH", "/admin/rooms/x", map[string]bool{"archived": true}},
		{"DELETE", "/admin/rooms/" + itoa(room.ID), nil},
		{"DELETE", "/admin/rooms/0", nil},
	} {
		status, raw, _ := h.call(c.method, c.path, alice, c.body)
		if status != http.StatusForbidden || errCode(raw) != "forbidden" {
			t.Errorf("alice %s %s = %d %s, want 403 forbidden", c.method, c.path, status, raw)
		}
		if status, _, _ := h.call(c.method, c.path, user{}, c.body); status != http.StatusUnauthorized {
			t.Errorf("anonymous %s %s = %d, want 401", c.method, c.path, status)
		}
	}
	h.must(200, "GET", "/rooms/"+itoa(room.ID), alice, nil, nil) // untouched
}

func TestAdminRooms(t *testing.T) {
	h := start(t, nil)
	alice, bob := h.user(1, "alice"), h.user(2, "bob")
	admin := h.admin(9, "root")
	pub := h.createRoom(alice, "Open", "public")
	priv := h.createRoom(alice, "Hidden", "private")
	h.must(200, "POST", "/rooms/"+itoa(pub.ID)+"/join", bob, nil, nil)
	h.must(201, "POST", "/rooms/"+itoa(priv.ID)+"/members", alice, map[string]int64{"user_id": 2}, nil)
	h.post(alice, pub.ID, "one", "")
	last := h.post(bob, pub.ID, "two", "")

	rooms := h.adminRooms(admin, "")
	if len(rooms) != 3 {
		t.Fatalf("admin rooms = %+v, want General, Open and Hidden", rooms)
	}
	if r := rooms["Open"]; r.MemberCount != 2 || r.MessageCount != 2 || r.LastMessageAt == nil || !r.LastMessageAt.Equal(last.CreatedAt) || r.CreatedBy != 1 {
		t.Errorf("Open = %+v", r)
	}
	if r := rooms["Hidden"]; r.Kind != "private" || r.MemberCount != 2 || r.MessageCount != 0 || r.LastMessageAt != nil {
		t.Errorf("Hidden = %+v", r)
	}
	// Paged by id, as GET /rooms.
	var page adminRoomList
	h.must(200, "GET", "/admin/rooms?limit=2", admin, nil, &page)
	if len(page.Rooms) != 2 || page.NextCursor == nil {
		t.Fatalf("page 1 = %+v", page)
	}
	h.must(200, "GET", "/admin/rooms?limit=2&cursor="+itoa(*page.NextCursor), admin, nil, &page)
	if len(page.Rooms) != 1 || page.Rooms[0].Name != "Hidden" || page.NextCursor != nil {
		t.Fatalf("page 2 = %+v", page)
	}
	for _, q := range []string{"?cursor=-1", "?cursor=x", "?limit=x"} {
		if status, raw, _ := h.call("GET", "/admin/rooms"+q, admin, nil); status != 400 {
			t.Errorf("GET /admin/rooms%s = %d %s, want 400", q, status, raw)
		}
	}

	// Archiving: the room's sockets hear it as they do an owner's change.
	bc := h.connect(bob)
	bc.subscribe(pub.ID, nil)
	bc.subscribe(priv.ID, nil)
	var r chat.AdminRoom
	h.must(200, "PATCH", "/admin/rooms/"+itoa(pub.ID), admin, map[string]bool{"archived": true}, &r)
	if !r.Archived || r.MemberCount != 2 {
		t.Fatalf("archived = %+v", r)
	}
	if f := bc.next("room_updated"); !f["room"].(map[string]any)["archived"].(bool) || f["deleted"].(bool) {
		t.Fatalf("frame = %v", f)
	}
	bc.send(map[string]any{"type": "send", "room_id": pub.ID, "body": "late", "client_msg_id": "late"})
	bc.expectError("room_archived")
	// The same state again is no change.
	h.must(200, "PATCH", "/admin/rooms/"+itoa(pub.ID), admin, map[string]bool{"archived": true}, &r)
	h.must(200, "PATCH", "/admin/rooms/"+itoa(pub.ID), admin, map[string]bool{"archived": false}, &r)
	if r.Archived {
		t.Fatalf("unarchived = %+v", r)
	}
	if f := bc.next("room_updated"); f["room"].(map[string]any)["archived"].(bool) {
		t.Fatalf("frame = %v; want the unarchived room (one frame per change)", f)
	}
	h.post(bob, pub.ID, "back", "")
	// A private room the admin is not in.
	h.must(200, "PATCH", "/admin/rooms/"+itoa(priv.ID), admin, map[string]bool{"archived": true}, &r)
	if !r.Archived || r.Name != "Hidden" {
		t.Fatalf("archived private = %+v", r)
	}
	if f := bc.next("room_updated"); num(f["room"].(map[string]any)["id"]) != priv.ID {
		t.Fatalf("frame = %v", f)
	}

	// Bad requests are 4xx and change nothing: an id that is not a
	// positive integer names nothing (404, as on every route), a bad body
	// is 422 (400 when it is not JSON).
	for _, c := range []struct {
		method, path string
		body         any
		status       int
		code         string
	}{
		{"PATCH", "/admin/rooms/x", map[string]bool{"archived": true}, 404, "not_found"},
		{"PATCH", "/admin/rooms/0", map[string]bool{"archived": true}, 404, "not_found"},
		{"PATCH", "/admin/rooms/9999", map[string]bool{"archived": true}, 404, "room_not_found"},
		{"PATCH", "/admin/rooms/" + itoa(pub.ID), map[string]string{"name": "renamed"}, 422, "invalid_archived"},
		{"PATCH", "/admin/rooms/" + itoa(pub.ID), map[string]string{"archived": "yes"}, 422, "invalid_field"},
		{"PATCH", "/admin/rooms/" + itoa(pub.ID), "{", 400, ""},
		{"PATCH", "/admin/rooms/1", map[string]bool{"archived": true}, 409, "default_room"},
		{"DELETE", "/admin/rooms/1", nil, 409, "default_room"},
		{"DELETE", "/admin/rooms/x", nil, 404, "not_found"},
		{"DELETE", "/admin/rooms/9999", nil, 404, "room_not_found"},
	} {
		status, raw, _ := h.call(c.method, c.path, admin, c.body)
		if status != c.status || (c.code != "" && errCode(raw) != c.code) || errCode(raw) == "" {
			t.Errorf("%s %s %v = %d %s, want %d %s", c.method, c.path, c.body, status, raw, c.status, c.code)
		}
	}
	if g := h.adminRooms(admin, "")["General"]; g.Archived {
		t.Fatalf("General = %+v", g)
	}
	if o := h.adminRooms(admin, "")["Open"]; o.Name != "Open" || o.Archived {
		t.Fatalf("Open after the bad requests = %+v", o)
	}

	// Deleting: the room, its members and messages go at once; its
	// sockets hear it as they do an owner's delete.
	h.must(204, "DELETE", "/admin/rooms/"+itoa(priv.ID), admin, nil, nil)
	if f := bc.next("room_updated"); !f["deleted"].(bool) || num(f["room"].(map[string]any)["id"]) != priv.ID {
		t.Fatalf("frame = %v", f)
	}
	for _, u := range []user{alice, bob} {
		if status, _, _ := h.call("GET", "/rooms/"+itoa(priv.ID), u, nil); status != 404 {
			t.Errorf("%s GET the deleted room = %d", u.name, status)
		}
	}
	if status, _, _ := h.call("DELETE", "/admin/rooms/"+itoa(priv.ID), admin, nil); status != 404 {
		t.Errorf("deleting again = %d, want 404", status)
	}
	if _, ok := h.adminRooms(admin, "")["Hidden"]; ok {
		t.Fatal("the deleted room is still listed")
	}
}

func TestAdminUsage(t *testing.T) {
	h := start(t, nil)
	alice, bob, carol := h.user(1, "alice"), h.user(2, "bob"), h.user(3, "carol")
	admin := h.admin(9, "root")
	get := func() chat.Usage {
		var u chat.Usage
		h.must(200, "GET", "/admin/usage", admin, nil, &u)
		return u
	}
	u := get()
	if len(u.MessagesPerDay) != 30 || u.ActiveToday != 0 || u.MessagesToday != 0 {
		t.Fatalf("usage of a new service = %+v", u)
	}
	if last := u.MessagesPerDay[29]; last.Day != u.Day || last.Count != 0 {
		t.Fatalf("today = %+v", last)
	}
	first, _ := time.Parse("2006-01-02", u.MessagesPerDay[0].Day)
	if d, _ := time.Parse("2006-01-02", u.Day); d.Sub(first) != 29*24*time.Hour {
		t.Fatalf("days %s … %s do not span 30 days", u.MessagesPerDay[0].Day, u.Day)
	}

	// Alice and Bob send (three messages); Carol only opens a socket;
	// reading (the admin's own requests, a GET of anyone's) is not activity.
	h.post(alice, 1, "one", "")
	h.post(alice, 1, "two", "")
	h.post(bob, 1, "three", "")
	h.connect(carol)
	h.must(200, "GET", "/rooms", h.user(4, "dave"), nil, nil)
	testkit.Eventually(t, "three active users", 10*time.Second, func() bool { return get().ActiveToday == 3 })
	u = get()
	if u.MessagesToday != 3 || u.MessagesPerDay[29].Count != 3 {
		t.Fatalf("usage after three messages = %+v", u)
	}
	var sum int64
	for _, d := range u.MessagesPerDay {
		sum += d.Count
	}
	if sum != 3 {
		t.Fatalf("30-day total = %d, want 3", sum)
	}
	// More activity by the same users is not counted twice.
	h.post(alice, 1, "four", "")
	h.connect(bob)
	if u = get(); u.ActiveToday != 3 || u.MessagesToday != 4 {
		t.Fatalf("usage after more of the same = %+v", u)
	}
}
