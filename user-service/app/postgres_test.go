package app_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/platform/sqldb/sqldbtest"
	"github.com/parleychat/parley/platform/testkit"

	"github.com/parleychat/parley/user-service/app"
	"github.com/parleychat/parley/user-service/internal/avatar/avatartest"
)

// When its PostgreSQL server goes away, user-service answers 503 JSON and
// fails readiness; when the server is back it recovers by itself.
func TestPostgresOutage(t *testing.T) {
	srv := sqldbtest.StartServer(t)
	h := start(t, map[string]string{"DATABASE_URL": srv.DSN()})
	tok := h.token(7, "olive")
	h.call(http.MethodGet, "/profiles/me", tok, nil, http.StatusOK, nil)

	srv.Stop()
	wantError(t, h.request(http.MethodGet, "/profiles/me", tok, nil), http.StatusServiceUnavailable, "database_unavailable")
	wantError(t, h.request(http.MethodPut, "/profiles/me", tok, `{"bio":"x"}`), http.StatusServiceUnavailable, "database_unavailable")
	if r := h.request(http.MethodGet, "/readyz", "", nil); r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz with the database down: %d", r.StatusCode)
	}
	if r := h.request(http.MethodGet, "/healthz", "", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("healthz (liveness) with the database down: %d; a restart would not help", r.StatusCode)
	}

	srv.Start()
	if r := h.request(http.MethodGet, "/readyz", "", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("readyz after the database came back: %d", r.StatusCode)
	}
	var p profileView
	h.call(http.MethodPut, "/profiles/me", tok, `{"bio":"back"}`, http.StatusOK, &p)
	if p.Bio != "back" || p.Username != "olive" {
		t.Fatalf("profile after recovery %+v", p)
	}
}

// copy-db moves a SQLite user database into PostgreSQL, and the service on
// PostgreSQL answers byte for byte what it answered on SQLite.
func TestCopyDB(t *testing.T) {
	dir := t.TempDir()
	old := start(t, map[string]string{"DATA_DIR": dir})
	alice, bob := old.token(7, "alice"), old.token(8, "bob")
	old.call(http.MethodPut, "/profiles/me", alice, `{"display_name":"Alice A.","bio":"line one\nline two","status_text":"here"}`, http.StatusOK, nil)
	if r := old.upload(7, alice, "avatar", "a.png", "image/png", avatartest.PNG(t, 5, 5)); r.StatusCode != http.StatusOK {
		t.Fatalf("upload: %d", r.StatusCode)
	}
	old.call(http.MethodPut, "/settings/me", alice, `{"theme":"dark","notifications":{"sound":false}}`, http.StatusOK, nil)
	old.call(http.MethodGet, "/profiles/me", bob, nil, http.StatusOK, nil)
	read := func(h *harness, path, tok string) (string, []byte) {
		t.Helper()
		r := h.request(http.MethodGet, path, tok, nil)
		b, err := io.ReadAll(r.Body)
		if err != nil || r.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s %v", path, r.StatusCode, b, err)
		}
		return r.Header.Get("ETag"), b
	}
	paths := []string{"/profiles/7", "/profiles?ids=7,8", "/avatars/7", "/avatars/8"}
	before := map[string][]byte{}
	etags := map[string]string{}
	for _, p := range paths {
		etags[p], before[p] = read(old, p, alice)
	}
	_, before["/settings/me"] = read(old, "/settings/me", alice)
	if err := old.svc.Stop(); err != nil {
		t.Fatal(err)
	}

	target := sqldbtest.Postgres(t)
	env := testkit.Env(map[string]string{"DATA_DIR": dir})
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := app.Run(ctx, []string{"user-service", "copy-db", "--to", target.DSN}, env, &out); err != nil {
		t.Fatalf("copy-db: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "copied") {
		t.Fatalf("copy-db output:\n%s", out.String())
	}
	if err := app.Run(ctx, []string{"user-service", "copy-db", "--to", target.DSN}, env, &out); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("second copy-db: %v", err)
	}

	pg := start(t, map[string]string{"DATABASE_URL": target.DSN})
	tok := pg.token(7, "alice")
	for _, p := range append(paths, "/settings/me") {
		etag, got := read(pg, p, tok)
		if !bytes.Equal(got, before[p]) || etag != etags[p] {
			t.Errorf("GET %s differs after the copy:\nsqlite   %s %.300s\npostgres %s %.300s", p, etags[p], before[p], etag, got)
		}
	}
}
