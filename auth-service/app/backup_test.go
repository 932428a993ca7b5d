package app_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/auth-service/app"
	"github.com/parleychat/parley/platform/sqldb"
	"github.com/parleychat/parley/platform/sqldb/sqldbtest"
	"github.com/parleychat/parley/platform/testkit"
)

// TestBackupRestore: a backup of the running service, of either dialect,
// restored into a new SQLite file, serves the same accounts, keys and
// sessions (times included: PostgreSQL's TIMESTAMPTZ becomes auth's text).
func TestBackupRestore(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, source sqldb.Target) {
		url := source.URL()
		old := start(t, map[string]string{"DATABASE_URL": url})
		admin := login(t, old.URL, "admin", adminPassword)
		alice := register(t, old.URL, "Alice", "password1")
		bob := register(t, old.URL, "bob", "password2")
		must(t, 200, "PATCH", old.URL+"/users/"+strconv.FormatInt(bob.User.ID, 10), map[string]bool{"disabled": true}, nil, bearer(admin.AccessToken)...)
		jwks := must(t, 200, "GET", old.URL+"/.well-known/jwks.json", nil, nil).Body
		before := old.counts(t)

		file := filepath.Join(t.TempDir(), "auth.backup")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var out bytes.Buffer
		if err := app.Run(ctx, []string{"auth-service", "backup", "--to", file}, testkit.Env(map[string]string{"DATABASE_URL": url}), &out); err != nil {
			t.Fatalf("backup: %v\n%s", err, out.String())
		}
		dir := t.TempDir()
		env := testkit.Env(map[string]string{"DATA_DIR": dir})
		if err := app.Run(ctx, []string{"auth-service", "restore", "--from", file}, env, &out); err != nil {
			t.Fatalf("restore: %v\n%s", err, out.String())
		}
		if !strings.Contains(out.String(), "refresh_tokens") {
			t.Fatalf("restore output:\n%s", out.String())
		}
		restored := start(t, map[string]string{"DATA_DIR": dir})
		checkMoved(t, restored, before, jwks, alice)
		// The restored service's file is held: a second restore is refused.
		if err := app.Run(ctx, []string{"auth-service", "restore", "--from", file, "--force"}, env, &out); err == nil || !strings.Contains(err.Error(), "is running on") {
			t.Fatalf("restore under the running service: %v", err)
		}
	})
}
