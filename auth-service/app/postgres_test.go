package app_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/auth-service/app"
	"github.com/parleychat/parley/platform/sqldb/sqldbtest"
	"github.com/parleychat/parley/platform/testkit"
)

// When its PostgreSQL server goes away, auth-service answers 503 JSON and
// fails readiness; when the server is back it recovers by itself.
func TestPostgresOutage(t *testing.T) {
	srv := sqldbtest.StartServer(t)
	s := start(t, map[string]string{"DATABASE_URL": srv.DSN()})
	register(t, s.URL, "olive", "password1")
	login(t, s.URL, "olive", "password1")

	srv.Stop()
	r := call(t, "POST", s.URL+"/login", map[string]string{"username": "olive", "password": "password1"})
	if r.Status != http.StatusServiceUnavailable || r.code(t) != "database_unavailable" {
		t.Fatalf("login with the database down: %d %s", r.Status, r.Body)
	}
	r = call(t, "POST", s.URL+"/register", map[string]string{"username": "pete", "password": "password1"})
	if r.Status != http.StatusServiceUnavailable || r.code(t) != "database_unavailable" {
		t.Fatalf("register with the database down: %d %s", r.Status, r.Body)
	}
	if r := call(t, "GET", s.URL+"/readyz", nil); r.Status != http.StatusServiceUnavailable {
		t.Fatalf("readyz with the database down: %d %s", r.Status, r.Body)
	}
	if r := call(t, "GET", s.URL+"/healthz", nil); r.Status != http.StatusOK {
		t.Fatalf("healthz (liveness) with the database down: %d; a restart would not help", r.Status)
	}

	srv.Start()
	if r := call(t, "GET", s.URL+"/readyz", nil); r.Status != http.StatusOK {
		t.Fatalf("readyz after the database came back: %d %s", r.Status, r.Body)
	}
	l := login(t, s.URL, "olive", "password1")
	must(t, 200, "GET", s.URL+"/me", nil, nil, bearer(l.AccessToken)...)
	register(t, s.URL, "pete", "password1")
}

// copy-db moves a SQLite auth database into PostgreSQL: afterwards the
// service on PostgreSQL has the same accounts, passwords, roles, signing
// key and live refresh tokens, and hands out new ids after the old ones.
func TestCopyDB(t *testing.T) {
	dir := t.TempDir()
	old := start(t, map[string]string{"DATA_DIR": dir})
	admin := login(t, old.URL, "admin", adminPassword)
	alice := register(t, old.URL, "Alice", "password1")
	bob := register(t, old.URL, "bob", "password2")
	var patched user
	must(t, 200, "PATCH", old.URL+"/users/"+strconv.FormatInt(bob.User.ID, 10), map[string]bool{"disabled": true}, &patched, bearer(admin.AccessToken)...)
	jwks := must(t, 200, "GET", old.URL+"/.well-known/jwks.json", nil, nil).Body
	before := old.counts(t)
	if err := old.Stop(); err != nil {
		t.Fatal(err)
	}

	target := sqldbtest.Postgres(t)
	env := testkit.Env(map[string]string{"DATA_DIR": dir})
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := app.Run(ctx, []string{"auth-service", "copy-db", "--to", target.DSN}, env, &out); err != nil {
		t.Fatalf("copy-db: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "users") || !strings.Contains(out.String(), "copied") {
		t.Fatalf("copy-db output:\n%s", out.String())
	}
	// A second run refuses: the target is no longer empty.
	if err := app.Run(ctx, []string{"auth-service", "copy-db", "--to", target.DSN}, env, &out); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("second copy-db: %v", err)
	}

	pg := start(t, map[string]string{"DATABASE_URL": target.DSN})
	checkMoved(t, pg, before, jwks, alice)
	carol := register(t, pg.URL, "carol", "password3")
	if carol.User.ID <= bob.User.ID {
		t.Fatalf("new id %d reuses the copied range (bob is %d)", carol.User.ID, bob.User.ID)
	}
}

// checkMoved: a service on a copied or restored database has the rows,
// keys and sessions of the one that had before and jwks: alice's tokens
// issued before still work (the access token verifies with the copied
// key, the refresh token rotates), and bob (password2) is still disabled.
func checkMoved(t *testing.T, s *svc, before map[string]int, jwks []byte, alice session) {
	t.Helper()
	if after := s.counts(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("row counts: before %v, after %v", before, after)
	}
	if got := must(t, 200, "GET", s.URL+"/.well-known/jwks.json", nil, nil).Body; !bytes.Equal(got, jwks) {
		t.Fatalf("signing key changed:\n%s\n%s", jwks, got)
	}
	var me user
	must(t, 200, "GET", s.URL+"/me", nil, &me, bearer(alice.AccessToken)...)
	if me.ID != alice.User.ID || me.Username != "Alice" || !me.CreatedAt.Equal(alice.User.CreatedAt) {
		t.Fatalf("me after the move %+v, before %+v", me, alice.User)
	}
	must(t, 200, "POST", s.URL+"/refresh", map[string]string{"refresh_token": alice.RefreshToken}, nil)
	login(t, s.URL, "alice", "password1")
	if c := call(t, "POST", s.URL+"/login", map[string]string{"username": "bob", "password": "password2"}).code(t); c != "account_disabled" {
		t.Fatalf("disabled bob after the move: %s", c)
	}
}
