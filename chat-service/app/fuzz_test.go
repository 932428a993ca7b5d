package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/chat-service/app"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/authn/authntest"
	"github.com/parleychat/parley/platform/testkit"
	"github.com/parleychat/parley/platform/testkit/bodyfuzz"
)

// FuzzJSONBodies sends arbitrary bytes as the body of every chat-service
// route that takes a JSON body, to one real chat-service (app.Run, a SQLite
// file, a throwaway token issuer and a stand-in user directory) started
// once per process. The input names the route ("METHOD /path" as gin
// registered it; a name that is no fuzzed route picks one by its hash, so
// every input reaches some route). The caller is a signed-in user who owns
// the room and wrote the message the path names. Whatever the body, the
// answer is never a 5xx; a 4xx is the JSON error envelope with a code and a
// message; a 2xx is JSON. The admin routes (/admin/...) are sent as an
// admin.
//
// Sends, reads, member and DM changes are kept (the directory knows three
// users, so members and DMs are bounded; messages grow with the run); a
// room the fuzzer creates is deleted again, and the fixture room is
// unarchived after any change, so later inputs still reach its messages.
//
// Seeds are testdata/fuzz/FuzzJSONBodies: for every fuzzed route at least
// one valid-* seed, which must be answered 2xx when the seeds run as a
// normal test, and malformed ones; crashers found by -fuzz are kept there.
func FuzzJSONBodies(f *testing.F) {
	fx := startChatFuzz(f)
	f.Fuzz(func(t *testing.T, route string, body []byte) {
		fx.do(t, route, body)
	})
}

// chatNotFuzzed are the POST/PUT/PATCH routes that read no body.
var chatNotFuzzed = map[string]string{
	"POST /rooms/:id/join":                "no body",
	"POST /rooms/:id/leave":               "no body",
	"POST /messages/:id/reactions/:emoji": "no body",
	"POST /rooms/:id/files":               "multipart, not JSON (internal/httpapi/files_test.go)",
	"POST /rooms/:id/pins/:message_id":    "no body",
}

type chatFuzz struct {
	url    string
	token  string
	admin  string // the token of the admin routes
	roomID int64
	routes []string
	paths  map[string]string
}

func startChatFuzz(f *testing.F) *chatFuzz {
	f.Helper()
	is := authntest.New(f)
	svc := testkit.Start(f, "chat-service", app.Run, map[string]string{
		"DATA_DIR": f.TempDir(), "JWKS_URL": is.JWKSURL, "LOG_LEVEL": "error",
		"USER_SERVICE_URL": fuzzDirectory(f, map[int64]string{1: "fuzzer", 2: "bob", 3: "carol"}),
		"SEND_RATE":        "1000000", "SEND_BURST": "1000000",
		"USER_RATE_LIMIT_RPS": "1000000", "USER_RATE_LIMIT_BURST": "1000000",
		"WEBHOOK_RATE": "1000000", "WEBHOOK_BURST": "1000000",
	})
	fx := &chatFuzz{url: svc.URL, token: is.Token(f, 1, "fuzzer", authn.RoleUser, 24*time.Hour), paths: map[string]string{},
		admin: is.Token(f, 2, "bob", authn.RoleAdmin, 24*time.Hour)}
	var room, msg struct {
		ID int64 `json:"id"`
	}
	bodyfuzz.Setup(f, fx.url, "POST", "/rooms", fx.token, map[string]string{"name": "fuzz room", "kind": "public"}, &room)
	bodyfuzz.Setup(f, fx.url, "POST", "/rooms/"+strconv.FormatInt(room.ID, 10)+"/messages", fx.token, map[string]string{"body": "first", "client_msg_id": "fuzz-setup"}, &msg)
	fx.roomID = room.ID
	// POST /hooks/:token posts through a webhook of the fixture room.
	var hook struct {
		URL string `json:"url"`
	}
	bodyfuzz.Setup(f, fx.url, "POST", "/rooms/"+strconv.FormatInt(room.ID, 10)+"/webhooks", fx.token, map[string]string{"name": "fuzz hook"}, &hook)
	_, hookToken, _ := strings.Cut(hook.URL, "/hooks/")

	fx.routes = bodyfuzz.Routes(f, svc, chatNotFuzzed)
	for _, r := range fx.routes {
		_, path, _ := strings.Cut(r, " ")
		id := room.ID
		if strings.HasPrefix(path, "/messages/") {
			id = msg.ID
		}
		path = strings.ReplaceAll(path, ":id", strconv.FormatInt(id, 10))
		path = strings.ReplaceAll(path, ":token", hookToken)
		if strings.Contains(path, ":") {
			f.Fatalf("%s: fill its path parameters", r)
		}
		fx.paths[r] = path
	}
	bodyfuzz.CheckSeeds(f, fx.routes)
	return fx
}

func (fx *chatFuzz) do(t *testing.T, name string, body []byte) {
	route := bodyfuzz.Pick(fx.routes, name)
	method, pattern, _ := strings.Cut(route, " ")
	token := fx.token
	if strings.HasPrefix(pattern, "/admin/") {
		token = fx.admin
	}
	status, ct, raw := bodyfuzz.Send(t, fx.url, method, fx.paths[route], token, body)
	bodyfuzz.Check(t, route, body, status, ct, raw)
	switch {
	case route == "POST /rooms" && status == http.StatusCreated:
		var room struct {
			ID int64 `json:"id"`
		}
		if err := json.Unmarshal(raw, &room); err != nil || room.ID == 0 {
			t.Fatalf("POST /rooms answered %s", raw)
		}
		bodyfuzz.Setup(t, fx.url, "DELETE", "/rooms/"+strconv.FormatInt(room.ID, 10), fx.token, nil, nil)
	case route == "PATCH /rooms/:id" && status/100 == 2:
		bodyfuzz.Setup(t, fx.url, "PATCH", fx.paths[route], fx.token, map[string]bool{"archived": false}, nil)
	case route == "PATCH /admin/rooms/:id" && status/100 == 2:
		bodyfuzz.Setup(t, fx.url, "PATCH", fx.paths[route], fx.admin, map[string]bool{"archived": false}, nil)
	}
}

// fuzzDirectory stands in for user-service's GET /profiles/:id, which
// chat-service asks before opening a DM or adding a member.
func fuzzDirectory(tb testing.TB, users map[int64]string) string {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		id, err := strconv.ParseInt(strings.TrimPrefix(r.URL.Path, "/profiles/"), 10, 64)
		name, ok := users[id]
		if err != nil || !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":{"code":"profile_not_found","message":"no such profile"}}`)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "username": name})
	}))
	tb.Cleanup(srv.Close)
	return srv.URL
}
