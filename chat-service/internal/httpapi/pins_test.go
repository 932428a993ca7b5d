package httpapi_test

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"

	"github.com/parleychat/parley/chat-service/internal/chat"
)

type pinList struct {
	Messages []chat.Message `json:"messages"`
}

func pinIDs(l pinList) string {
	ids := make([]int64, len(l.Messages))
	for i, m := range l.Messages {
		ids[i] = m.ID
	}
	return fmt.Sprint(ids)
}

// TestPinsHTTP: members pin and unpin messages of their room; the change
// reaches subscribers as message_updated and every message object carries
// it; everything else — unknown or malformed ids, other rooms' messages,
// tombstones, non-members, archived rooms, the 51st pin — is a clear 4xx.
func TestPinsHTTP(t *testing.T) {
	h := start(t, nil)
	alice, bob, carol := h.user(1, "alice"), h.user(2, "bob"), h.user(3, "carol")
	room := h.createRoom(alice, "pinboard", "public")
	h.must(200, "POST", "/rooms/"+itoa(room.ID)+"/join", bob, nil, nil)
	other := h.createRoom(alice, "elsewhere", "public")
	priv := h.createRoom(alice, "inner", "private")
	m1 := h.post(alice, room.ID, "first", "")
	m2 := h.post(bob, room.ID, "second", "")
	doomed := h.post(bob, room.ID, "doomed", "")
	away := h.post(alice, other.ID, "elsewhere", "")
	secret := h.post(alice, priv.ID, "secret", "")
	pins := "/rooms/" + itoa(room.ID) + "/pins"
	pinOf := func(id int64) string { return pins + "/" + itoa(id) }

	b := h.connect(bob)
	b.subscribe(room.ID, nil)

	// Alice pins m1: the answer and bob's live event carry the pin.
	var got chat.Message
	h.must(200, "POST", pinOf(m1.ID), alice, nil, &got)
	if !got.Pinned || got.PinnedBy == nil || *got.PinnedBy != (chat.UserRef{UserID: 1, Username: "alice"}) || got.PinnedAt == nil || got.Body != "first" {
		t.Fatalf("pin = %+v", got)
	}
	if f := msgOf(b.next("message_updated")); num(f["id"]) != m1.ID || f["pinned"] != true || f["pinned_at"] == nil {
		t.Fatalf("message_updated = %v", f)
	}
	// Pinning again is 200 with the message, and publishes nothing: the
	// next event bob sees is bob's own pin of m2.
	h.must(200, "POST", pinOf(m1.ID), bob, nil, &got)
	if !got.Pinned || got.PinnedBy.UserID != 1 {
		t.Fatalf("pin again = %+v", got)
	}
	h.must(200, "POST", pinOf(m2.ID), bob, nil, nil)
	if f := msgOf(b.next("message_updated")); num(f["id"]) != m2.ID || f["pinned"] != true {
		t.Fatalf("after the idempotent pin, message_updated = %v", f)
	}

	// Newest pin first, to anyone who may read the room (carol is not a
	// member of this public room).
	var l pinList
	h.must(200, "GET", pins, carol, nil, &l)
	if pinIDs(l) != fmt.Sprint([]int64{m2.ID, m1.ID}) {
		t.Fatalf("pins = %s", pinIDs(l))
	}
	// Every message object carries pinned.
	var p page
	h.must(200, "GET", "/rooms/"+itoa(room.ID)+"/messages", carol, nil, &p)
	if len(p.Messages) != 3 || !p.Messages[0].Pinned || !p.Messages[1].Pinned || p.Messages[2].Pinned {
		t.Fatalf("history = %+v", p.Messages)
	}
	h.must(200, "GET", "/messages/"+itoa(m1.ID), carol, nil, &got)
	if !got.Pinned {
		t.Fatalf("permalink = %+v", got)
	}
	raw := h.must(200, "GET", "/messages/"+itoa(doomed.ID), carol, nil, nil)
	if want := `"pinned":false,"pinned_by":null,"pinned_at":null`; !bytes.Contains(raw, []byte(want)) {
		t.Fatalf("an unpinned message: %s, want %s", raw, want)
	}

	// Bad input, for both verbs: never a 500, never a change.
	for _, c := range []struct {
		name, path string
		who        user
		status     int
		code       string
	}{
		{"a malformed room id", "/rooms/abc/pins/" + itoa(m1.ID), alice, 404, "not_found"},
		{"an unknown room", "/rooms/999999/pins/" + itoa(m1.ID), alice, 404, "room_not_found"},
		{"a malformed message id", pins + "/abc", alice, 404, "message_not_found"},
		{"message id 0", pins + "/0", alice, 404, "message_not_found"},
		{"a negative message id", pins + "/-3", alice, 404, "message_not_found"},
		{"a message id past int64", pins + "/99999999999999999999", alice, 404, "message_not_found"},
		{"an unknown message", pins + "/999999", alice, 404, "message_not_found"},
		{"another room's message", pinOf(away.ID), alice, 404, "message_not_found"},
		{"a private room's message through a room bob is in", pinOf(secret.ID), bob, 404, "message_not_found"},
		{"a private room bob is not in", "/rooms/" + itoa(priv.ID) + "/pins/" + itoa(secret.ID), bob, 404, "room_not_found"},
		{"a non-member of a public room", pinOf(m1.ID), carol, 403, "not_member"},
	} {
		for _, method := range []string{"POST", "DELETE"} {
			status, raw, _ := h.call(method, c.path, c.who, nil)
			if status != c.status || errCode(raw) != c.code {
				t.Errorf("%s %s (%s): %d %s, want %d %s", method, c.path, c.name, status, raw, c.status, c.code)
			}
		}
	}
	status, raw2, _ := h.call("GET", "/rooms/"+itoa(priv.ID)+"/pins", bob, nil)
	if status != 404 || errCode(raw2) != "room_not_found" {
		t.Fatalf("a private room's pins as an outsider: %d %s", status, raw2)
	}
	if status, _, _ := h.call("POST", pinOf(m1.ID), user{name: "nobody"}, nil); status != http.StatusUnauthorized {
		t.Fatalf("without a token: %d", status)
	}
	h.must(200, "GET", pins, alice, nil, &l)
	if pinIDs(l) != fmt.Sprint([]int64{m2.ID, m1.ID}) {
		t.Fatalf("pins after the bad requests = %s", pinIDs(l))
	}
	if h.must(200, "GET", "/messages/"+itoa(away.ID), alice, nil, &got); got.Pinned {
		t.Fatal("another room's message was pinned")
	}

	// Deleting a pinned message unpins it; a tombstone cannot be pinned.
	h.must(200, "POST", pinOf(doomed.ID), alice, nil, nil)
	b.next("message_updated")
	h.must(200, "DELETE", "/messages/"+itoa(doomed.ID), bob, nil, nil)
	if f := b.next("message_deleted"); num(f["message_id"]) != doomed.ID || msgOf(f)["pinned"] != false {
		t.Fatalf("message_deleted = %v", f)
	}
	for _, method := range []string{"POST", "DELETE"} {
		status, raw, _ := h.call(method, pinOf(doomed.ID), alice, nil)
		if status != 404 || errCode(raw) != "message_not_found" {
			t.Fatalf("%s a tombstone's pin: %d %s", method, status, raw)
		}
	}
	h.must(200, "GET", pins, alice, nil, &l)
	if pinIDs(l) != fmt.Sprint([]int64{m2.ID, m1.ID}) {
		t.Fatalf("pins after the delete = %s", pinIDs(l))
	}

	// Unpin: live, and idempotent.
	h.must(200, "DELETE", pinOf(m2.ID), alice, nil, &got)
	if got.Pinned || got.PinnedBy != nil || got.PinnedAt != nil {
		t.Fatalf("unpin = %+v", got)
	}
	if f := msgOf(b.next("message_updated")); num(f["id"]) != m2.ID || f["pinned"] != false {
		t.Fatalf("unpin's message_updated = %v", f)
	}
	h.must(200, "DELETE", pinOf(m2.ID), alice, nil, &got)
	if got.Pinned {
		t.Fatalf("unpin again = %+v", got)
	}

	// The cap: m1 and 49 more; the 51st is 422 too_many_pins.
	for i := range chat.MaxPinsPerRoom - 1 {
		m := h.post(alice, room.ID, fmt.Sprint("fill ", i), "")
		h.must(200, "POST", pinOf(m.ID), alice, nil, nil)
	}
	status, raw3, _ := h.call("POST", pinOf(m2.ID), bob, nil)
	if status != 422 || errCode(raw3) != "too_many_pins" {
		t.Fatalf("the 51st pin: %d %s", status, raw3)
	}
	h.must(200, "POST", pinOf(m1.ID), bob, nil, nil) // re-pinning at the cap is fine
	h.must(200, "GET", pins, alice, nil, &l)
	if len(l.Messages) != chat.MaxPinsPerRoom || l.Messages[len(l.Messages)-1].ID != m1.ID {
		t.Fatalf("%d pins, oldest %d", len(l.Messages), l.Messages[len(l.Messages)-1].ID)
	}

	// An archived room is read-only: its pins can be read, not changed.
	h.must(200, "PATCH", "/rooms/"+itoa(room.ID), alice, map[string]any{"archived": true}, nil)
	for _, method := range []string{"POST", "DELETE"} {
		status, raw, _ := h.call(method, pinOf(m1.ID), alice, nil)
		if status != 409 || errCode(raw) != "room_archived" {
			t.Fatalf("%s in an archived room: %d %s", method, status, raw)
		}
	}
	h.must(200, "GET", pins, bob, nil, &l)
	if len(l.Messages) != chat.MaxPinsPerRoom {
		t.Fatalf("archived room's pins = %d", len(l.Messages))
	}
}
