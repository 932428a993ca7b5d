package app_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/platform/sqldb"
	"github.com/parleychat/parley/platform/sqldb/sqldbtest"
	"github.com/parleychat/parley/platform/testkit"
	"github.com/parleychat/parley/user-service/app"
	"github.com/parleychat/parley/user-service/internal/avatar/avatartest"
)

// TestBackupRestore: a backup of the running service, of either dialect,
// restored into a new SQLite file, answers profiles, avatars and settings
// byte for byte as the original did.
func TestBackupRestore(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, source sqldb.Target) {
		url := source.URL()
		old := start(t, map[string]string{"DATABASE_URL": url})
		alice, bob := old.token(7, "alice"), old.token(8, "bob")
		old.call(http.MethodPut, "/profiles/me", alice, `{"display_name":"Alice A.","bio":"line one\nline two","status_text":"here"}`, http.StatusOK, nil)
		if r := old.upload(7, alice, "avatar", "a.png", "image/png", avatartest.PNG(t, 5, 5)); r.StatusCode != http.StatusOK {
			t.Fatalf("upload: %d", r.StatusCode)
		}
		old.call(http.MethodPut, "/settings/me", alice, `{"theme":"dark","notifications":{"sound":false}}`, http.StatusOK, nil)
		old.call(http.MethodGet, "/profiles/me", bob, nil, http.StatusOK, nil)
		read := func(h *harness, path, tok string) []byte {
			t.Helper()
			r := h.request(http.MethodGet, path, tok, nil)
			b, err := io.ReadAll(r.Body)
			if err != nil || r.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %d %s %v", path, r.StatusCode, b, err)
			}
			return append([]byte(r.Header.Get("ETag")+"\n"), b...)
		}
		paths := []string{"/profiles/7", "/profiles?ids=7,8", "/avatars/7", "/avatars/8", "/settings/me"}
		before := map[string][]byte{}
		for _, p := range paths {
			before[p] = read(old, p, alice)
		}

		file := filepath.Join(t.TempDir(), "users.backup")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var out bytes.Buffer
		if err := app.Run(ctx, []string{"user-service", "backup", "--to", file}, testkit.Env(map[string]string{"DATABASE_URL": url}), &out); err != nil {
			t.Fatalf("backup: %v\n%s", err, out.String())
		}
		dir := t.TempDir()
		if err := app.Run(ctx, []string{"user-service", "restore", "--from", file}, testkit.Env(map[string]string{"DATA_DIR": dir}), &out); err != nil {
			t.Fatalf("restore: %v\n%s", err, out.String())
		}
		if !strings.Contains(out.String(), "avatars") {
			t.Fatalf("restore output:\n%s", out.String())
		}
		restored := start(t, map[string]string{"DATA_DIR": dir})
		tok := restored.token(7, "alice")
		for _, p := range paths {
			if got := read(restored, p, tok); !bytes.Equal(got, before[p]) {
				t.Errorf("GET %s differs after the restore:\noriginal %.300s\nrestored %.300s", p, before[p], got)
			}
		}
	})
}
