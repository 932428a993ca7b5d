package httpapi_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/parleychat/parley/chat-service/internal/chat"
)

// webhookOf is a created webhook as its creator gets it (with the URL).
type webhookOf struct {
	chat.Webhook
	URL string `json:"url"`
}

func (h *harness) createWebhook(u user, roomID int64, name string) webhookOf {
	h.t.Helper()
	var w webhookOf
	h.must(http.StatusCreated, "POST", "/rooms/"+itoa(roomID)+"/webhooks", u, map[string]string{"name": name}, &w)
	return w
}

// hookPath is the chat-service path of a webhook URL (the gateway's
// /api/chat prefix removed).
func hookPath(t *testing.T, url string) string {
	t.Helper()
	_, token, ok := strings.Cut(url, "/api/chat/hooks/")
	if !ok {
		t.Fatalf("webhook URL %q is not under /api/chat/hooks/", url)
	}
	return "/hooks/" + token
}

var nobody = user{name: "anonymous"}

// TestWebhookLifecycle: members create webhooks (the URL shown once, its
// token 256 random bits), anyone holding the URL posts through the send
// path — a subscriber receives the post, shown as the webhook — and the
// creator, an owner or an admin deletes it, after which the URL is 404.
func TestWebhookLifecycle(t *testing.T) {
	h := start(t, nil)
	alice, bob, carol, root := h.user(1, "alice"), h.user(2, "bob"), h.user(3, "carol"), h.admin(9, "root")
	room := h.createRoom(alice, "deploys", "private")
	h.must(http.StatusCreated, "POST", "/rooms/"+itoa(room.ID)+"/members", alice, map[string]any{"user_id": bob.id}, nil)

	// Only members create; a private room is 404 to others, as every route.
	status, raw, _ := h.call("POST", "/rooms/"+itoa(room.ID)+"/webhooks", carol, map[string]string{"name": "CI"})
	if status != http.StatusNotFound || errCode(raw) != "room_not_found" {
		t.Fatalf("non-member creating: %d %s, want 404 room_not_found", status, raw)
	}
	status, raw, _ = h.call("POST", "/rooms/"+itoa(room.ID)+"/webhooks", nobody, map[string]string{"name": "CI"})
	if status != http.StatusUnauthorized {
		t.Fatalf("no token: %d %s", status, raw)
	}
	for name, code := range map[string]string{"": "invalid_name", "   ": "invalid_name", strings.Repeat("x", 65): "invalid_name", "CI\u202e": "invalid_name"} {
		status, raw, _ := h.call("POST", "/rooms/"+itoa(room.ID)+"/webhooks", bob, map[string]string{"name": name})
		if status != http.StatusUnprocessableEntity || errCode(raw) != code {
			t.Fatalf("name %q: %d %s, want 422 %s", name, status, raw, code)
		}
	}
	status, _, hdr := h.call("POST", "/rooms/"+itoa(room.ID)+"/webhooks", bob, map[string]string{"name": "CI"})
	if status != http.StatusCreated || hdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("create: %d, Cache-Control %q", status, hdr.Get("Cache-Control"))
	}
	ci := h.createWebhook(bob, room.ID, "  CI builds ")
	if ci.Name != "CI builds" || ci.CreatedBy != bob.id || ci.CreatedByUsername != "bob" || ci.RoomID != room.ID {
		t.Fatalf("created %+v", ci)
	}
	path := hookPath(t, ci.URL)
	if !strings.HasPrefix(ci.URL, "/api/chat/hooks/") || len(path) != len("/hooks/")+chat.WebhookTokenLen {
		t.Fatalf("URL %q: want the gateway path with a %d-character token (no API_BASE_URL set)", ci.URL, chat.WebhookTokenLen)
	}

	// The list shows no URL or token.
	var list struct {
		Webhooks []map[string]any `json:"webhooks"`
	}
	raw = h.must(http.StatusOK, "GET", "/rooms/"+itoa(room.ID)+"/webhooks", alice, nil, &list)
	if len(list.Webhooks) != 2 || strings.Contains(string(raw), path[len("/hooks/"):]) || list.Webhooks[1]["url"] != nil {
		t.Fatalf("list %s", raw)
	}
	if status, raw, _ := h.call("GET", "/rooms/"+itoa(room.ID)+"/webhooks", carol, nil); status != http.StatusNotFound {
		t.Fatalf("non-member listing: %d %s", status, raw)
	}
	// An admin who is a member but not an owner may delete (below).
	h.must(http.StatusCreated, "POST", "/rooms/"+itoa(room.ID)+"/members", alice, map[string]any{"user_id": root.id}, nil)

	// A subscriber receives the post like any message, as the webhook.
	ws := h.connect(alice)
	ws.subscribe(room.ID, nil)
	var posted struct {
		ID     int64 `json:"id"`
		RoomID int64 `json:"room_id"`
		Seq    int64 `json:"seq"`
	}
	h.must(http.StatusCreated, "POST", path, nobody, map[string]string{"text": "build 42 passed, @alice"}, &posted)
	f := msgOf(ws.expect("message"))
	hook, _ := f["webhook"].(map[string]any)
	if num(f["id"]) != posted.ID || num(f["seq"]) != posted.Seq || posted.RoomID != room.ID || f["body"] != "build 42 passed, @alice" ||
		num(f["user_id"]) != 0 || f["username"] != "CI builds" || num(hook["id"]) != ci.ID || hook["name"] != "CI builds" {
		t.Fatalf("frame %v, post %+v", f, posted)
	}
	// Mentions resolve as for anyone (alice is told, on every socket).
	if m := f["mentions"].([]any); len(m) != 1 || num(m[0]) != alice.id {
		t.Fatalf("mentions %v", f["mentions"])
	}
	ws.expect("mention")
	// A display name of the caller's choosing; still the webhook's post.
	h.must(http.StatusCreated, "POST", path, nobody, map[string]string{"text": "deployed", "username": "Deploy bot"}, nil)
	f = msgOf(ws.expect("message"))
	if f["username"] != "Deploy bot" || f["webhook"].(map[string]any)["name"] != "CI builds" {
		t.Fatalf("frame %v", f)
	}
	// Nobody edits a webhook's post (its user_id names no one); owners delete it.
	status, raw, _ = h.call("PATCH", "/messages/"+itoa(num(f["id"])), bob, map[string]string{"body": "x"})
	if status != http.StatusForbidden || errCode(raw) != "not_author" {
		t.Fatalf("creator editing the post: %d %s", status, raw)
	}
	h.must(http.StatusOK, "DELETE", "/messages/"+itoa(num(f["id"])), alice, nil, nil)

	// Deleting: the creator, an owner or an admin; not another member.
	third := h.createWebhook(alice, room.ID, "third")
	h.must(http.StatusCreated, "POST", "/rooms/"+itoa(room.ID)+"/members", alice, map[string]any{"user_id": carol.id}, nil)
	if status, raw, _ := h.call("DELETE", "/webhooks/"+itoa(third.ID), carol, nil); status != http.StatusForbidden || errCode(raw) != "forbidden" {
		t.Fatalf("another member deleting: %d %s", status, raw)
	}
	h.must(http.StatusNoContent, "DELETE", "/webhooks/"+itoa(third.ID), root, nil, nil)
	h.must(http.StatusNoContent, "DELETE", "/webhooks/"+itoa(ci.ID), alice, nil, nil) // an owner, not its creator
	for _, p := range []string{"/webhooks/" + itoa(ci.ID), "/webhooks/0", "/webhooks/abc"} {
		if status, raw, _ := h.call("DELETE", p, alice, nil); status != http.StatusNotFound || errCode(raw) != "webhook_not_found" {
			t.Fatalf("DELETE %s: %d %s, want 404 webhook_not_found", p, status, raw)
		}
	}
	if status, raw, _ := h.call("POST", path, nobody, map[string]string{"text": "after delete"}); status != http.StatusNotFound || errCode(raw) != "webhook_not_found" {
		t.Fatalf("deleted webhook: %d %s", status, raw)
	}
	// The messages it posted stay.
	var hist struct {
		Messages []chat.Message `json:"messages"`
	}
	h.must(http.StatusOK, "GET", "/rooms/"+itoa(room.ID)+"/messages", alice, nil, &hist)
	if len(hist.Messages) != 2 || hist.Messages[0].Webhook == nil || hist.Messages[0].Webhook.ID != ci.ID {
		t.Fatalf("history %+v", hist.Messages)
	}
}

// TestWebhookPostErrors: every bad post has its status and code and
// stores nothing (the room's seq does not move).
func TestWebhookPostErrors(t *testing.T) {
	h := start(t, map[string]string{"WEBHOOK_BURST": "1000"})
	alice, bob := h.user(1, "alice"), h.user(2, "bob")
	room := h.createRoom(alice, "alerts", "public")
	h.must(http.StatusOK, "POST", "/rooms/"+itoa(room.ID)+"/join", bob, nil, nil)
	path := hookPath(t, h.createWebhook(bob, room.ID, "Alerts").URL)
	long := strings.Repeat("é", chat.MaxBodyRunes+1)
	for _, tc := range []struct {
		name, path, body string
		status           int
		code             string
	}{
		{"unknown token", "/hooks/" + strings.Repeat("A", chat.WebhookTokenLen), `{"text":"x"}`, 404, "webhook_not_found"},
		{"malformed token", "/hooks/short", `{"text":"x"}`, 404, "webhook_not_found"},
		{"token with other characters", "/hooks/" + strings.Repeat("~", chat.WebhookTokenLen), `{"text":"x"}`, 404, "webhook_not_found"},
		{"bad JSON", path, `{"text":`, 400, "invalid_json"},
		{"not an object", path, `"text"`, 400, "invalid_json"},
		{"two objects", path, `{"text":"a"}{"text":"b"}`, 400, "invalid_json"},
		{"no body", path, ``, 400, "invalid_json"},
		{"text not a string", path, `{"text":42}`, 422, "invalid_field"},
		{"no text", path, `{}`, 422, "empty_body"},
		{"empty text", path, `{"text":" \n\u200b "}`, 422, "empty_body"},
		{"control character", path, `{"text":"a\u0000b"}`, 422, "invalid_body"},
		{"text too long", path, `{"text":"` + long + `"}`, 422, "body_too_long"},
		{"oversize body", path, `{"text":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "body_too_large"},
		{"bad display name", path, `{"text":"x","username":"a\u202eb"}`, 422, "invalid_username"},
		{"blank display name", path, `{"text":"x","username":"  "}`, 422, "invalid_username"},
		{"bad id", path, `{"text":"x","id":"has space"}`, 422, "invalid_id"},
		{"id too long", path, `{"text":"x","id":"` + strings.Repeat("k", 65) + `"}`, 422, "invalid_id"},
	} {
		status, raw, _ := h.call("POST", tc.path, nobody, tc.body)
		if status != tc.status || errCode(raw) != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, status, raw, tc.status, tc.code)
		}
	}
	var v chat.RoomView
	h.must(http.StatusOK, "GET", "/rooms/"+itoa(room.ID), alice, nil, &v)
	if v.LastSeq != 0 {
		t.Fatalf("last_seq %d after refused posts, want 0", v.LastSeq)
	}

	// Idempotency: the same id is one message (200 the second time).
	var first, again struct{ ID, Seq int64 }
	h.must(http.StatusCreated, "POST", path, nobody, `{"text":"once","id":"run-7"}`, &first)
	h.must(http.StatusOK, "POST", path, nobody, `{"text":"once","id":"run-7"}`, &again)
	if first.ID != again.ID || first.Seq != again.Seq {
		t.Fatalf("retry %+v, first %+v", again, first)
	}
	// Another webhook's id space is its own.
	other := hookPath(t, h.createWebhook(alice, room.ID, "Other").URL)
	var third struct{ ID int64 }
	h.must(http.StatusCreated, "POST", other, nobody, `{"text":"once","id":"run-7"}`, &third)
	if third.ID == first.ID {
		t.Fatal("two webhooks' posts with one id were one message")
	}
	// The creator leaves: the webhook posts nothing, and says why.
	h.must(http.StatusNoContent, "POST", "/rooms/"+itoa(room.ID)+"/leave", bob, nil, nil)
	if status, raw, _ := h.call("POST", path, nobody, `{"text":"x"}`); status != http.StatusForbidden || errCode(raw) != "webhook_inactive" {
		t.Fatalf("creator gone: %d %s, want 403 webhook_inactive", status, raw)
	}
	// An archived room refuses posts and new webhooks.
	h.must(http.StatusOK, "PATCH", "/rooms/"+itoa(room.ID), alice, map[string]any{"archived": true}, nil)
	if status, raw, _ := h.call("POST", other, nobody, `{"text":"x"}`); status != http.StatusConflict || errCode(raw) != "room_archived" {
		t.Fatalf("archived room: %d %s, want 409 room_archived", status, raw)
	}
	if status, raw, _ := h.call("POST", "/rooms/"+itoa(room.ID)+"/webhooks", alice, map[string]string{"name": "late"}); status != http.StatusConflict || errCode(raw) != "room_archived" {
		t.Fatalf("webhook for an archived room: %d %s", status, raw)
	}
	// Deleting the room deletes its webhooks.
	h.must(http.StatusOK, "PATCH", "/rooms/"+itoa(room.ID), alice, map[string]any{"archived": false}, nil)
	h.must(http.StatusNoContent, "DELETE", "/rooms/"+itoa(room.ID), alice, nil, nil)
	if status, raw, _ := h.call("POST", other, nobody, `{"text":"x"}`); status != http.StatusNotFound || errCode(raw) != "webhook_not_found" {
		t.Fatalf("room deleted: %d %s, want 404 webhook_not_found", status, raw)
	}
}

// TestWebhookRateLimit: each webhook has its own bucket (a burst, then
// 429 with Retry-After); a flood of one does not slow another, nor its
// creator's own sends.
func TestWebhookRateLimit(t *testing.T) {
	h := start(t, map[string]string{"WEBHOOK_RATE": "0.001", "WEBHOOK_BURST": "3"})
	alice := h.user(1, "alice")
	room := h.createRoom(alice, "flood", "public")
	a := hookPath(t, h.createWebhook(alice, room.ID, "A").URL)
	b := hookPath(t, h.createWebhook(alice, room.ID, "B").URL)
	var wg sync.WaitGroup
	statuses := make([]int, 10)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i], _, _ = h.call("POST", a, nobody, `{"text":"flood"}`)
		}()
	}
	wg.Wait()
	created := 0
	for _, s := range statuses {
		switch s {
		case http.StatusCreated:
			created++
		case http.StatusTooManyRequests:
		default:
			t.Fatalf("flood status %d", s)
		}
	}
	if created != 3 {
		t.Fatalf("%d of 10 posts passed a burst of 3", created)
	}
	status, raw, hdr := h.call("POST", a, nobody, `{"text":"again"}`)
	if status != http.StatusTooManyRequests || errCode(raw) != "rate_limited" || hdr.Get("Retry-After") == "" {
		t.Fatalf("after the burst: %d %s Retry-After %q", status, raw, hdr.Get("Retry-After"))
	}
	h.must(http.StatusCreated, "POST", b, nobody, `{"text":"other webhook"}`, nil)
	h.post(alice, room.ID, "the creator still sends", "c1")
}

// TestWebhookAbsoluteURL: with API_BASE_URL the URL is absolute.
func TestWebhookAbsoluteURL(t *testing.T) {
	h := start(t, map[string]string{"API_BASE_URL": "https://chat.example.com/"})
	alice := h.user(1, "alice")
	room := h.createRoom(alice, "abs", "public")
	w := h.createWebhook(alice, room.ID, "A")
	if !strings.HasPrefix(w.URL, "https://chat.example.com/api/chat/hooks/") {
		t.Fatalf("URL %q", w.URL)
	}
	h.must(http.StatusCreated, "POST", hookPath(t, w.URL), nobody, `{"text":"hi"}`, nil)
}
