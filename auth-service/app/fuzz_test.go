package app_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/parleychat/parley/auth-service/app"
	"github.com/parleychat/parley/auth-service/internal/auth"
	"github.com/parleychat/parley/platform/testkit"
	"github.com/parleychat/parley/platform/testkit/bodyfuzz"
)

// FuzzJSONBodies sends arbitrary bytes as the body of every auth-service
// route that takes a JSON body, to one real auth-service (app.Run, a SQLite
// file) started once per process. The input names the route ("METHOD
// /path" as gin registered it; a name that is no fuzzed route picks one by
// its hash, so every input reaches some route). Path parameters are real
// ids, and the caller is a signed-in user (an admin for the admin routes).
// Whatever the body, the answer is never a 5xx; a 4xx is the JSON error
// envelope with a code and a message; a 2xx is JSON (204: empty).
//
// In a body, $TOKEN becomes the caller's access token, $PASSWORD the
// fuzzing user's current password (JSON-escaped; the fuzzer may change it
// through POST /password, and it is followed), and $REFRESH a fresh refresh
// token of a login of its own (so /refresh reuse and /logout end that login,
// not the caller's), and $PAT a personal access token of the fuzzing user,
// so that seeds and what grows from them get past the
// credential checks.
//
// Seeds are testdata/fuzz/FuzzJSONBodies: for every fuzzed route at least
// one valid-* seed, which must be answered 2xx when the seeds run as a
// normal test, and malformed ones; crashers found by -fuzz are kept there.
func FuzzJSONBodies(f *testing.F) {
	fx := startAuthFuzz(f)
	f.Fuzz(func(t *testing.T, route string, body []byte) {
		fx.do(t, route, body)
	})
}

// authNotFuzzed are the POST/PUT/PATCH routes that read no body: signing
// out everywhere would end the caller's own session.
var authNotFuzzed = map[string]string{
	"POST /sessions/revoke-all":           "no body",
	"POST /users/:id/sessions/revoke-all": "no body",
}

// authAsAdmin are the fuzzed routes called with the admin's token.
var authAsAdmin = map[string]bool{"PATCH /users/:id": true, "POST /bots": true, "POST /bots/:id/tokens": true}

const (
	fuzzUser      = "fuzzer"
	fuzzRefresher = "refresher"
	fuzzPassword  = "fuzz-password-0"
)

type authFuzz struct {
	url    string
	routes []string
	// paths and tokens: each route's path with its parameters filled, and
	// the access token it is called with.
	paths, tokens map[string]string
	// password is the fuzzing user's current password.
	password string
	// pat is a personal access token of the fuzzing user.
	pat string
}

func startAuthFuzz(f *testing.F) *authFuzz {
	f.Helper()
	// Every throttle is kept on, with buckets no fuzzing run empties.
	svc := testkit.Start(f, "auth-service", app.Run, map[string]string{
		"DATA_DIR": f.TempDir(), "BCRYPT_COST": "4", "ADMIN_PASSWORD": adminPassword, "LOG_LEVEL": "error",
		"LOGIN_RATE_USER_BURST": "1000", "LOGIN_RATE_USER_INTERVAL": "1ms",
		"LOGIN_RATE_IP_BURST": "100000", "LOGIN_RATE_IP_INTERVAL": "1ms",
		"LOGIN_RATE_ACCOUNT_BURST": "100000", "LOGIN_RATE_ACCOUNT_INTERVAL": "1ms",
		"REGISTER_RATE_IP_BURST": "100000", "REGISTER_RATE_IP_INTERVAL": "1ms",
	})
	fx := &authFuzz{url: svc.URL, password: fuzzPassword, paths: map[string]string{}, tokens: map[string]string{}}
	var admin, user, victim session
	bodyfuzz.Setup(f, fx.url, "POST", "/login", "", map[string]string{"username": "admin", "password": adminPassword}, &admin)
	bodyfuzz.Setup(f, fx.url, "POST", "/register", "", map[string]string{"username": fuzzUser, "password": fuzzPassword}, &user)
	bodyfuzz.Setup(f, fx.url, "POST", "/register", "", map[string]string{"username": "victim", "password": fuzzPassword}, &victim)
	bodyfuzz.Setup(f, fx.url, "POST", "/register", "", map[string]string{"username": fuzzRefresher, "password": fuzzPassword}, nil)
	var bot struct{ ID int64 }
	bodyfuzz.Setup(f, fx.url, "POST", "/bots", admin.AccessToken, map[string]string{"username": "fuzzbot"}, &bot)
	var pat struct{ Token string }
	bodyfuzz.Setup(f, fx.url, "POST", "/tokens", user.AccessToken, map[string]string{"name": "fuzz"}, &pat)
	fx.pat = pat.Token

	fx.routes = bodyfuzz.Routes(f, svc, authNotFuzzed)
	for _, r := range fx.routes {
		_, path, _ := strings.Cut(r, " ")
		// The admin routes act on another account, never the admin's own.
		target := victim.User.ID
		if strings.HasPrefix(path, "/bots/") {
			target = bot.ID
		}
		path = strings.ReplaceAll(path, ":id", strconv.FormatInt(target, 10))
		if strings.Contains(path, ":") {
			f.Fatalf("%s: fill its path parameters", r)
		}
		fx.paths[r], fx.tokens[r] = path, user.AccessToken
		if authAsAdmin[r] {
			fx.tokens[r] = admin.AccessToken
		}
	}
	bodyfuzz.CheckSeeds(f, fx.routes)
	return fx
}

func (fx *authFuzz) do(t *testing.T, name string, tmpl []byte) {
	route := bodyfuzz.Pick(fx.routes, name)
	method, _, _ := strings.Cut(route, " ")
	body := bytes.ReplaceAll(tmpl, []byte("$TOKEN"), []byte(fx.tokens[route]))
	body = bytes.ReplaceAll(body, []byte("$PASSWORD"), jsonEscaped(fx.password))
	body = bytes.ReplaceAll(body, []byte("$PAT"), []byte(fx.pat))
	if bytes.Contains(body, []byte("$REFRESH")) {
		var s session
		bodyfuzz.Setup(t, fx.url, "POST", "/login", "", map[string]string{"username": fuzzRefresher, "password": fuzzPassword}, &s)
		body = bytes.ReplaceAll(body, []byte("$REFRESH"), []byte(s.RefreshToken))
	}
	status, ct, raw := bodyfuzz.Send(t, fx.url, method, fx.paths[route], fx.tokens[route], body)
	bodyfuzz.Check(t, route, tmpl, status, ct, raw)
	if route == "POST /password" && status == http.StatusNoContent {
		// The body was accepted, so it decodes as the service decoded it.
		var in auth.PasswordInput
		if err := json.Unmarshal(body, &in); err != nil {
			t.Fatalf("POST /password accepted %q: %v", body, err)
		}
		fx.password = in.NewPassword
	}
}

// jsonEscaped is s as the inside of a JSON string.
func jsonEscaped(s string) []byte {
	b, _ := json.Marshal(s)
	return b[1 : len(b)-1]
}
