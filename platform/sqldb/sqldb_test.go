package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		in      string
		dialect Dialect
		path    string
		wantErr bool
	}{
		{"", SQLite, filepath.Join("data", "chat.db"), false},
		{"sqlite:///var/lib/parley/chat.db", SQLite, "/var/lib/parley/chat.db", false},
		{"sqlite://rel/chat.db?x=1", SQLite, "rel/chat.db", false},
		{"./chat.db", SQLite, "./chat.db", false},
		{"postgres://u:p@h/db", Postgres, "", false},
		{"postgresql://h/db", Postgres, "", false},
		{"sqlite://", "", "", true},
		{"mysql://u:secret@h/db", "", "", true},
	}
	for _, tt := range tests {
		got, err := ParseURL(tt.in, "data", "chat.db")
		if (err != nil) != tt.wantErr {
			t.Errorf("%q: err %v", tt.in, err)
			continue
		}
		if err != nil {
			if tt.in == "mysql://u:secret@h/db" && strings.Contains(err.Error(), "secret") {
				t.Errorf("error leaks the password: %v", err)
			}
			continue
		}
		if got.Dialect != tt.dialect || (tt.dialect == SQLite && got.Path != tt.path) {
			t.Errorf("%q: %+v", tt.in, got)
		}
	}
}

// URL is what ParseURL reads back as the same target, so tests and tools
// can hand a target to a service as its DATABASE_URL.
func TestTargetURLRoundTrips(t *testing.T) {
	for _, tt := range []struct {
		target Target
		url    string
	}{
		{Target{Dialect: SQLite, Path: "/var/lib/parley/chat.db"}, "sqlite:///var/lib/parley/chat.db"},
		{Target{Dialect: SQLite, Path: "rel/chat.db"}, "sqlite://rel/chat.db"},
		{Target{Dialect: Postgres, DSN: "postgres://u:p@127.0.0.1:5432/db?sslmode=disable"}, "postgres://u:p@127.0.0.1:5432/db?sslmode=disable"},
		{Target{Dialect: Postgres, DSN: "postgresql://h/db"}, "postgresql://h/db"},
	} {
		if got := tt.target.URL(); got != tt.url {
			t.Errorf("%+v.URL() = %q, want %q", tt.target, got, tt.url)
		}
		back, err := ParseURL(tt.target.URL(), "data", "chat.db")
		if err != nil || back != tt.target {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", tt.target.URL(), back, err, tt.target)
		}
	}
}

func openTemp(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Open(context.Background(), Target{Dialect: SQLite, Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestMigrateConcurrentReplicasAndErrors(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "x.db")
	ms, err := LoadMigrations(os.DirFS("testdata"), "migrations")
	if err != nil || len(ms) != 2 || ms[0].Version != 1 || ms[1].Name != "counter" {
		t.Fatalf("LoadMigrations = %+v, %v", ms, err)
	}
	// Four "replicas" with their own handles migrate the same new file at once.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		db := openTemp(t, path)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- Migrate(ctx, db, ms)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Migrate: %v", err)
		}
	}
	db := openTemp(t, path)
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("schema_migrations rows = %d, %v", n, err)
	}
	if err := db.QueryRow(`SELECT COUNT(*) FROM counter`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("counter rows = %d (a migration ran twice?), %v", n, err)
	}
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v", mode, err)
	}

	if _, err := db.Exec(`INSERT INTO things (name) VALUES ('a')`); err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(`INSERT INTO things (name) VALUES ('a')`)
	if !IsUniqueViolation(err) || IsForeignKeyViolation(err) {
		t.Fatalf("duplicate insert: %v, unique=%v", err, IsUniqueViolation(err))
	}
	_, err = db.Exec(`INSERT INTO parts (thing_id) VALUES (999)`)
	if !IsForeignKeyViolation(err) || IsUniqueViolation(err) {
		t.Fatalf("dangling reference: %v", err)
	}

	// A failing transaction leaves nothing behind.
	boom := errors.New("boom")
	err = db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`INSERT INTO things (name) VALUES ('b')`); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Tx err = %v", err)
	}
	if err := db.QueryRow(`SELECT COUNT(*) FROM things WHERE name = 'b'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("rolled-back row present: %d %v", n, err)
	}
}

func TestConcurrentWritersShareFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "w.db")
	ms, _ := LoadMigrations(os.DirFS("testdata"), "migrations")
	if err := Migrate(ctx, openTemp(t, path), ms); err != nil {
		t.Fatal(err)
	}
	const handles, perHandle = 3, 40
	var wg sync.WaitGroup
	errs := make(chan error, handles*perHandle)
	for h := 0; h < handles; h++ {
		db := openTemp(t, path)
		for g := 0; g < 2; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < perHandle/2; i++ {
					errs <- db.Tx(ctx, func(tx *sql.Tx) error {
						var n int
						if err := tx.QueryRow(`SELECT n FROM counter WHERE id = 1`).Scan(&n); err != nil {
							return err
						}
						_, err := tx.Exec(`UPDATE counter SET n = ? WHERE id = 1`, n+1)
						return err
					})
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("writer: %v", err)
		}
	}
	var n int
	if err := openTemp(t, path).QueryRow(`SELECT n FROM counter`).Scan(&n); err != nil || n != handles*perHandle {
		t.Fatalf("counter = %d, want %d (lost update): %v", n, handles*perHandle, err)
	}
}

func TestRebind(t *testing.T) {
	pg := &DB{Dialect: Postgres}
	if got := pg.Rebind(`a = ? AND b = ?`); got != `a = $1 AND b = $2` {
		t.Fatal(got)
	}
	lite := &DB{Dialect: SQLite}
	if got := lite.Rebind(`a = ?`); got != `a = ?` {
		t.Fatal(got)
	}
}

// Replicas opening a database file that does not exist yet all succeed:
// switching a new file to WAL is answered SQLITE_BUSY at once (not after the
// busy timeout) when another connection holds it, and opening waits for it.
func TestOpenNewFileConcurrently(t *testing.T) {
	ctx := context.Background()
	for round := range 10 {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("new-%d.db", round))
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				db, err := Open(ctx, Target{Dialect: SQLite, Path: path})
				if err != nil {
					errs <- err
					return
				}
				errs <- db.Close()
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
}
