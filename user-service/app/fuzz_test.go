package app_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/platform/testkit/bodyfuzz"
)

// FuzzJSONBodies sends arbitrary bytes as the body of every user-service
// route that takes a JSON body, to one real user-service (app.Run, a SQLite
// file, the harness's token issuer and stand-ins for auth-service and
// chat-service) started once per process. The input names the route
// ("METHOD /path" as gin registered it; a name that is no fuzzed route
// picks one by its hash, so every input reaches some route). The caller is
// a signed-in user, and :id is its own id. Whatever the body, the answer is
// never a 5xx; a 4xx is the JSON error envelope with a code and a message;
// a 2xx is JSON.
//
// Seeds are testdata/fuzz/FuzzJSONBodies: for every fuzzed route at least
// one valid-* seed, which must be answered 2xx when the seeds run as a
// normal test, and malformed ones; crashers found by -fuzz are kept there.
func FuzzJSONBodies(f *testing.F) {
	fx := startUserFuzz(f)
	f.Fuzz(func(t *testing.T, route string, body []byte) {
		fx.do(t, route, body)
	})
}

// userNotFuzzed are the PUT/POST/PATCH routes whose body is not JSON.
var userNotFuzzed = map[string]string{
	"PUT /profiles/:id/avatar": "multipart/form-data (TestAvatarUploadRefused)",
}

const fuzzUserID = 7

type userFuzz struct {
	url    string
	token  string
	routes []string
	paths  map[string]string
}

func startUserFuzz(f *testing.F) *userFuzz {
	f.Helper()
	h := start(f, map[string]string{"LOG_LEVEL": "error"})
	h.auth.add(fakeAccount{ID: fuzzUserID, Username: "fuzzer", CreatedAt: time.Now().UTC()})
	fx := &userFuzz{url: h.svc.URL, token: h.token(fuzzUserID, "fuzzer"), paths: map[string]string{}}
	bodyfuzz.Setup(f, fx.url, "GET", "/profiles/me", fx.token, nil, nil)
	fx.routes = bodyfuzz.Routes(f, h.svc, userNotFuzzed)
	for _, r := range fx.routes {
		_, path, _ := strings.Cut(r, " ")
		path = strings.ReplaceAll(path, ":id", strconv.Itoa(fuzzUserID))
		if strings.Contains(path, ":") {
			f.Fatalf("%s: fill its path parameters", r)
		}
		fx.paths[r] = path
	}
	bodyfuzz.CheckSeeds(f, fx.routes)
	return fx
}

func (fx *userFuzz) do(t *testing.T, name string, body []byte) {
	route := bodyfuzz.Pick(fx.routes, name)
	method, _, _ := strings.Cut(route, " ")
	status, ct, raw := bodyfuzz.Send(t, fx.url, method, fx.paths[route], fx.token, body)
	bodyfuzz.Check(t, route, body, status, ct, raw)
}
