package app_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/auth-service/app"
	"github.com/parleychat/parley/auth-service/internal/store"
	"github.com/parleychat/parley/auth-service/internal/token"
	"github.com/parleychat/parley/platform/sqldb"
	"github.com/parleychat/parley/platform/sqldb/sqldbtest"
	"github.com/parleychat/parley/platform/testkit"
)

const adminPassword = "admin-password-1"

// svc is one running auth-service, the data directory and the database it
// uses.
type svc struct {
	*testkit.Service
	dir string
	db  sqldb.Target
}

// start runs auth-service with test defaults (cost 4, a known admin
// password) overridden by extra.
func start(t *testing.T, extra map[string]string) *svc {
	t.Helper()
	dir := t.TempDir()
	env := map[string]string{
		"DATA_DIR":       dir,
		"BCRYPT_COST":    "4",
		"ADMIN_PASSWORD": adminPassword,
		"LOG_LEVEL":      "warn",
	}
	for k, v := range extra {
		env[k] = v
	}
	if env["DATA_DIR"] != dir {
		dir = env["DATA_DIR"]
	}
	target, err := sqldb.ParseURL(env["DATABASE_URL"], dir, "auth.db")
	if err != nil {
		t.Fatal(err)
	}
	return &svc{Service: testkit.Start(t, "auth-service", app.Run, env), dir: dir, db: target}
}

// eachDatabase runs fn once per dialect with the env that points a service
// at a fresh database: a SQLite file, and a PostgreSQL database on
// TEST_POSTGRES_DSN (skipped locally without it, required under CI).
func eachDatabase(t *testing.T, fn func(t *testing.T, db map[string]string)) {
	sqldbtest.Each(t, func(t *testing.T, target sqldb.Target) {
		fn(t, map[string]string{"DATABASE_URL": target.URL()})
	})
}

// counts reads the row counts of the service's database through a second
// connection to it.
func (s *svc) counts(t *testing.T) map[string]int {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, s.db)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// resp is an answer, body read.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r resp) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// code is the error code of an error answer, failing the test when the
// body is not the JSON error envelope.
func (r resp) code(t *testing.T) string {
	t.Helper()
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	r.decode(t, &e)
	if e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("not an error envelope: %d %s", r.Status, r.Body)
	}
	return e.Error.Code
}

// call sends body (a string is sent raw, nil sends nothing, anything else
// as JSON) with optional header name/value pairs.
func call(t *testing.T, method, url string, body any, headers ...string) resp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// user is the User JSON, with email as a raw value so tests can tell an
// absent email from an empty one.
type user struct {
	ID        int64           `json:"id"`
	Username  string          `json:"username"`
	Email     json.RawMessage `json:"email"`
	Role      string          `json:"role"`
	Disabled  bool            `json:"disabled"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

type session struct {
	User         user   `json:"user"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
}

// must sends a request and fails the test unless the status is want;
// out (when non-nil) receives the decoded body.
func must(t *testing.T, want int, method, url string, body, out any, headers ...string) resp {
	t.Helper()
	r := call(t, method, url, body, headers...)
	if r.Status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, url, r.Status, want, r.Body)
	}
	if out != nil {
		r.decode(t, out)
	}
	return r
}

func register(t *testing.T, base, name, password string) session {
	t.Helper()
	var s session
	must(t, 201, "POST", base+"/register", map[string]string{"username": name, "password": password}, &s)
	return s
}

func login(t *testing.T, base, name, password string) session {
	t.Helper()
	var s session
	must(t, 200, "POST", base+"/login", map[string]string{"username": name, "password": password}, &s)
	return s
}

// keyFile writes a fresh Ed25519 key as PKCS#8 PEM and returns it.
func keyFile(t *testing.T) (string, ed25519.PrivateKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := token.EncodePEM(priv)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "jwt.pem")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, priv
}
