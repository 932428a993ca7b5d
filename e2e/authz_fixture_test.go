package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// account is a signed-in test account.
type account struct {
	id       int64
	name     string
	password string
	token    string
}

// authzWorld is what the paths of a matrix cell name: a private room, owned
// by the owner, with the member in it and the non-member removed from it,
// and a message of the owner's in it.
type authzWorld struct{ room, msg int64 }

// authzFixture holds the matrix's accounts and resources.
type authzFixture struct {
	t    *testing.T
	s    *stack
	acct [nCallers]*account // nil for anonymous and forged
	// target is the account admin routes act on and the member that
	// DELETE /rooms/:id/members/:uid removes.
	target      *account
	forgedToken string
	// shared are the worlds of the reading cells, by room kind; every
	// writing chat cell gets a fresh one.
	shared map[string]authzWorld
	// marker is in the private room's description and message; an answer
	// to a caller outside the room that contains it leaks the room.
	marker string
	n      int
	// bot is a bot account for the /bots/:id routes; ownerPAT a personal
	// access token of the owner's, for the introspection route.
	bot      int64
	ownerPAT string
}

func newAuthzFixture(t *testing.T, s *stack) *authzFixture {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	f := &authzFixture{t: t, s: s, marker: "hush" + hex.EncodeToString(b[:])}
	for c, name := range map[caller]string{plainUser: "uma", nonMember: "nora", member: "mia", owner: "olive", disabled: "dora", revoked: "rex"} {
		f.acct[c] = f.register(name)
	}
	f.target = f.register("tess")
	f.acct[admin] = &account{name: "admin", password: adminPassword}
	f.acct[admin].token, _ = f.login(f.acct[admin])
	f.acct[admin].id = f.me(f.acct[admin].token)
	f.forgedToken = forge(t, f.acct[owner].token)
	var bot struct{ ID int64 }
	f.gw(f.acct[admin].token).must(201, "POST", "/api/auth/bots", map[string]string{"username": "matrixbot"}, &bot)
	f.bot = bot.ID
	f.ownerPAT = f.pat(f.gw(f.acct[owner].token), "/api/auth/tokens")

	f.shared = map[string]authzWorld{}
	for _, kind := range []string{"private", "public", "dm"} {
		f.shared[kind] = f.world(kind, disabled, revoked)
	}
	f.uploadAvatar()
	return f
}

// pat makes a personal access token at the tokens collection path and
// returns it; patID does the same and returns its id.
func (f *authzFixture) pat(a *api, path string) string {
	f.t.Helper()
	var p struct{ Token string }
	a.must(201, "POST", path, map[string]string{"name": "matrix"}, &p)
	return p.Token
}

func (f *authzFixture) patID(a *api, path string) string {
	f.t.Helper()
	var p struct{ ID int64 }
	a.must(201, "POST", path, map[string]string{"name": "matrix"}, &p)
	return strconv.FormatInt(p.ID, 10)
}

func (f *authzFixture) gw(token string) *api {
	return &api{t: f.t, base: f.s.Gateway.URL, token: token}
}

// chat talks to chat-service directly: the rooms made for the writing
// cells stay clear of the gateway's per-address rate limit.
func (f *authzFixture) chat(token string) *api {
	return &api{t: f.t, base: f.s.Chat.URL, token: token}
}

func (f *authzFixture) id(c caller) string { return strconv.FormatInt(f.acct[c].id, 10) }

func (f *authzFixture) register(name string) *account {
	f.t.Helper()
	var s session
	a := &account{name: name, password: "password-" + name}
	f.gw("").must(201, "POST", "/api/auth/register", map[string]string{"username": name, "password": a.password}, &s)
	a.id, a.token = s.User.ID, s.AccessToken
	return a
}

// login opens a new session of a and returns its access and refresh tokens.
func (f *authzFixture) login(a *account) (access, refresh string) {
	f.t.Helper()
	var s session
	f.gw("").must(200, "POST", "/api/auth/login", map[string]string{"username": a.name, "password": a.password}, &s)
	return s.AccessToken, s.RefreshToken
}

func (f *authzFixture) me(token string) int64 {
	f.t.Helper()
	var u user
	f.gw(token).must(200, "GET", "/api/auth/me", nil, &u)
	return u.ID
}

func (f *authzFixture) uploadAvatar() {
	f.t.Helper()
	body, ctype := multipartFile(f.t, "avatar", "olive.png", pngBytes(f.t))
	if r := f.gw(f.acct[owner].token).do("PUT", "/api/users/profiles/"+f.id(owner)+"/avatar", body, "Content-Type", ctype); r.Status != 200 {
		f.t.Fatalf("avatar upload: %d %s", r.Status, r.Body)
	}
}

// world makes a room of the given kind as the owner and a message of the
// owner's in it. A private room gets the member, the target and extra, and
// the non-member added and removed again; a public room is joined by them
// and left again by the non-member; a DM is the owner's with the member
// (one per pair, so every DM world is the same room with a new message).
// Only the public room's contents do not carry the marker.
func (f *authzFixture) world(kind string, extra ...caller) authzWorld {
	f.t.Helper()
	f.n++
	o := f.chat(f.acct[owner].token)
	var room struct {
		ID int64 `json:"id"`
	}
	secret := "the plan is " + f.marker
	switch kind {
	case "dm":
		if r := o.do("POST", "/dms", map[string]int64{"user_id": f.acct[member].id}); r.Status != 200 && r.Status != 201 {
			f.t.Fatalf("open DM: %d %s", r.Status, r.Body)
		} else {
			r.decode(f.t, &room)
		}
	case "public":
		secret = "hello everyone"
		o.must(201, "POST", "/rooms", map[string]string{"name": fmt.Sprintf("open-%d", f.n), "kind": "public"}, &room)
		rp := "/rooms/" + strconv.FormatInt(room.ID, 10)
		for _, c := range append([]caller{member, nonMember}, extra...) {
			f.chat(f.acct[c].token).must(200, "POST", rp+"/join", nil, nil)
		}
		f.chat(f.target.token).must(200, "POST", rp+"/join", nil, nil)
		f.chat(f.acct[nonMember].token).must(204, "POST", rp+"/leave", nil, nil)
	default:
		o.must(201, "POST", "/rooms", map[string]string{
			"name": fmt.Sprintf("hidden-%d", f.n), "description": "about " + f.marker, "kind": "private",
		}, &room)
		rp := "/rooms/" + strconv.FormatInt(room.ID, 10)
		for _, c := range append([]caller{member, nonMember}, extra...) {
			o.must(201, "POST", rp+"/members", map[string]int64{"user_id": f.acct[c].id}, nil)
		}
		o.must(201, "POST", rp+"/members", map[string]int64{"user_id": f.target.id}, nil)
		o.must(204, "DELETE", rp+"/members/"+f.id(nonMember), nil, nil)
	}
	var m message
	o.must(201, "POST", "/rooms/"+strconv.FormatInt(room.ID, 10)+"/messages", map[string]string{"body": secret}, &m)
	return authzWorld{room: room.ID, msg: m.ID}
}

// revokeAndDisable disables the disabled caller's account and logs out the
// revoked caller's session, then waits (at most 5 s, the bound
// docs/ARCHITECTURE.md, Contract: Revocation sets) until every service and
// the gateway refuse their tokens.
func (f *authzFixture) revokeAndDisable() {
	f.t.Helper()
	a := f.gw(f.acct[admin].token)
	a.must(200, "PATCH", "/api/auth/users/"+f.id(disabled), map[string]bool{"disabled": true}, nil)
	// The revoked caller's token is of a session that is then logged out.
	var refresh string
	f.acct[revoked].token, refresh = f.login(f.acct[revoked])
	f.gw("").must(204, "POST", "/api/auth/logout", map[string]string{"refresh_token": refresh}, nil)

	start := time.Now()
	probes := []string{
		f.s.Auth.URL + "/me", f.s.User.URL + "/profiles/me", f.s.Chat.URL + "/rooms",
		f.s.Gateway.URL + "/api/auth/me", f.s.Gateway.URL + "/api/users/profiles/me", f.s.Gateway.URL + "/api/chat/rooms",
	}
	want := map[caller]cell{disabled: {403, "account_disabled"}, revoked: {401, "session_revoked"}}
	for {
		pending := ""
		for c, w := range want {
			for _, p := range probes {
				r := (&api{t: f.t, token: f.acct[c].token}).do("GET", p, nil)
				if r.Status != w.status || errorCode(r.Body) != w.code {
					pending = fmt.Sprintf("%s: GET %s = %d %s", callerNames[c], p, r.Status, errorCode(r.Body))
					break
				}
			}
		}
		if pending == "" {
			f.t.Logf("disable and logout applied everywhere in %v", time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > 5*time.Second {
			f.t.Logf("disable and logout not applied everywhere after 5 s (%s); the disabled and revoked columns will say where", pending)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// token is the access token a caller sends ("" for anonymous).
func (f *authzFixture) token(c caller) string {
	switch c {
	case anonymous:
		return ""
	case forged:
		return f.forgedToken
	}
	return f.acct[c].token
}

// ask runs one cell: the route as caller c, directly or through the
// gateway. It returns the status, the error code (if the answer is an
// error) and, when a caller outside the private room was shown it, what
// gave it away.
func (f *authzFixture) ask(svc, route, via string, c caller) (status int, code, leak string) {
	f.t.Helper()
	method, pattern, kind := splitRoute(route)
	if kind == "" {
		kind = "private"
	}
	w := f.shared[kind]
	if svc == "chat" && method != "GET" && method != "HEAD" {
		w = f.world(kind)
	}
	path, body, hdr := f.request(svc, method, pattern, c, w)
	base := map[string]string{"auth": f.s.Auth.URL, "user": f.s.User.URL, "chat": f.s.Chat.URL, "gateway": f.s.Gateway.URL}[svc]
	if via == "gateway" {
		base = f.s.Gateway.URL + servicePrefix[svc]
	}
	token := f.token(c)
	if endsSessions[svc+" "+route] && f.acct[c] != nil && c != disabled && c != revoked {
		// The previous cell may have ended every session of this account.
		token, _ = f.login(f.acct[c])
	}
	r := (&api{t: f.t, base: base, token: token}).do(method, path, body, hdr...)
	if r.Status >= 400 {
		code = errorCode(r.Body)
	}
	outside := c == anonymous || c == forged || c == plainUser || c == nonMember
	if outside && r.Status < 300 && bytes.Contains(r.Body, []byte(f.marker)) {
		leak = fmt.Sprintf("%.200s", r.Body)
	}
	return r.Status, code, leak
}

// request fills a route's path parameters with the world's ids and gives
// it a valid body, so that what a cell observes is the authorisation
// decision. Some routes first need something to act on (a session to end,
// an avatar to delete).
func (f *authzFixture) request(svc, method, pattern string, c caller, w authzWorld) (path string, body any, hdr []string) {
	f.t.Helper()
	id := func(n int64) string { return strconv.FormatInt(n, 10) }
	var pathID string
	switch {
	case svc == "chat" && (strings.HasPrefix(pattern, "/rooms/:id") || strings.HasPrefix(pattern, "/admin/rooms/:id")):
		pathID = id(w.room)
	case svc == "chat" && strings.HasPrefix(pattern, "/messages/:id"):
		pathID = id(w.msg)
	case svc == "auth" && strings.HasPrefix(pattern, "/users/:id"):
		pathID = id(f.target.id)
	case svc == "auth" && strings.HasPrefix(pattern, "/bots/:id"):
		pathID = id(f.bot)
	case svc == "auth" && pattern == "/tokens/:id":
		// The caller's own token where the caller can make one; anyone
		// else is refused before the id matters.
		pathID = "999999"
		if a := f.acct[c]; a != nil && c != disabled && c != revoked {
			pathID = f.patID(f.gw(a.token), "/api/auth/tokens")
		}
	default: // profiles, avatars and stats: the owner's
		pathID = f.id(owner)
	}
	tid := "999999"
	if pattern == "/bots/:id/tokens/:tid" {
		tid = f.patID(f.gw(f.acct[admin].token), "/api/auth/bots/"+id(f.bot)+"/tokens")
	}
	path = strings.NewReplacer(":tid", tid, ":id", pathID, ":uid", id(f.target.id), ":emoji", url.PathEscape("👍"), ":message_id", id(w.msg)).Replace(pattern)

	self := f.acct[c]
	if self == nil { // anonymous and forged send the owner's body
		self = f.acct[owner]
	}
	f.n++
	switch svc + " " + method + " " + pattern {
	case "auth POST /register":
		body = map[string]string{"username": fmt.Sprintf("newcomer%d", f.n), "password": "password-newcomer"}
	case "auth POST /login":
		body = map[string]string{"username": f.target.name, "password": f.target.password}
	case "auth POST /refresh", "auth POST /logout":
		_, refresh := f.login(f.target)
		body = map[string]string{"refresh_token": refresh}
	case "auth POST /password":
		// The same password again: valid, and the next cell's still works.
		body = map[string]string{"current_password": self.password, "new_password": self.password}
	case "auth POST /tokens", "auth POST /bots/:id/tokens":
		body = map[string]string{"name": fmt.Sprintf("matrix-%d", f.n)}
	case "auth POST /bots":
		body = map[string]string{"username": fmt.Sprintf("bot%d", f.n)}
	case "auth POST /internal/tokens/introspect":
		body = map[string]string{"token": f.ownerPAT}
	case "auth PATCH /users/:id":
		body = map[string]string{"role": "user"}
	case "user PUT /profiles/:id":
		body = map[string]string{"bio": "hello"}
	case "user PUT /profiles/:id/avatar":
		raw, ctype := multipartFile(f.t, "avatar", "a.png", pngBytes(f.t))
		body, hdr = raw, []string{"Content-Type", ctype}
	case "user DELETE /profiles/:id/avatar":
		f.uploadAvatar()
	case "user PUT /settings/me":
		body = map[string]string{"theme": "dark"}
	case "chat POST /rooms":
		body = map[string]string{"name": fmt.Sprintf("made-%d", f.n), "kind": "private"}
	case "chat PATCH /rooms/:id":
		body = map[string]string{"description": "updated"}
	case "chat PATCH /admin/rooms/:id":
		body = map[string]bool{"archived": true}
	case "chat POST /rooms/:id/members":
		body = map[string]int64{"user_id": f.acct[plainUser].id}
	case "chat POST /rooms/:id/messages":
		body = map[string]string{"body": "hello"}
	case "chat POST /rooms/:id/files":
		raw, ctype := multipartFile(f.t, "file", "plan.png", pngBytes(f.t))
		body, hdr = raw, []string{"Content-Type", ctype}
	case "chat GET /files/:id", "chat HEAD /files/:id", "chat GET /files/:id/thumbnail", "chat HEAD /files/:id/thumbnail":
		path = f.fileURL(w, strings.HasSuffix(pattern, "/thumbnail"))
	case "chat POST /rooms/:id/read", "chat POST /messages/:id/thread/read":
		body = map[string]int64{"seq": 1}
	case "chat POST /dms":
		body = map[string]int64{"user_id": f.target.id}
	case "chat PATCH /messages/:id":
		body = map[string]string{"body": "edited"}
	case "chat POST /rooms/:id/webhooks":
		body = map[string]string{"name": "hook"}
	case "chat DELETE /webhooks/:id", "chat POST /hooks/:token":
		// A webhook of the owner's in the world's room, for this cell.
		var hook struct {
			ID  int64  `json:"id"`
			URL string `json:"url"`
		}
		f.chat(f.acct[owner].token).must(201, "POST", "/rooms/"+id(w.room)+"/webhooks", map[string]string{"name": "hook"}, &hook)
		if method == "DELETE" {
			path = "/webhooks/" + id(hook.ID)
		} else {
			_, token, _ := strings.Cut(hook.URL, "/hooks/")
			path, body = "/hooks/"+token, map[string]string{"text": "from a webhook"}
		}
	case "chat GET /search":
		path += "?q=" + f.marker
	case "user GET /profiles":
		path += "?q=ol"
	}
	return path, body, hdr
}

// fileURL uploads a PNG to the world's room as the owner, attaches it to
// a message, and returns its signed URL (or its thumbnail's) as
// chat-service serves it (without /api/chat).
func (f *authzFixture) fileURL(w authzWorld, thumbnail bool) string {
	f.t.Helper()
	o := f.chat(f.acct[owner].token)
	raw, ctype := multipartFile(f.t, "file", "plan.png", pngBytes(f.t))
	r := o.do("POST", "/rooms/"+strconv.FormatInt(w.room, 10)+"/files", raw, "Content-Type", ctype)
	var file struct {
		ID           int64   `json:"id"`
		URL          string  `json:"url"`
		ThumbnailURL *string `json:"thumbnail_url"`
	}
	if r.Status != 201 {
		f.t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	r.decode(f.t, &file)
	o.must(201, "POST", "/rooms/"+strconv.FormatInt(w.room, 10)+"/messages", map[string]any{"file_ids": []int64{file.ID}}, nil)
	u := file.URL
	if thumbnail {
		u = *file.ThumbnailURL
	}
	return strings.TrimPrefix(u, "/api/chat")
}

// errorCode is the code of an error envelope, or "".
func errorCode(b []byte) string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(b, &e)
	return e.Error.Code
}

// forge edits a real token's claims to role admin and keeps its signature:
// what every service must refuse.
func forge(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	claims["role"] = "admin"
	raw, _ = json.Marshal(claims)
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}
