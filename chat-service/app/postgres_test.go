package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/chat-service/app"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/authn/authntest"
	"github.com/parleychat/parley/platform/sqldb/sqldbtest"
	"github.com/parleychat/parley/platform/testkit"
)

// api sends a request with a bearer token and a JSON body (nil for none)
// and returns the status and raw answer.
func api(t *testing.T, method, url, tok string, body any) (int, []byte) {
	t.Helper()
	status, raw, err := request(method, url, tok, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return status, raw
}

// request is api for goroutines other than the test's: it returns the
// error instead of failing the test.
func request(method, url, tok string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

// mustAPI is api that fails the test unless the status is want, decoding
// the answer into out when it is not nil.
func mustAPI(t *testing.T, want int, method, url, tok string, body, out any) []byte {
	t.Helper()
	status, raw := api(t, method, url, tok, body)
	if status != want {
		t.Fatalf("%s %s = %d %s, want %d", method, url, status, raw, want)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, url, raw, err)
		}
	}
	return raw
}

// userDirectory stands in for user-service's GET /profiles/:id (the DM
// lookup), knowing ids as "user<id>"; chat-service's module cannot import
// user-service, and e2e runs DMs against the real one.
func userDirectory(t *testing.T, ids ...int64) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(strings.TrimPrefix(r.URL.Path, "/profiles/"), 10, 64)
		if err != nil || !slices.Contains(ids, id) {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":{"code":"profile_not_found","message":"no such profile"}}`)
			return
		}
		fmt.Fprintf(w, `{"id":%d,"username":"user%d"}`, id, id)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func errorCode(t *testing.T, raw []byte) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(raw, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("not a JSON error: %s", raw)
	}
	return e.Error.Code
}

// When its PostgreSQL server goes away, chat-service answers 503 JSON and
// fails readiness; when the server is back it recovers by itself.
func TestPostgresOutage(t *testing.T) {
	srv := sqldbtest.StartServer(t)
	is := authntest.New(t)
	svc := testkit.Start(t, "chat-service", app.Run, map[string]string{
		"DATABASE_URL": srv.DSN(), "JWKS_URL": is.JWKSURL, "LOG_LEVEL": "warn",
	})
	tok := is.Token(t, 1, "alice", authn.RoleUser, time.Hour)
	mustAPI(t, 201, "POST", svc.URL+"/rooms/1/messages", tok, map[string]string{"body": "before", "client_msg_id": "m1"}, nil)

	srv.Stop()
	for _, r := range []struct{ method, path string }{{"GET", "/rooms"}, {"GET", "/rooms/1/messages"}, {"POST", "/rooms/1/messages"}} {
		status, raw := api(t, r.method, svc.URL+r.path, tok, map[string]string{"body": "during", "client_msg_id": "m2"})
		if status != http.StatusServiceUnavailable || errorCode(t, raw) != "database_unavailable" {
			t.Fatalf("%s %s with the database down: %d %s", r.method, r.path, status, raw)
		}
	}
	if status, raw := api(t, "GET", svc.URL+"/readyz", "", nil); status != http.StatusServiceUnavailable {
		t.Fatalf("readyz with the database down: %d %s", status, raw)
	}
	if status, _ := api(t, "GET", svc.URL+"/healthz", "", nil); status != http.StatusOK {
		t.Fatalf("healthz (liveness) with the database down: %d; a restart would not help", status)
	}

	srv.Start()
	if status, raw := api(t, "GET", svc.URL+"/readyz", "", nil); status != http.StatusOK {
		t.Fatalf("readyz after the database came back: %d %s", status, raw)
	}
	// The send that failed is retried with the same client id: stored
	// once, with the next seq.
	var m struct{ Seq int64 }
	mustAPI(t, 201, "POST", svc.URL+"/rooms/1/messages", tok, map[string]string{"body": "during", "client_msg_id": "m2"}, &m)
	if m.Seq != 2 {
		t.Fatalf("seq after recovery = %d, want 2", m.Seq)
	}
}

// copy-db moves a SQLite chat database into PostgreSQL: the service on
// PostgreSQL shows the same rooms, history, reactions, read markers and
// search results, and carries on with the next seqs and ids.
func TestCopyDB(t *testing.T) {
	dir := t.TempDir()
	is := authntest.New(t)
	env := map[string]string{"DATA_DIR": dir, "JWKS_URL": is.JWKSURL, "USER_SERVICE_URL": userDirectory(t, 1, 2, 3), "LOG_LEVEL": "warn", "SEND_RATE": "1000", "SEND_BURST": "1000", "USER_RATE_LIMIT_RPS": "100000", "USER_RATE_LIMIT_BURST": "100000"}
	old := testkit.Start(t, "chat-sqlite", app.Run, env)
	alice := is.Token(t, 1, "alice", authn.RoleUser, time.Hour)
	bob := is.Token(t, 2, "bob", authn.RoleUser, time.Hour)

	var room struct{ ID int64 }
	mustAPI(t, 201, "POST", old.URL+"/rooms", alice, map[string]string{"name": "plans", "kind": "private"}, &room)
	mustAPI(t, 201, "POST", fmt.Sprintf("%s/rooms/%d/members", old.URL, room.ID), alice, map[string]any{"user_id": 2}, nil)
	var ids []int64
	for i, body := range []string{"hello general", "quick brown fox", "second thoughts", "to be removed"} {
		var m struct{ ID int64 }
		mustAPI(t, 201, "POST", old.URL+"/rooms/1/messages", []string{alice, bob}[i%2], map[string]string{"body": body, "client_msg_id": fmt.Sprint("c", i)}, &m)
		ids = append(ids, m.ID)
	}
	var plan struct{ ID int64 }
	mustAPI(t, 201, "POST", fmt.Sprintf("%s/rooms/%d/messages", old.URL, room.ID), bob, map[string]string{"body": "secret quick plan"}, &plan)
	// A thread (replies, counts, follows), a mention and a group DM come
	// along too.
	mustAPI(t, 201, "POST", fmt.Sprintf("%s/rooms/%d/messages", old.URL, room.ID), alice, map[string]any{"body": "agreed, @bob", "thread_root_id": plan.ID}, nil)
	mustAPI(t, 201, "POST", old.URL+"/dms", alice, map[string]any{"user_ids": []int64{2, 3}}, nil)
	mustAPI(t, 200, "PATCH", fmt.Sprintf("%s/messages/%d", old.URL, ids[2]), alice, map[string]string{"body": "second thoughts, edited"}, nil)
	if status, raw := api(t, "DELETE", fmt.Sprintf("%s/messages/%d", old.URL, ids[3]), bob, nil); status >= 300 {
		t.Fatalf("delete: %d %s", status, raw)
	}
	if status, raw := api(t, "POST", fmt.Sprintf("%s/messages/%d/reactions/%s", old.URL, ids[1], "%F0%9F%91%8D"), alice, nil); status >= 300 {
		t.Fatalf("react: %d %s", status, raw)
	}
	mustAPI(t, 200, "POST", old.URL+"/rooms/1/read", bob, map[string]int64{"seq": 2}, nil)
	var dm struct{ ID int64 }
	mustAPI(t, 201, "POST", old.URL+"/dms", alice, map[string]int64{"user_id": 2}, &dm)
	// A file of several chunks, attached to a message, and its bytes.
	fileData := multiChunk()
	file := uploadFile(t, old.URL, alice, 1, "data.bin", fileData)
	mustAPI(t, 201, "POST", old.URL+"/rooms/1/messages", alice, map[string]any{"file_ids": []int64{file.ID}}, nil)

	views := []struct{ tok, path string }{
		{alice, "/rooms"}, {bob, "/rooms"},
		{bob, "/rooms/1/messages"}, {alice, fmt.Sprintf("/rooms/%d/messages", room.ID)},
		{alice, fmt.Sprintf("/rooms/%d/members", room.ID)},
		{bob, "/search?q=qui"}, {alice, "/search?q=second+thou"},
		{alice, "/users/2/stats"},
		{bob, "/threads"}, {alice, fmt.Sprintf("/messages/%d/thread", plan.ID)}, {bob, "/mentions"},
	}
	before := map[string][]byte{}
	for _, v := range views {
		before[v.tok+v.path] = mustAPI(t, 200, "GET", old.URL+v.path, v.tok, nil, nil)
	}
	if err := old.Stop(); err != nil {
		t.Fatal(err)
	}

	target := sqldbtest.Postgres(t)
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := app.Run(ctx, []string{"chat-service", "copy-db", "--to", target.DSN}, testkit.Env(env), &out); err != nil {
		t.Fatalf("copy-db: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "messages") {
		t.Fatalf("copy-db output:\n%s", out.String())
	}
	if err := app.Run(ctx, []string{"chat-service", "copy-db", "--to", target.DSN}, testkit.Env(env), &out); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("second copy-db: %v", err)
	}

	pgEnv := map[string]string{"DATABASE_URL": target.DSN, "JWKS_URL": is.JWKSURL, "LOG_LEVEL": "warn"}
	pg := testkit.Start(t, "chat-postgres", app.Run, pgEnv)
	for _, v := range views {
		if got := mustAPI(t, 200, "GET", pg.URL+v.path, v.tok, nil, nil); !bytes.Equal(got, before[v.tok+v.path]) {
			t.Errorf("GET %s differs after the copy:\nsqlite   %s\npostgres %s", v.path, before[v.tok+v.path], got)
		}
	}
	// The file's signed URL (the key came along) serves the same bytes.
	if status, got := fetchFile(t, pg.URL, file.URL); status != 200 || !bytes.Equal(got, fileData) {
		t.Fatalf("file after the copy: %d, %d bytes", status, len(got))
	}
	// History carries on: the next seq in General, new ids after the old.
	var m struct{ ID, Seq int64 }
	mustAPI(t, 201, "POST", pg.URL+"/rooms/1/messages", alice, map[string]string{"body": "on postgres now"}, &m)
	if m.Seq != 6 || m.ID <= ids[3] {
		t.Fatalf("first message on postgres: %+v (last sqlite id %d)", m, ids[3])
	}
	// The retried send of a copied client id is still recognised.
	var again struct{ ID int64 }
	mustAPI(t, 201, "POST", pg.URL+"/rooms/1/messages", alice, map[string]string{"body": "hello general", "client_msg_id": "c0"}, &again)
	if again.ID != ids[0] {
		t.Fatalf("retry of a copied send made message %d, want %d", again.ID, ids[0])
	}
	var r2 struct{ ID int64 }
	mustAPI(t, 201, "POST", pg.URL+"/rooms", alice, map[string]string{"name": "after", "kind": "public"}, &r2)
	if r2.ID <= dm.ID {
		t.Fatalf("new room id %d reuses the copied range (dm is %d)", r2.ID, dm.ID)
	}
}
