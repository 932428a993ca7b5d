package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	validator "github.com/pb33f/libopenapi-validator"
)

// specClient calls the gateway and checks every answer against the OpenAPI
// document the gateway serves.
type specClient struct {
	t     *testing.T
	base  string
	v     validator.Validator
	token string
	// checked counts validated answers by "METHOD /path status".
	checked map[string]int
}

func (c *specClient) as(token string) *specClient {
	return &specClient{t: c.t, base: c.base, v: c.v, token: token, checked: c.checked}
}

// call makes a request, validates the answer against the document and
// fails unless it has status want; out, when given, receives the body.
func (c *specClient) call(want int, method, path string, body any, out any) {
	c.t.Helper()
	var raw []byte
	ctype := ""
	if body != nil {
		var err error
		if s, ok := body.(string); ok {
			raw = []byte(s)
		} else if raw, err = json.Marshal(body); err != nil {
			c.t.Fatal(err)
		}
		ctype = "application/json"
	}
	c.send(want, method, path, raw, ctype, out)
}

// upload posts data as the multipart field "file" named name, like call.
func (c *specClient) upload(want int, path, name string, data []byte, out any) {
	c.t.Helper()
	raw, ctype := multipartFile(c.t, "file", name, data)
	c.send(want, "POST", path, raw, ctype, out)
}

// send is call with a body already encoded as ctype ("" for none).
func (c *specClient) send(want int, method, path string, raw []byte, ctype string, out any) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(raw))
	if err != nil {
		c.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s = %d %s, want %d", method, path, resp.StatusCode, got, want)
	}
	// The validator reads both bodies again.
	req.Body = io.NopCloser(bytes.NewReader(raw))
	resp.Body = io.NopCloser(bytes.NewReader(got))
	if ok, errs := c.v.ValidateHttpResponse(req, resp); !ok {
		for _, e := range errs {
			c.t.Errorf("%s %s (%d): answer does not match the OpenAPI document: %s\n%s", method, path, resp.StatusCode, e.Error(), schemaDetails(e.SchemaValidationErrors))
		}
		c.t.Logf("body: %s", got)
	}
	if want < 300 {
		// What the test sends is what the document says a client sends.
		req.Body = io.NopCloser(bytes.NewReader(raw))
		if ok, errs := c.v.ValidateHttpRequest(req); !ok {
			for _, e := range errs {
				c.t.Errorf("%s %s: request does not match the OpenAPI document: %s", method, path, e.Error())
			}
		}
	}
	c.checked[fmt.Sprintf("%s %s %d", method, templated(path), want)]++
	if out != nil {
		if err := json.Unmarshal(got, out); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", method, path, got, err)
		}
	}
}

func schemaDetails[T any](errs []T) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "  %+v\n", e)
	}
	return b.String()
}

var idSegment = regexp.MustCompile(`/[0-9]+(/|$|\?)`)

// templated names a request by its path without ids and query, for the log.
func templated(p string) string {
	p, _, _ = strings.Cut(p, "?")
	for idSegment.MatchString(p) {
		p = idSegment.ReplaceAllString(p, "/{id}$1")
	}
	return p
}

// TestOpenAPIResponses validates real answers of the running services,
// through the gateway, against the document the gateway serves: the main
// routes of every service and the error shape.
func TestOpenAPIResponses(t *testing.T) {
	s := startStack(t)
	anon := &api{t: t, base: s.Gateway.URL}
	r := anon.do("GET", "/api/openapi.json", nil)
	if r.Status != 200 {
		t.Fatalf("GET /api/openapi.json without a token = %d %s", r.Status, r.Body)
	}
	doc, model := loadOpenAPI(t, r.Body)
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("validator: %v", errs)
	}
	if ok, errs := v.ValidateDocument(); !ok {
		for _, e := range errs {
			t.Errorf("the document is not valid OpenAPI 3.1: %s\n%s", e.Error(), schemaDetails(e.SchemaValidationErrors))
		}
		t.FailNow()
	}
	c := &specClient{t: t, base: s.Gateway.URL, v: v, checked: map[string]int{}}

	// An operation is public (security: []) exactly when the gateway lets
	// it through without a token.
	for key, op := range documentedRoutes(model) {
		method, path, _ := strings.Cut(key, " ")
		concrete := strings.NewReplacer("{id}", "1", "{uid}", "1", "{tid}", "1", "{message_id}", "1", "{emoji}", "x", "{token}", "x").Replace(path)
		res := anon.do(method, concrete, nil)
		var body struct {
			Error struct{ Code string } `json:"error"`
		}
		_ = json.Unmarshal(res.Body, &body)
		refused := res.Status == http.StatusUnauthorized && body.Error.Code == "missing_token"
		public := op.Security != nil && len(op.Security) == 0
		switch {
		case public && refused:
			t.Errorf("%s is public in the document (security: []) but the gateway wants a token", key)
		case !public && !refused:
			t.Errorf("%s needs a token in the document but without one the gateway answers %d %s", key, res.Status, res.Body)
		}
	}

	// auth
	var alice, bob, carol session
	c.call(201, "POST", "/api/auth/register", map[string]string{"username": "alice", "password": "correct horse", "email": "alice@example.com"}, &alice)
	c.call(201, "POST", "/api/auth/register", map[string]string{"username": "bob", "password": "correct horse"}, &bob)
	c.call(201, "POST", "/api/auth/register", map[string]string{"username": "carol", "password": "correct horse"}, &carol)
	c.call(409, "POST", "/api/auth/register", map[string]string{"username": "Alice", "password": "correct horse"}, nil)
	c.call(400, "POST", "/api/auth/register", "{not json", nil)
	c.call(200, "POST", "/api/auth/login", map[string]string{"username": "alice", "password": "correct horse"}, &alice)
	c.call(401, "POST", "/api/auth/login", map[string]string{"username": "alice", "password": "wrong horse"}, nil)
	c.call(200, "GET", "/api/auth/.well-known/jwks.json", nil, nil)
	c.call(401, "GET", "/api/auth/me", nil, nil)
	a, b := c.as(alice.AccessToken), c.as(bob.AccessToken)
	a.call(200, "GET", "/api/auth/me", nil, nil)
	a.call(200, "POST", "/api/auth/verify", map[string]string{"token": bob.AccessToken}, nil)
	a.call(401, "POST", "/api/auth/verify", map[string]string{"token": "not-a-token"}, nil)
	a.call(200, "GET", "/api/auth/accounts?limit=2", nil, nil)
	a.call(403, "GET", "/api/auth/users", nil, nil)
	var refreshed session
	c.call(200, "POST", "/api/auth/refresh", map[string]string{"refresh_token": carol.RefreshToken}, &refreshed)
	c.call(204, "POST", "/api/auth/logout", map[string]string{"refresh_token": refreshed.RefreshToken}, nil)

	var admin session
	c.call(200, "POST", "/api/auth/login", map[string]string{"username": "admin", "password": adminPassword}, &admin)
	adm := c.as(admin.AccessToken)
	adm.call(200, "GET", "/api/auth/users?limit=2", nil, nil)

	// users
	aliceID, bobID, carolID := strconv.FormatInt(alice.User.ID, 10), strconv.FormatInt(bob.User.ID, 10), strconv.FormatInt(carol.User.ID, 10)
	a.call(200, "GET", "/api/users/profiles/me", nil, nil)
	// By id: /profiles/me is a concrete path of its own in the document
	// (GET only), and OpenAPI matches concrete paths first.
	a.call(200, "PUT", "/api/users/profiles/"+aliceID, map[string]string{"display_name": "Alice A.", "bio": "hello"}, nil)
	a.call(422, "PUT", "/api/users/profiles/"+aliceID, map[string]string{"nickname": "x"}, nil)
	a.call(200, "GET", "/api/users/profiles/"+bobID, nil, nil)
	a.call(404, "GET", "/api/users/profiles/999999", nil, nil)
	a.call(200, "GET", "/api/users/profiles?ids="+aliceID+","+bobID, nil, nil)
	a.call(200, "GET", "/api/users/profiles?q=bo", nil, nil)
	a.call(200, "GET", "/api/users/settings/me", nil, nil)
	a.call(200, "PUT", "/api/users/settings/me", map[string]any{"theme": "dark"}, nil)
	a.call(200, "GET", "/api/users/stats/"+aliceID, nil, nil)

	// rooms
	var rooms struct {
		Rooms []struct {
			ID int64 `json:"id"`
		} `json:"rooms"`
	}
	a.call(200, "GET", "/api/chat/rooms", nil, &rooms)
	var room struct {
		ID int64 `json:"id"`
	}
	a.call(201, "POST", "/api/chat/rooms", map[string]string{"name": "spec", "description": "checked against the document"}, &room)
	a.call(422, "POST", "/api/chat/rooms", map[string]string{"name": ""}, nil)
	rid := strconv.FormatInt(room.ID, 10)
	a.call(200, "GET", "/api/chat/rooms/"+rid, nil, nil)
	a.call(404, "GET", "/api/chat/rooms/999999", nil, nil)
	a.call(200, "PATCH", "/api/chat/rooms/"+rid, map[string]string{"description": "changed"}, nil)
	b.call(200, "POST", "/api/chat/rooms/"+rid+"/join", nil, nil)
	a.call(201, "POST", "/api/chat/rooms/"+rid+"/members", map[string]any{"user_id": carol.User.ID, "username": "carol"}, nil)
	a.call(200, "GET", "/api/chat/rooms/"+rid+"/members", nil, nil)
	a.call(200, "GET", "/api/chat/rooms/"+rid+"/online", nil, nil)

	// messages
	var first struct {
		ID  int64 `json:"id"`
		Seq int64 `json:"seq"`
	}
	a.call(201, "POST", "/api/chat/rooms/"+rid+"/messages", map[string]string{"body": "hello @bob", "client_msg_id": "spec-1"}, &first)
	a.call(201, "POST", "/api/chat/rooms/"+rid+"/messages", map[string]string{"body": "hello @bob", "client_msg_id": "spec-1"}, nil) // replay
	a.call(422, "POST", "/api/chat/rooms/"+rid+"/messages", map[string]string{"body": ""}, nil)
	mid := strconv.FormatInt(first.ID, 10)
	b.call(201, "POST", "/api/chat/rooms/"+rid+"/messages", map[string]any{"body": "a reply", "thread_root_id": first.ID}, nil)
	a.call(200, "GET", "/api/chat/rooms/"+rid+"/messages", nil, nil)
	a.call(200, "GET", "/api/chat/rooms/"+rid+"/messages?after_seq=0&limit=1", nil, nil)
	a.call(200, "GET", "/api/chat/rooms/"+rid+"/messages?around_seq=1&top_level=true", nil, nil)
	a.call(400, "GET", "/api/chat/rooms/"+rid+"/messages?around_seq=1&before_seq=2", nil, nil)
	a.call(200, "GET", "/api/chat/messages/"+mid, nil, nil)
	a.call(200, "GET", "/api/chat/messages/"+mid+"/thread", nil, nil)
	a.call(200, "POST", "/api/chat/messages/"+mid+"/thread/read", map[string]int64{"seq": 2}, nil)
	a.call(200, "GET", "/api/chat/threads", nil, nil)
	b.call(200, "GET", "/api/chat/mentions", nil, nil)
	b.call(200, "POST", "/api/chat/messages/"+mid+"/reactions/%F0%9F%91%8D", nil, nil)
	b.call(200, "DELETE", "/api/chat/messages/"+mid+"/reactions/%F0%9F%91%8D", nil, nil)
	a.call(200, "PATCH", "/api/chat/messages/"+mid, map[string]string{"body": "hello @bob, edited"}, nil)
	a.call(200, "POST", "/api/chat/rooms/"+rid+"/read", map[string]int64{"seq": 2}, nil)
	a.call(200, "GET", "/api/chat/search?q=hello", nil, nil)
	a.call(200, "GET", "/api/chat/users/"+aliceID+"/stats", nil, nil)

	// files: an upload, a send that carries it, its signed URLs (public).
	var pic struct {
		ID           int64   `json:"id"`
		URL          string  `json:"url"`
		ThumbnailURL *string `json:"thumbnail_url"`
	}
	a.upload(201, "/api/chat/rooms/"+rid+"/files", "dot.png", pngBytes(t), &pic)
	a.upload(201, "/api/chat/rooms/"+rid+"/files", "notes.txt", []byte("plain text"), nil)
	a.send(400, "POST", "/api/chat/rooms/"+rid+"/files", []byte(`{}`), "application/json", nil)
	a.call(201, "POST", "/api/chat/rooms/"+rid+"/messages", map[string]any{"body": "", "file_ids": []int64{pic.ID}}, nil)
	a.call(422, "POST", "/api/chat/rooms/"+rid+"/messages", map[string]any{"body": "again", "file_ids": []int64{pic.ID}}, nil) // invalid_files: already sent
	a.call(200, "GET", "/api/chat/rooms/"+rid+"/messages", nil, nil)
	if pic.ThumbnailURL == nil {
		t.Fatalf("a PNG upload has no thumbnail_url")
	}
	c.call(200, "GET", pic.URL, nil, nil)
	c.call(200, "HEAD", pic.URL, nil, nil)
	c.call(200, "GET", *pic.ThumbnailURL, nil, nil)
	c.call(403, "GET", pic.URL[:strings.Index(pic.URL, "&sig=")]+"&sig=forged", nil, nil)

	// pins
	a.call(200, "POST", "/api/chat/rooms/"+rid+"/pins/"+mid, nil, nil)
	b.call(200, "GET", "/api/chat/rooms/"+rid+"/pins", nil, nil)
	a.call(200, "DELETE", "/api/chat/rooms/"+rid+"/pins/"+mid, nil, nil)
	a.call(404, "POST", "/api/chat/rooms/"+rid+"/pins/999999", nil, nil)

	// webhooks: the URL is shown once; a post needs no token.
	var hook struct {
		ID  int64  `json:"id"`
		URL string `json:"url"`
	}
	a.call(201, "POST", "/api/chat/rooms/"+rid+"/webhooks", map[string]string{"name": "CI"}, &hook)
	a.call(422, "POST", "/api/chat/rooms/"+rid+"/webhooks", map[string]string{"name": " "}, nil)
	a.call(200, "GET", "/api/chat/rooms/"+rid+"/webhooks", nil, nil)
	hookPath := hook.URL[strings.Index(hook.URL, "/api/chat/hooks/"):]
	c.call(201, "POST", hookPath, map[string]string{"text": "build passed", "username": "CI bot", "id": "build-1"}, nil)
	c.call(200, "POST", hookPath, map[string]string{"text": "build passed", "id": "build-1"}, nil) // retry
	c.call(422, "POST", hookPath, map[string]string{"text": ""}, nil)
	c.call(404, "POST", "/api/chat/hooks/no-such-token", map[string]string{"text": "hi"}, nil)
	a.call(200, "GET", "/api/chat/rooms/"+rid+"/messages", nil, nil) // with the webhook's post
	hid := strconv.FormatInt(hook.ID, 10)
	a.call(204, "DELETE", "/api/chat/webhooks/"+hid, nil, nil)
	a.call(404, "DELETE", "/api/chat/webhooks/"+hid, nil, nil) // webhook_not_found

	// personal access tokens and bots
	var pat struct {
		ID    int64  `json:"id"`
		Token string `json:"token"`
	}
	a.call(201, "POST", "/api/auth/tokens", map[string]any{"name": "laptop script", "expires_in_days": 7}, &pat)
	a.call(422, "POST", "/api/auth/tokens", map[string]any{"name": "x", "expires_in_days": 0}, nil)
	a.call(200, "GET", "/api/auth/tokens", nil, nil)
	p := c.as(pat.Token)
	p.call(200, "GET", "/api/auth/me", nil, nil)
	p.call(200, "GET", "/api/chat/rooms/"+rid+"/pins", nil, nil)
	p.call(403, "GET", "/api/auth/tokens", nil, nil) // pat_not_allowed
	a.call(204, "DELETE", "/api/auth/tokens/"+strconv.FormatInt(pat.ID, 10), nil, nil)
	a.call(404, "DELETE", "/api/auth/tokens/"+strconv.FormatInt(pat.ID, 10), nil, nil)
	var bot struct {
		ID int64 `json:"id"`
	}
	adm.call(201, "POST", "/api/auth/bots", map[string]string{"username": "deploybot", "display_name": "Deploy Bot"}, &bot)
	adm.call(409, "POST", "/api/auth/bots", map[string]string{"username": "deploybot"}, nil)
	a.call(403, "POST", "/api/auth/bots", map[string]string{"username": "otherbot"}, nil)
	adm.call(200, "GET", "/api/auth/bots", nil, nil)
	botPath := "/api/auth/bots/" + strconv.FormatInt(bot.ID, 10) + "/tokens"
	var botPAT struct {
		ID int64 `json:"id"`
	}
	adm.call(201, "POST", botPath, map[string]string{"name": "deploys"}, &botPAT)
	adm.call(200, "GET", botPath, nil, nil)
	adm.call(204, "DELETE", botPath+"/"+strconv.FormatInt(botPAT.ID, 10), nil, nil)
	adm.call(404, "GET", "/api/auth/bots/"+aliceID+"/tokens", nil, nil) // bot_not_found
	a.call(200, "GET", "/api/auth/accounts", nil, nil)                  // the bot with is_bot and display_name

	// DMs and group DMs: 201 when created, 200 afterwards.
	a.call(201, "POST", "/api/chat/dms", map[string]int64{"user_id": bob.User.ID}, nil)
	a.call(200, "POST", "/api/chat/dms", map[string]int64{"user_id": bob.User.ID}, nil)
	a.call(201, "POST", "/api/chat/dms", map[string][]int64{"user_ids": {bob.User.ID, carol.User.ID}}, nil)
	a.call(422, "POST", "/api/chat/dms", map[string][]int64{"user_ids": {bob.User.ID}}, nil)
	a.call(200, "GET", "/api/chat/rooms", nil, nil) // now with a DM and a group

	// Deletions and admin.
	a.call(200, "DELETE", "/api/chat/messages/"+mid, nil, nil)
	a.call(204, "DELETE", "/api/chat/rooms/"+rid+"/members/"+carolID, nil, nil)
	b.call(204, "POST", "/api/chat/rooms/"+rid+"/leave", nil, nil)
	adm.call(200, "GET", "/api/chat/admin/rooms", nil, nil)
	adm.call(200, "PATCH", "/api/chat/admin/rooms/"+rid, map[string]bool{"archived": true}, nil)
	adm.call(200, "GET", "/api/chat/admin/usage", nil, nil)
	a.call(403, "GET", "/api/chat/admin/usage", nil, nil)
	adm.call(204, "DELETE", "/api/chat/admin/rooms/"+rid, nil, nil)

	// The gateway's own.
	c.call(200, "GET", "/healthz", nil, nil)
	c.call(200, "GET", "/health", nil, nil)
	t.Logf("validated %d kinds of answer against the document", len(c.checked))
}
