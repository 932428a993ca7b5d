package e2e

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/platform/testkit"
)

// The authorisation matrix: every REST route each service registers, asked
// by every kind of caller, directly and through the gateway. The expected
// answer of every cell is written here once; TestAuthorizationMatrix fails
// when a registered route has no row or a row names no registered route.
//
// Columns (callerNames): anonymous (no token), forged (a real token whose
// claims were edited to role admin, signature kept), user (signed in, no
// relation to the resource), non-member (was a member of the private room in
// the path and was removed by its owner), member (of that room), owner (made
// the room and wrote the message; for profiles and stats, the profile's
// user), admin, disabled (a member whose account an admin disabled; its
// access token has not expired), revoked (a member whose session was logged
// out; its access token has not expired).
//
// A cell is a status; "403d" is 403 account_disabled and "401r" is 401
// session_revoked. A 401 is also checked for its code: missing_token for
// the anonymous caller, invalid_token for the forged one. Paths name the private room, the owner's message in it
// and the owner's profile (authzFixture.request fills them, with a valid
// body, so the decision observed is authorisation, not validation).

// Rows used by many routes.
const (
	// open: no token needed, the body decides.
	open = "200 200 200 200 200 200 200 200 200"
	// unpublished: what a service serves for the cluster (its probes,
	// metrics, the revocation feed) and the gateway does not publish.
	unpublished = "404 404 404 404 404 404 404 404 404"
	// signedIn: any enabled, unrevoked account.
	signedIn = "401 401 200 200 200 200 200 403d 401r"
	// adminOnly: admins, by their current role.
	adminOnly = "401 401 403 403 403 403 200 403d 401r"
	// ownerOrAdmin: the resource's owner, or any admin.
	ownerOrAdmin = "401 401 403 403 403 200 200 403d 401r"
	// roomRead: members of the private room; anyone else is told it does
	// not exist (404), admins included.
	roomRead = "401 401 404 404 200 200 404 403d 401r"
	// proxied: a gateway route that forwards to a service; its cells are
	// the service rows' "through the gateway" cells.
	proxied = "proxied"
	// wsOnly: not REST; the WebSocket's close codes are tested in
	// chat_test.go and the revocation tests.
	wsOnly = "websocket"
)

// authzRow is one registered route and its expected answers. gateway is the
// row through the gateway ("" when it answers as the service does).
type authzRow struct {
	svc, route      string
	direct, gateway string
}

// anon forged user non-mem member owner admin disabled revoked
var authzTable = []authzRow{
	// auth-service
	{"auth", "POST /register", "201 201 201 201 201 201 201 201 201", ""},
	{"auth", "POST /login", open, ""},
	{"auth", "POST /refresh", open, ""},
	{"auth", "POST /logout", "204 204 204 204 204 204 204 204 204", ""},
	{"auth", "POST /verify", signedIn, ""},
	{"auth", "GET /.well-known/jwks.json", open, ""},
	{"auth", "GET /me", signedIn, ""},
	{"auth", "POST /password", "401 401 204 204 204 204 204 403d 401r", ""},
	{"auth", "GET /accounts", signedIn, ""},
	{"auth", "GET /users", adminOnly, ""},
	{"auth", "PATCH /users/:id", adminOnly, ""},
	{"auth", "POST /sessions/revoke-all", signedIn, ""},
	{"auth", "POST /users/:id/sessions/revoke-all", adminOnly, ""},
	// Personal access tokens (each caller's own) and bots (admins').
	{"auth", "POST /tokens", "401 401 201 201 201 201 201 403d 401r", ""},
	{"auth", "GET /tokens", signedIn, ""},
	{"auth", "DELETE /tokens/:id", "401 401 204 204 204 204 204 403d 401r", ""},
	{"auth", "GET /bots", adminOnly, ""},
	{"auth", "POST /bots", "401 401 403 403 403 403 201 403d 401r", ""},
	{"auth", "GET /bots/:id/tokens", adminOnly, ""},
	{"auth", "POST /bots/:id/tokens", "401 401 403 403 403 403 201 403d 401r", ""},
	{"auth", "DELETE /bots/:id/tokens/:tid", "401 401 403 403 403 403 204 403d 401r", ""},
	// Token introspection is for the services, like the feed.
	{"auth", "POST /internal/tokens/introspect", open, unpublished},
	// The revocation feed is for the services; the gateway does not
	// publish it.
	{"auth", "GET /internal/revocations", open, unpublished},
	{"auth", "GET /healthz", open, unpublished},
	{"auth", "GET /readyz", open, unpublished},
	{"auth", "GET /health", open, unpublished},
	{"auth", "GET /metrics", open, unpublished},

	// user-service
	{"user", "GET /avatars/:id", open, ""},
	{"user", "HEAD /avatars/:id", open, ""},
	{"user", "GET /profiles/me", signedIn, ""},
	{"user", "GET /profiles", signedIn, ""},
	{"user", "GET /profiles/:id", signedIn, ""},
	{"user", "PUT /profiles/:id", ownerOrAdmin, ""},
	{"user", "PUT /profiles/:id/avatar", ownerOrAdmin, ""},
	{"user", "DELETE /profiles/:id/avatar", ownerOrAdmin, ""},
	{"user", "GET /settings/me", signedIn, ""},
	{"user", "PUT /settings/me", signedIn, ""},
	{"user", "GET /stats/:id", signedIn, ""},
	{"user", "GET /healthz", open, unpublished},
	{"user", "GET /readyz", open, unpublished},
	{"user", "GET /health", open, unpublished},
	{"user", "GET /metrics", open, unpublished},

	// chat-service
	{"chat", "GET /ws", wsOnly, wsOnly},
	{"chat", "GET /rooms", signedIn, ""},
	{"chat", "POST /rooms", "401 401 201 201 201 201 201 403d 401r", ""},
	{"chat", "GET /rooms/:id", roomRead, ""},
	{"chat", "PATCH /rooms/:id", "401 401 404 404 403 200 404 403d 401r", ""},
	{"chat", "DELETE /rooms/:id", "401 401 404 404 403 204 404 403d 401r", ""},
	{"chat", "POST /rooms/:id/join", roomRead, ""},
	{"chat", "POST /rooms/:id/leave", "401 401 404 404 204 204 404 403d 401r", ""},
	{"chat", "GET /rooms/:id/members", roomRead, ""},
	{"chat", "POST /rooms/:id/members", "401 401 404 404 201 201 404 403d 401r", ""},
	{"chat", "DELETE /rooms/:id/members/:uid", "401 401 404 404 403 204 404 403d 401r", ""},
	{"chat", "GET /rooms/:id/messages", roomRead, ""},
	{"chat", "POST /rooms/:id/messages", "401 401 404 404 201 201 404 403d 401r", ""},
	{"chat", "POST /rooms/:id/files", "401 401 404 404 201 201 404 403d 401r", ""},
	// A file URL is a capability: its signature, not a token, decides
	// (the private room's file, signed for the owner; forged and expired
	// signatures are refused in files_test.go and chat's own tests).
	{"chat", "GET /files/:id", open, ""},
	{"chat", "HEAD /files/:id", open, ""},
	{"chat", "GET /files/:id/thumbnail", open, ""},
	{"chat", "HEAD /files/:id/thumbnail", open, ""},
	{"chat", "POST /rooms/:id/read", roomRead, ""},
	{"chat", "GET /rooms/:id/online", roomRead, ""},
	// The first DM of a pair is 201, the same pair again 200: the
	// gateway pass runs second.
	{"chat", "POST /dms", "401 401 201 201 201 201 201 403d 401r", signedIn},
	{"chat", "PATCH /messages/:id", "401 401 404 404 403 200 404 403d 401r", ""},
	{"chat", "DELETE /messages/:id", "401 401 404 404 403 200 404 403d 401r", ""},
	{"chat", "POST /messages/:id/reactions/:emoji", roomRead, ""},
	{"chat", "DELETE /messages/:id/reactions/:emoji", roomRead, ""},
	// The same routes on a public room and on the owner's DM with the
	// member ("[variant]" after the route).
	{"chat", "GET /rooms/:id [public]", signedIn, ""},
	{"chat", "PATCH /rooms/:id [public]", "401 401 403 403 403 200 200 403d 401r", ""},
	{"chat", "DELETE /rooms/:id [public]", "401 401 403 403 403 204 204 403d 401r", ""},
	{"chat", "POST /rooms/:id/join [public]", signedIn, ""},
	// Leaving a public room one is not in is a no-op, not an error.
	{"chat", "POST /rooms/:id/leave [public]", "401 401 204 204 204 204 204 403d 401r", ""},
	{"chat", "GET /rooms/:id/members [public]", signedIn, ""},
	{"chat", "POST /rooms/:id/members [public]", "401 401 403 403 201 201 201 403d 401r", ""},
	{"chat", "DELETE /rooms/:id/members/:uid [public]", "401 401 403 403 403 204 204 403d 401r", ""},
	{"chat", "GET /rooms/:id/messages [public]", signedIn, ""},
	{"chat", "POST /rooms/:id/messages [public]", "401 401 403 403 201 201 403 403d 401r", ""},
	{"chat", "PATCH /messages/:id [public]", "401 401 403 403 403 200 403 403d 401r", ""},
	{"chat", "DELETE /messages/:id [public]", "401 401 403 403 403 200 200 403d 401r", ""},
	{"chat", "POST /messages/:id/reactions/:emoji [public]", "401 401 403 403 200 200 403 403d 401r", ""},
	{"chat", "GET /rooms/:id [dm]", roomRead, ""},
	{"chat", "GET /rooms/:id/messages [dm]", roomRead, ""},
	{"chat", "POST /rooms/:id/messages [dm]", "401 401 404 404 201 201 404 403d 401r", ""},
	{"chat", "POST /rooms/:id/join [dm]", roomRead, ""},
	{"chat", "POST /rooms/:id/members [dm]", "401 401 404 404 403 403 404 403d 401r", ""},
	{"chat", "DELETE /messages/:id [dm]", "401 401 404 404 403 200 404 403d 401r", ""},
	// Conversations (docs/ARCHITECTURE.md, chat-service: Permalinks,
	// Threads): permalinks and threads read as their room does; followed
	// threads and mentions are the caller's own.
	{"chat", "GET /messages/:id", roomRead, ""},
	{"chat", "GET /messages/:id/thread", roomRead, ""},
	{"chat", "POST /messages/:id/thread/read", roomRead, ""},
	{"chat", "GET /threads", signedIn, ""},
	{"chat", "GET /mentions", signedIn, ""},
	{"chat", "GET /messages/:id [public]", signedIn, ""},
	{"chat", "GET /messages/:id/thread [public]", signedIn, ""},
	// Pins: members pin and unpin; the list reads as its room does.
	{"chat", "GET /rooms/:id/pins", roomRead, ""},
	{"chat", "POST /rooms/:id/pins/:message_id", roomRead, ""},
	{"chat", "DELETE /rooms/:id/pins/:message_id", roomRead, ""},
	{"chat", "GET /rooms/:id/pins [public]", signedIn, ""},
	{"chat", "POST /rooms/:id/pins/:message_id [public]", "401 401 403 403 200 200 403 403d 401r", ""},
	{"chat", "GET /search", signedIn, ""},
	{"chat", "GET /users/:id/stats", signedIn, ""},
	// Incoming webhooks: members make and list them (admins list public
	// rooms' too); their creator, an owner or an admin deletes one. The
	// post needs no token at all: its URL is the credential.
	{"chat", "POST /rooms/:id/webhooks", "401 401 404 404 201 201 404 403d 401r", ""},
	{"chat", "GET /rooms/:id/webhooks", roomRead, ""},
	{"chat", "POST /rooms/:id/webhooks [public]", "401 401 403 403 201 201 403 403d 401r", ""},
	{"chat", "GET /rooms/:id/webhooks [public]", "401 401 403 403 200 200 200 403d 401r", ""},
	{"chat", "DELETE /webhooks/:id", "401 401 404 404 403 204 404 403d 401r", ""},
	{"chat", "DELETE /webhooks/:id [public]", "401 401 403 403 403 204 204 403d 401r", ""},
	{"chat", "POST /hooks/:token", "201 201 201 201 201 201 201 201 201", ""},
	// The admin page: by the token's current role, whatever the room.
	{"chat", "GET /admin/rooms", adminOnly, ""},
	{"chat", "PATCH /admin/rooms/:id", adminOnly, ""},
	{"chat", "DELETE /admin/rooms/:id", "401 401 403 403 403 403 204 403d 401r", ""},
	{"chat", "GET /admin/usage", adminOnly, ""},
	{"chat", "GET /healthz", open, unpublished},
	{"chat", "GET /readyz", open, unpublished},
	{"chat", "GET /health", open, unpublished},
	{"chat", "GET /metrics", open, unpublished},

	// api-gateway: its own endpoints, and the three prefixes it forwards
	// (every method it accepts).
	{"gateway", "GET /healthz", open, ""},
	{"gateway", "GET /readyz", open, ""},
	{"gateway", "GET /health", open, ""},
	{"gateway", "GET /metrics", open, ""},
	{"gateway", "GET /api/openapi.json", open, ""},
	{"gateway", "* /api/auth/*path", proxied, ""},
	{"gateway", "* /api/users/*path", proxied, ""},
	{"gateway", "* /api/chat/*path", proxied, ""},
}

// caller is a column of the matrix.
type caller int

const (
	anonymous caller = iota
	forged
	plainUser
	nonMember
	member
	owner
	admin
	disabled
	revoked
	nCallers
)

var callerNames = [nCallers]string{"anonymous", "forged", "user", "non-member", "member", "owner", "admin", "disabled", "revoked"}

// cell is one expected answer.
type cell struct {
	status int
	code   string // the error code, when the cell names one
}

func (c cell) String() string {
	if c.code != "" {
		return strconv.Itoa(c.status) + " " + c.code
	}
	return strconv.Itoa(c.status)
}

// parseCells reads a row's nine cells.
func parseCells(s string) ([nCallers]cell, error) {
	var out [nCallers]cell
	f := strings.Fields(s)
	if len(f) != int(nCallers) {
		return out, fmt.Errorf("%q has %d cells, want %d", s, len(f), nCallers)
	}
	for i, tok := range f {
		code := ""
		switch {
		case strings.HasSuffix(tok, "d"):
			tok, code = strings.TrimSuffix(tok, "d"), "account_disabled"
		case strings.HasSuffix(tok, "r"):
			tok, code = strings.TrimSuffix(tok, "r"), "session_revoked"
		}
		n, err := strconv.Atoi(tok)
		if err != nil || n < 100 || n > 599 {
			return out, fmt.Errorf("%q: bad cell %q", s, f[i])
		}
		// A 401 names its reason: no token, or one that does not verify.
		switch {
		case n == 401 && caller(i) == anonymous:
			code = "missing_token"
		case n == 401 && caller(i) == forged:
			code = "invalid_token"
		}
		out[i] = cell{n, code}
	}
	return out, nil
}

// endsSessions are the routes that sign an account out everywhere.
var endsSessions = map[string]bool{
	"auth POST /sessions/revoke-all":           true,
	"auth POST /users/:id/sessions/revoke-all": true,
}

// cellPhase orders the rows: reads (0), writes (1), then the routes that
// end every session of an account (2).
func cellPhase(row authzRow) int {
	method, _, _ := splitRoute(row.route)
	switch {
	case endsSessions[row.svc+" "+row.route]:
		return 2
	case method == "GET" || method == "HEAD":
		return 0
	}
	return 1
}

// servicePrefix is where the gateway publishes each service.
var servicePrefix = map[string]string{"auth": "/api/auth", "user": "/api/users", "chat": "/api/chat"}

func TestAuthorizationMatrix(t *testing.T) {
	start := time.Now()
	s := startStack(t, map[string]string{
		// Every cell is a request, and the mutating ones each start from a
		// fresh room: lift chat-service's per-user limits (tested in its own
		// tests) so that they are not what the matrix observes.
		"USER_RATE_LIMIT_RPS": "100000", "USER_RATE_LIMIT_BURST": "100000",
		"SEND_RATE": "100000", "SEND_BURST": "100000",
	})
	registered := map[string][]string{} // service → "METHOD /path"
	for name, svc := range map[string]*testkit.Service{"auth": s.Auth, "user": s.User, "chat": s.Chat, "gateway": s.Gateway} {
		for _, r := range svc.Routes() {
			registered[name] = append(registered[name], r.Method+" "+r.Path)
		}
		if len(registered[name]) == 0 {
			t.Fatalf("%s registered no routes (is its handler a gin engine?)", name)
		}
	}
	if problems := coverageProblems(authzTable, registered); len(problems) > 0 {
		t.Fatal(strings.Join(problems, "\n"))
	}

	f := newAuthzFixture(t, s)
	f.revokeAndDisable()
	setup := time.Since(start)

	observe := os.Getenv("AUTHZ_OBSERVE") != ""
	var failures []string
	cells := 0
	// Reads first, on the shared rooms; then the writes, each on its own
	// fresh room, so that no write changes what a later cell sees; last
	// the routes that end every session of an account (each such cell
	// signs in afresh).
	for phase := range 3 {
		for _, row := range authzTable {
			if row.svc == "gateway" && row.direct == proxied || row.direct == wsOnly {
				continue
			}
			if cellPhase(row) != phase {
				continue
			}
			vias := []string{"direct"}
			if row.svc != "gateway" {
				vias = append(vias, "gateway")
			}
			for _, via := range vias {
				spec := row.direct
				if via == "gateway" && row.gateway != "" {
					spec = row.gateway
				}
				want, err := parseCells(spec)
				if err != nil {
					t.Fatalf("%s %s: %v", row.svc, row.route, err)
				}
				var got [nCallers]cell
				for c := range nCallers {
					status, code, leak := f.ask(row.svc, row.route, via, c)
					cells++
					got[c] = cell{status, ""}
					if want[c].code != "" {
						got[c].code = code
					}
					if got[c] != want[c] {
						failures = append(failures, fmt.Sprintf("%s %s %s, %s: got %d %s, want %s", row.svc, row.route, via, callerNames[c], status, code, want[c]))
					}
					if leak != "" {
						failures = append(failures, fmt.Sprintf("%s %s %s, %s: answer shows the private room (%s)", row.svc, row.route, via, callerNames[c], leak))
					}
				}
				if observe {
					var b strings.Builder
					for _, g := range got {
						fmt.Fprintf(&b, "%d ", g.status)
					}
					t.Logf("observed %-8s %-40s %-7s %s", row.svc, row.route, via, b.String())
				}
			}
		}
	}
	for _, msg := range failures {
		t.Error(msg)
	}
	t.Logf("%d routes, %d cells in %v (setup %v)", len(authzTable), cells, time.Since(start).Round(time.Millisecond), setup.Round(time.Millisecond))
}

// coverageProblems names every registered route without a row, every row
// naming a route nobody registered, and every row that does not parse.
func coverageProblems(table []authzRow, registered map[string][]string) []string {
	var out []string
	used := make([]bool, len(table))
	for _, svc := range slices.Sorted(maps.Keys(registered)) {
		for _, r := range registered[svc] {
			found := false
			for i, row := range table {
				if row.svc == svc && routeMatches(row.route, r) {
					used[i] = true
					_, _, variant := splitRoute(row.route)
					found = found || variant == ""
				}
			}
			if !found {
				out = append(out, fmt.Sprintf("%s registers %s, which has no row in authzTable: add one with the answer each caller must get", svc, r))
			}
		}
	}
	for i, row := range table {
		if !used[i] {
			out = append(out, fmt.Sprintf("authzTable has a row for %s %s, which %s does not register", row.svc, row.route, row.svc))
		}
		if row.direct == proxied || row.direct == wsOnly {
			continue
		}
		for _, spec := range []string{row.direct, row.gateway} {
			if spec == "" {
				continue
			}
			if _, err := parseCells(spec); err != nil {
				out = append(out, fmt.Sprintf("%s %s: %v", row.svc, row.route, err))
			}
		}
	}
	return out
}

// routeMatches reports whether a row's route ("METHOD /path", method "*"
// for any, perhaps with a variant) names a registered route.
func routeMatches(row, registered string) bool {
	rm, rp, _ := splitRoute(row)
	gm, gp, _ := splitRoute(registered)
	return rp == gp && (rm == "*" || rm == gm)
}

// splitRoute cuts "METHOD /path [variant]" into its parts.
func splitRoute(route string) (method, pattern, variant string) {
	method, rest, _ := strings.Cut(route, " ")
	pattern, variant, _ = strings.Cut(rest, " ")
	return method, pattern, strings.Trim(variant, "[]")
}

// TestAuthzCoverageCheck shows the matrix refusing a route added without
// its row, a row left behind by a route removed and a row that does not
// parse.
func TestAuthzCoverageCheck(t *testing.T) {
	table := []authzRow{
		{"chat", "GET /rooms", signedIn, ""},
		{"chat", "GET /rooms [public]", signedIn, ""},
		{"chat", "GET /gone", signedIn, ""},
		{"chat", "PATCH /rooms/:id [dm]", signedIn, ""},
		{"gateway", "* /api/chat/*path", proxied, ""},
		{"user", "GET /bad", "200 200", ""},
	}
	registered := map[string][]string{
		"chat":    {"GET /rooms", "POST /rooms/:id/pin", "PATCH /rooms/:id"},
		"gateway": {"GET /api/chat/*path", "POST /api/chat/*path"},
		"user":    {"GET /bad"},
	}
	got := coverageProblems(table, registered)
	want := []string{
		"chat registers POST /rooms/:id/pin, which has no row",
		"chat registers PATCH /rooms/:id, which has no row", // a variant is not the route's row
		"row for chat GET /gone",
		`user GET /bad: "200 200" has 2 cells`,
	}
	if len(got) != len(want) {
		t.Fatalf("problems = %q, want %d", got, len(want))
	}
	for i := range want {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("problem %d = %q, want it to mention %q", i, got[i], want[i])
		}
	}
}
