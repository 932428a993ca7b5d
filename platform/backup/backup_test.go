package backup_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/platform/backup"
	"github.com/parleychat/parley/platform/sqldb"
	"github.com/parleychat/parley/platform/sqldb/sqldbtest"
)

// The service schema of copy-db's tests, with a seeded row.
func testSchema(service string) sqldb.Schema { return sqldbtest.RoomsSchema(service, true) }

var schema = testSchema("test-service")

func open(t *testing.T, target sqldb.Target) *sqldb.DB {
	t.Helper()
	db, err := sqldb.OpenSchema(context.Background(), target, schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func exec(t *testing.T, db *sqldb.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), db.Rebind(q), args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// fill writes rooms and notes and deletes the newest room, so the id mark
// is above the highest id left.
func fill(t *testing.T, db *sqldb.DB) {
	t.Helper()
	for i, name := range []string{"general", "random", "gone"} {
		exec(t, db, `INSERT INTO rooms (name, archived, created_at) VALUES (?, ?, ?)`, name, i == 1,
			time.Date(2025, 3, i+1, 10, 0, 0, 123000000, time.UTC).Format(sqldbtest.RoomsTimeLayout))
	}
	exec(t, db, `DELETE FROM rooms WHERE name = 'gone'`)
	for i := range 50 {
		exec(t, db, `INSERT INTO notes (room_id, body, blob) VALUES (?, ?, ?)`, 2+i%2, strings.Repeat("n", i), []byte{byte(i), 0, 255})
	}
}

// dump is every row of both tables as text, the same in either dialect.
func dump(t *testing.T, db *sqldb.DB) string {
	t.Helper()
	var b strings.Builder
	rows, err := db.Query(`SELECT id, name, archived, created_at FROM rooms ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var name string
		var archived bool
		var created any
		if err := rows.Scan(&id, &name, &archived, &created); err != nil {
			t.Fatal(err)
		}
		if tm, ok := created.(time.Time); ok {
			created = tm.UTC().Format(sqldbtest.RoomsTimeLayout)
		}
		b.WriteString(strings.Join([]string{name, boolText(archived), toText(created)}, "|") + "\n")
	}
	rows.Close()
	rows, err = db.Query(`SELECT id, room_id, body, blob FROM notes ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, room int64
		var body string
		var blob []byte
		if err := rows.Scan(&id, &room, &body, &blob); err != nil {
			t.Fatal(err)
		}
		b.WriteString(strings.Join([]string{toText(id), toText(room), body, string(blob)}, "|") + "\n")
	}
	return b.String()
}

func boolText(b bool) string {
	if b {
		return "t"
	}
	return "f"
}

func toText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case int64:
		return time.Unix(x, 0).String()
	}
	return ""
}

func doBackup(t *testing.T, src sqldb.Target, to string) backup.Result {
	t.Helper()
	res, err := backup.Backup(context.Background(), src, to, schema, backup.NewProgress(&bytes.Buffer{}))
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	return res
}

// TestRoundTripEachDialect: a backup of either dialect restores into
// either dialect with every row, and ids carry on past the old mark.
func TestRoundTripEachDialect(t *testing.T) {
	sqldbtest.EachFresh(t, func(t *testing.T, fresh sqldbtest.Fresh) {
		ctx := context.Background()
		srcTarget := fresh(t)
		src := open(t, srcTarget)
		fill(t, src)
		want := dump(t, src)
		file := filepath.Join(t.TempDir(), "b.backup")
		res := doBackup(t, srcTarget, file)
		if res.Meta.Service != "test-service" || res.Meta.SchemaVersion != 1 || res.Meta.SourceDialect != srcTarget.Dialect || res.Bytes == 0 {
			t.Fatalf("backup result %+v", res)
		}
		targets := map[string]sqldb.Target{"sqlite": sqldbtest.SQLite(t, "restored.db")}
		if srcTarget.Dialect == sqldb.Postgres {
			targets["postgres"] = sqldbtest.Postgres(t)
		}
		for name, dst := range targets {
			if _, err := backup.Restore(ctx, file, dst, schema, false, nil); err != nil {
				t.Fatalf("restore into %s: %v", name, err)
			}
			db := open(t, dst)
			if got := dump(t, db); got != want {
				t.Fatalf("restored %s differs:\n%s\nwant\n%s", name, got, want)
			}
			// The deleted room's id (4) is not handed out again.
			var id int64
			if err := db.QueryRowContext(ctx, db.Rebind(`INSERT INTO rooms (name, created_at) VALUES ('new', '2025-05-05T00:00:00.000Z') RETURNING id`)).Scan(&id); err != nil {
				t.Fatal(err)
			}
			if id != 5 {
				t.Fatalf("first new room in %s got id %d, want 5", name, id)
			}
		}
	})
}

func sum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestRestoreRefusals: every bad restore is refused with a clear error
// and leaves the target as it was.
func TestRestoreRefusals(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srcTarget := sqldbtest.SQLite(t, "src.db")
	src := open(t, srcTarget)
	fill(t, src)
	good := filepath.Join(dir, "good.backup")
	doBackup(t, srcTarget, good)

	// The target: a stopped service's database holding other data.
	dstTarget := sqldbtest.SQLite(t, "dst.db")
	dst, err := sqldb.OpenSchema(ctx, dstTarget, schema)
	if err != nil {
		t.Fatal(err)
	}
	exec(t, dst, `INSERT INTO notes (room_id, body) VALUES (1, 'keep me')`)
	dst.Close()
	before := sum(t, dstTarget.Path)

	raw, _ := os.ReadFile(good)
	truncated := filepath.Join(dir, "truncated.backup")
	os.WriteFile(truncated, raw[:len(raw)/2], 0o600)
	random := filepath.Join(dir, "random.backup")
	os.WriteFile(random, bytes.Repeat([]byte("not a database "), 1000), 0o600)
	foreign := filepath.Join(dir, "foreign.backup")
	if _, err := backup.Backup(ctx, srcTarget, foreign, testSchema("auth-service"), nil); err != nil {
		t.Fatal(err)
	}
	damaged := filepath.Join(dir, "damaged.backup")
	bad := bytes.Clone(raw)
	for i := 4096; i < len(bad) && i < 4096*3; i++ {
		bad[i] ^= 0x5a
	}
	os.WriteFile(damaged, bad, 0o600)

	for _, c := range []struct {
		name, from string
		force      bool
		is         error
		want       string
	}{
		{"non-empty without --force", good, false, backup.ErrTargetNotEmpty, "give --force"},
		{"truncated", truncated, true, backup.ErrNotBackup, "truncated"},
		{"not SQLite", random, true, backup.ErrNotBackup, "not a SQLite file"},
		{"another service's", foreign, true, backup.ErrNotBackup, "a auth-service backup, not a test-service one"},
		{"a live database, not a backup", srcTarget.Path, true, backup.ErrNotBackup, "no parley_backup table"},
		{"damaged", damaged, true, backup.ErrNotBackup, "damaged"},
		{"missing", filepath.Join(dir, "nope.backup"), true, nil, "no such file"},
	} {
		_, err := backup.Restore(ctx, c.from, dstTarget, schema, c.force, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) || (c.is != nil && !errors.Is(err, c.is)) {
			t.Errorf("%s: restore error %v, want %q", c.name, err, c.want)
		}
		if sum(t, dstTarget.Path) != before {
			t.Fatalf("%s: the target changed", c.name)
		}
	}

	// A running service holds the file: refused even with --force.
	running, err := sqldb.OpenSchema(ctx, dstTarget, schema)
	if err != nil {
		t.Fatal(err)
	}
	_, err = backup.Restore(ctx, good, dstTarget, schema, true, nil)
	if !errors.Is(err, backup.ErrInUse) || !strings.Contains(err.Error(), "stop every replica") {
		t.Fatalf("restore under a running service: %v", err)
	}
	running.Close()
	if sum(t, dstTarget.Path) != before {
		t.Fatal("the running service's file changed")
	}

	// With --force and the service stopped it is replaced, atomically:
	// no staging file is left.
	if _, err := backup.Restore(ctx, good, dstTarget, schema, true, nil); err != nil {
		t.Fatal(err)
	}
	db := open(t, dstTarget)
	if got, want := dump(t, db), dump(t, src); got != want {
		t.Fatalf("forced restore:\n%s\nwant\n%s", got, want)
	}
	entries, _ := os.ReadDir(filepath.Dir(dstTarget.Path))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".restore-") {
			t.Fatalf("staging file left: %s", e.Name())
		}
	}
	// A service cannot start while a restore holds the file.
	release, err := sqldb.LockExclusive(filepath.Join(dir, "other.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if _, err := sqldb.OpenSchema(ctx, sqldb.Target{Dialect: sqldb.SQLite, Path: filepath.Join(dir, "other.db")}, schema); err == nil || !strings.Contains(err.Error(), "a restore is replacing") {
		t.Fatalf("start during a restore: %v", err)
	}
}

// TestRestoreRefusesNonEmptyPostgres: the PostgreSQL target is checked
// and, with --force, replaced in one transaction.
func TestRestoreRefusesNonEmptyPostgres(t *testing.T) {
	ctx := context.Background()
	srcTarget := sqldbtest.SQLite(t, "src.db")
	src := open(t, srcTarget)
	fill(t, src)
	file := filepath.Join(t.TempDir(), "b.backup")
	doBackup(t, srcTarget, file)
	pgTarget := sqldbtest.Postgres(t)
	pg := open(t, pgTarget)
	exec(t, pg, `INSERT INTO notes (room_id, body) VALUES (1, 'keep me')`)
	before := dump(t, pg)
	_, err := backup.Restore(ctx, file, pgTarget, schema, false, nil)
	if !errors.Is(err, backup.ErrTargetNotEmpty) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("restore into non-empty postgres: %v", err)
	}
	if dump(t, pg) != before {
		t.Fatal("the refused restore changed the target")
	}
	if _, err := backup.Restore(ctx, file, pgTarget, schema, true, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := dump(t, pg), dump(t, src); got != want {
		t.Fatalf("forced restore:\n%s\nwant\n%s", got, want)
	}
}

// TestBackupRefusals: an unwritable destination is a clear error and
// leaves nothing behind; so is a missing database.
func TestBackupRefusals(t *testing.T) {
	ctx := context.Background()
	srcTarget := sqldbtest.SQLite(t, "src.db")
	fill(t, open(t, srcTarget))
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	os.WriteFile(notDir, []byte("x"), 0o600)
	for _, c := range []struct{ to, want string }{
		{filepath.Join(notDir, "b.backup"), "cannot write the backup to"},
		{filepath.Join(dir, "missing", "b.backup"), "no such file or directory"},
		{srcTarget.Path, "is the live database itself"},
	} {
		if _, err := backup.Backup(ctx, srcTarget, c.to, schema, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("backup to %s: %v, want %q", c.to, err, c.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
	if _, err := backup.Backup(ctx, sqldb.Target{Dialect: sqldb.SQLite, Path: filepath.Join(dir, "none.db")}, filepath.Join(dir, "b.backup"), schema, nil); err == nil || !strings.Contains(err.Error(), "no SQLite database") {
		t.Fatalf("backup of a missing database: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "none.db")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("backup created the missing database")
	}
}

// TestCommands runs the subcommands as a service's main does.
func TestCommands(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	srcTarget := sqldb.Target{Dialect: sqldb.SQLite, Path: filepath.Join(dataDir, "test.db")}
	fill(t, open(t, srcTarget))
	cmds := backup.Commands(schema, "test.db")
	env := func(k string) string {
		if k == "DATA_DIR" {
			return dataDir
		}
		return ""
	}
	file := filepath.Join(t.TempDir(), "t.backup")
	var out bytes.Buffer
	if err := cmds["backup"](ctx, []string{"--to", file}, env, &out); err != nil {
		t.Fatal(err)
	}
	// Into a directory (made when named with a final "/"): time-named
	// files, the newest --keep kept.
	backups := filepath.Join(t.TempDir(), "backups")
	if err := cmds["backup"](ctx, []string{"--to", backups + "/"}, env, io.Discard); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := cmds["backup"](ctx, []string{"--to", backups, "--keep", "2"}, env, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	if names, _ := filepath.Glob(filepath.Join(backups, "test-*.backup")); len(names) != 2 || names[1] < names[0] {
		t.Fatalf("backups kept: %v, want 2", names)
	}
	if !strings.Contains(out.String(), "notes") || !strings.Contains(out.String(), "50 rows") {
		t.Fatalf("backup output:\n%s", out.String())
	}
	for _, c := range []struct {
		cmd  string
		args []string
		want string
	}{
		{"backup", nil, "--to is required"},
		{"restore", nil, "--from is required"},
		{"restore", []string{"--from", file, "extra"}, "unexpected argument"},
		{"restore", []string{"--from", file}, "refused, nothing changed"},
	} {
		if err := cmds[c.cmd](ctx, c.args, env, &out); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: %v, want %q", c.cmd, c.args, err, c.want)
		}
	}
	other := filepath.Join(t.TempDir(), "other.db")
	out.Reset()
	if err := cmds["restore"](ctx, []string{"--from", file, "--database", "sqlite://" + other}, env, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "restored the sqlite backup") {
		t.Fatalf("restore output:\n%s", out.String())
	}
	raw, err := sql.Open("sqlite", other)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var n int
	if err := raw.QueryRow(`SELECT COUNT(*) FROM notes`).Scan(&n); err != nil || n != 50 {
		t.Fatalf("restored notes: %d, %v", n, err)
	}
	if err := raw.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 'parley_backup'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the restored database keeps the backup's metadata table: %d, %v", n, err)
	}
}
