package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/chat-service/app"
	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/authn/authntest"
	"github.com/parleychat/parley/platform/testkit"
)

// harness is one chat-service started through app.Run on a real port with
// a throwaway token issuer.
type harness struct {
	t   *testing.T
	is  *authntest.Issuer
	svc *testkit.Service
	url string
	ws  string
}

func start(t *testing.T, env map[string]string) *harness {
	t.Helper()
	is := authntest.New(t)
	full := map[string]string{
		"DATA_DIR": t.TempDir(), "JWKS_URL": is.JWKSURL, "LOG_LEVEL": "warn",
		"ALLOWED_ORIGINS": "http://app.example", "SEND_RATE": "1000", "SEND_BURST": "1000",
		"USER_RATE_LIMIT_RPS": "100000", "USER_RATE_LIMIT_BURST": "100000",
	}
	for k, v := range env {
		full[k] = v
	}
	svc := testkit.Start(t, "chat-service", app.Run, full)
	return &harness{t: t, is: is, svc: svc, url: svc.URL, ws: "ws" + strings.TrimPrefix(svc.URL, "http") + "/ws"}
}

type user struct {
	id    int64
	name  string
	token string
}

func (h *harness) user(id int64, name string) user {
	return user{id: id, name: name, token: h.is.Token(h.t, id, name, authn.RoleUser, time.Hour)}
}

func (h *harness) admin(id int64, name string) user {
	return user{id: id, name: name, token: h.is.Token(h.t, id, name, authn.RoleAdmin, time.Hour)}
}

// call sends a JSON request and returns the status and raw body. body may
// be nil, a string (sent verbatim) or any value (JSON-encoded).
func (h *harness) call(method, path string, u user, body any) (int, []byte, http.Header) {
	h.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		buf, _ := json.Marshal(b)
		r = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, h.url+path, r)
	if err != nil {
		h.t.Fatal(err)
	}
	if u.token != "" {
		req.Header.Set("Authorization", "Bearer "+u.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out, resp.Header
}

// must calls and checks the status, decoding the body into out (if not nil).
func (h *harness) must(want int, method, path string, u user, body, out any) []byte {
	h.t.Helper()
	status, raw, _ := h.call(method, path, u, body)
	if status != want {
		h.t.Fatalf("%s %s as %s: status %d, want %d: %s", method, path, u.name, status, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			h.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	return raw
}

// errCode is the error code of a JSON error body.
func errCode(raw []byte) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(raw, &e)
	return e.Error.Code
}

func (h *harness) createRoom(u user, name, kind string) chat.RoomView {
	h.t.Helper()
	var v chat.RoomView
	h.must(http.StatusCreated, "POST", "/rooms", u, map[string]string{"name": name, "kind": kind}, &v)
	return v
}

func (h *harness) post(u user, roomID int64, body, cmid string) chat.Message {
	h.t.Helper()
	var m chat.Message
	h.must(http.StatusCreated, "POST", "/rooms/"+itoa(roomID)+"/messages", u, map[string]string{"body": body, "client_msg_id": cmid}, &m)
	return m
}

func itoa(n int64) string { return jsonNum(n) }

func jsonNum(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// wsClient is a real gorilla client that reads frames on its own goroutine.
type wsClient struct {
	t      *testing.T
	conn   *websocket.Conn
	frames chan map[string]any
	raw    chan []byte
	closed chan error
}

func (h *harness) dial(header http.Header) (*wsClient, *http.Response, error) {
	h.t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.Dial(h.ws, header)
	if err != nil {
		return nil, resp, err
	}
	c := &wsClient{t: h.t, conn: conn, frames: make(chan map[string]any, 4096), raw: make(chan []byte, 4096), closed: make(chan error, 1)}
	go c.readLoop()
	h.t.Cleanup(func() { conn.Close() })
	return c, resp, nil
}

func (c *wsClient) readLoop() {
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			c.closed <- err
			close(c.frames)
			return
		}
		var f map[string]any
		if err := json.Unmarshal(data, &f); err != nil {
			c.closed <- err
			close(c.frames)
			return
		}
		c.frames <- f
	}
}

// connect dials and authenticates u, waiting for ready.
func (h *harness) connect(u user) *wsClient {
	h.t.Helper()
	c, _, err := h.dial(nil)
	if err != nil {
		h.t.Fatal(err)
	}
	c.send(map[string]any{"type": "auth", "token": u.token})
	c.expect("ready")
	return c
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	if err := c.conn.WriteJSON(v); err != nil {
		c.t.Fatalf("write frame: %v", err)
	}
}

// next returns the next frame whose type is one of types, skipping others
// (presence and typing arrive at times tests do not control).
func (c *wsClient) next(types ...string) map[string]any {
	c.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				c.t.Fatalf("connection closed while waiting for %v", types)
			}
			for _, ty := range types {
				if f["type"] == ty {
					return f
				}
			}
		case <-timeout:
			c.t.Fatalf("no %v frame within 10s", types)
		}
	}
}

func (c *wsClient) expect(ty string) map[string]any {
	c.t.Helper()
	f := c.next(ty, "error")
	if f["type"] != ty {
		c.t.Fatalf("got %v, want %s", f, ty)
	}
	return f
}

func (c *wsClient) expectError(code string) map[string]any {
	c.t.Helper()
	f := c.next("error")
	if f["code"] != code {
		c.t.Fatalf("error %v, want code %s", f, code)
	}
	return f
}

// closeCode waits for the server to close the connection and returns the
// close code (or -1 for a close without one).
func (c *wsClient) closeCode() int {
	c.t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case _, ok := <-c.frames:
			if ok {
				continue
			}
			err := <-c.closed
			if ce, ok := err.(*websocket.CloseError); ok {
				return ce.Code
			}
			c.t.Logf("closed without a close frame: %v", err)
			return -1
		case <-timeout:
			c.t.Fatal("connection not closed within 15s")
		}
	}
}

func (c *wsClient) subscribe(room int64, after *int64) map[string]any {
	c.t.Helper()
	f := map[string]any{"type": "subscribe", "room_id": room}
	if after != nil {
		f["after_seq"] = *after
	}
	c.send(f)
	return c.expect("subscribed")
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

func msgOf(f map[string]any) map[string]any {
	m, _ := f["message"].(map[string]any)
	return m
}

// userDirectory stands in for user-service's GET /profiles/:id, answering
// with its shapes (200 profile JSON, 404 profile_not_found). chat-service's
// module cannot import user-service (each image builds from platform/ and
// its own module alone); e2e's TestDirectMessagesAskTheDirectory runs the
// same checks against the real user-service.
type userDirectory struct {
	*httptest.Server
	mu       sync.Mutex
	status   int // when not 0, every answer is this status
	lastAuth string
}

func newUserDirectory(t *testing.T, users map[int64]string) *userDirectory {
	t.Helper()
	d := &userDirectory{}
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		status := d.status
		d.lastAuth = r.Header.Get("Authorization")
		d.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		id, err := strconv.ParseInt(strings.TrimPrefix(r.URL.Path, "/profiles/"), 10, 64)
		name, ok := users[id]
		switch {
		case status != 0:
			w.WriteHeader(status)
			fmt.Fprint(w, `{"error":{"code":"internal","message":"internal error"}}`)
		case r.Header.Get("Authorization") == "":
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":{"code":"unauthorized","message":"sign in"}}`)
		case !strings.HasPrefix(r.URL.Path, "/profiles/") || err != nil || !ok:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":{"code":"profile_not_found","message":"no such profile"}}`)
		default:
			_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "username": name, "display_name": "", "bio": ""})
		}
	}))
	t.Cleanup(d.Close)
	return d
}

// fail makes every later answer status.
func (d *userDirectory) fail(status int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.status = status
}

func (d *userDirectory) lastAuthorization() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lastAuth
}
