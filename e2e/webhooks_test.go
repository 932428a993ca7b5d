package e2e

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestWebhookThroughGateway: a member creates a webhook through the
// gateway, and a client holding nothing but its URL posts through the
// gateway's public route; the post reaches a subscriber's WebSocket as the
// webhook's message. Bad posts get their documented errors through the
// gateway as well, and a deleted webhook's URL is 404.
func TestWebhookThroughGateway(t *testing.T) {
	s := startStack(t)
	anon := &api{t: t, base: s.Gateway.URL}
	alice, as := register(t, anon, "alice")

	var r room
	alice.must(201, "POST", "/api/chat/rooms", map[string]string{"name": "deploys", "kind": "private"}, &r)
	rid := strconv.FormatInt(r.ID, 10)
	var hook struct {
		ID  int64  `json:"id"`
		URL string `json:"url"`
	}
	alice.must(201, "POST", "/api/chat/rooms/"+rid+"/webhooks", map[string]string{"name": "CI"}, &hook)
	if !strings.HasPrefix(hook.URL, "/api/chat/hooks/") {
		t.Fatalf("url %q", hook.URL)
	}

	ws := dialChat(t, s, as.AccessToken)
	ws.send(map[string]any{"type": "subscribe", "room_id": r.ID, "after_seq": 0})
	ws.await("subscribed")

	// No token, no cookie: the URL alone.
	var posted struct {
		ID  int64 `json:"id"`
		Seq int64 `json:"seq"`
	}
	anon.must(201, "POST", hook.URL, map[string]string{"text": "deploy 118 done", "id": "deploy-118"}, &posted)
	var m struct {
		message
		Username string `json:"username"`
		Webhook  *struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
		} `json:"webhook"`
	}
	if err := json.Unmarshal(ws.await("message")["message"], &m); err != nil {
		t.Fatal(err)
	}
	if m.ID != posted.ID || m.Seq != posted.Seq || m.Body != "deploy 118 done" || m.UserID != 0 || m.Username != "CI" || m.Webhook == nil || m.Webhook.ID != hook.ID {
		t.Fatalf("frame %+v (webhook %+v), post %+v", m, m.Webhook, posted)
	}
	// The retry is the same message (200), and nothing new is sent.
	var again struct{ ID int64 }
	anon.must(200, "POST", hook.URL, map[string]string{"text": "deploy 118 done", "id": "deploy-118"}, &again)
	if again.ID != posted.ID {
		t.Fatalf("retry made message %d, want %d", again.ID, posted.ID)
	}

	for _, tc := range []struct {
		name, path string
		body       any
		status     int
		code       string
	}{
		{"bad JSON", hook.URL, `{"text"`, 400, "invalid_json"},
		{"empty text", hook.URL, map[string]string{"text": "  "}, 422, "empty_body"},
		{"oversize body", hook.URL, map[string]string{"text": strings.Repeat("x", 70<<10)}, 413, "body_too_large"},
		{"wrong token", "/api/chat/hooks/" + strings.Repeat("x", 43), map[string]string{"text": "hi"}, 404, "webhook_not_found"},
		{"GET", hook.URL, nil, 401, "missing_token"}, // only POST is public
	} {
		method := "POST"
		if tc.name == "GET" {
			method = "GET"
		}
		res := anon.do(method, tc.path, tc.body)
		if res.Status != tc.status || res.errCode(t) != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, res.Status, res.Body, tc.status, tc.code)
		}
	}

	alice.must(204, "DELETE", "/api/chat/webhooks/"+strconv.FormatInt(hook.ID, 10), nil, nil)
	if res := anon.do("POST", hook.URL, map[string]string{"text": "late"}); res.Status != http.StatusNotFound || res.errCode(t) != "webhook_not_found" {
		t.Fatalf("deleted webhook: %d %s", res.Status, res.Body)
	}
}
