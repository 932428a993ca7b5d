package sqldb_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/platform/sqldb"
	"github.com/parleychat/parley/platform/testkit"
)

func openFile(t *testing.T, path string) *sqldb.DB {
	t.Helper()
	db, err := sqldb.Open(context.Background(), sqldb.Target{Dialect: sqldb.SQLite, Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.ExecContext(context.Background(), `CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body BLOB)`); err != nil {
		t.Fatal(err)
	}
	return db
}

func insert(db *sqldb.DB, id int, body []byte) error {
	return db.Tx(context.Background(), func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO notes (id, body) VALUES (?, ?)`, id, body)
		return err
	})
}

// waitReady polls Check (readiness) until it passes.
func waitReady(t *testing.T, db *sqldb.DB) {
	t.Helper()
	testkit.Eventually(t, "ready again after the fault was cleared", 10*time.Second, func() bool {
		return db.Check(context.Background()) == nil
	})
}

// idsIn reads the note ids of the file at path with a connection of its own.
func idsIn(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite", sqldb.SQLiteDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT id FROM notes ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		rows.Scan(&id)
		ids = append(ids, id)
	}
	return strings.Join(ids, ",")
}

func mustUnavailable(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil || !sqldb.IsUnavailable(err) {
		t.Fatalf("%s: got %v, want an unavailable-database error", what, err)
	}
}

// A database file deleted under the running service must make writes fail
// (not be acknowledged into the unlinked inode) and readiness fail; once a
// file is back at the path — a restore — the service uses it by itself.
func TestDeletedFileRefusesWritesAndRecovers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "chat.db")
	db := openFile(t, path)
	if err := insert(db, 1, nil); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(dir, "backup.db")
	if _, err := db.ExecContext(context.Background(), `VACUUM INTO ?`, backup); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		os.Remove(f)
	}
	mustUnavailable(t, "write after delete", insert(db, 2, nil))
	mustUnavailable(t, "plain exec after delete", func() error {
		_, err := db.ExecContext(context.Background(), `INSERT INTO notes (id) VALUES (3)`)
		return err
	}())
	if err := db.Check(context.Background()); err == nil || !errors.Is(err, sqldb.ErrFileReplaced) {
		t.Fatalf("readiness with the file deleted = %v, want ErrFileReplaced", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the pool recreated an empty database at the path: %v", err)
	}

	raw, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	waitReady(t, db)
	if err := insert(db, 4, nil); err != nil {
		t.Fatalf("write after restore: %v", err)
	}
	if got := idsIn(t, path); got != "1,4" {
		t.Fatalf("restored file holds %s, want 1,4 (nothing refused was kept, the new write is there)", got)
	}
}

// A file replaced by another (a restore while running) is treated the same:
// no write reaches the old inode after the swap.
func TestReplacedFileIsAdopted(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "chat.db")
	db := openFile(t, path)
	if err := insert(db, 1, nil); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.db")
	odb := openFile(t, other)
	if err := insert(odb, 10, nil); err != nil {
		t.Fatal(err)
	}
	odb.Close()
	os.Remove(path + "-wal")
	os.Remove(path + "-shm")
	if err := os.Rename(other, path); err != nil {
		t.Fatal(err)
	}
	mustUnavailable(t, "write after replace", insert(db, 2, nil))
	waitReady(t, db)
	if err := insert(db, 11, nil); err != nil {
		t.Fatal(err)
	}
	if got := idsIn(t, path); got != "10,11" {
		t.Fatalf("file at the path holds %s, want 10,11", got)
	}
}

// tmpfs mounts a small tmpfs for faults a file cannot fake as root
// (read-only, full). It needs mount privileges: without them the test is
// skipped locally and fails under CI, whose machines have them.
func tmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := osexec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("mount tmpfs: %v: %s", err, out)
		}
		t.Skipf("cannot mount a tmpfs here (%v: %s); CI runs this", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() { osexec.Command("umount", "-l", dir).Run() })
	return dir
}

func remount(t *testing.T, dir, mode string) {
	t.Helper()
	if out, err := osexec.Command("mount", "-o", "remount,"+mode, dir).CombinedOutput(); err != nil {
		t.Fatalf("remount %s: %v: %s", mode, err, out)
	}
}

// A file that becomes read-only (here its filesystem; chmod does not stop
// root) fails writes and readiness, and the pool recovers once it is
// writable again: connections SQLite opened read-only are not kept.
func TestReadOnlyFileFailsReadinessAndRecovers(t *testing.T) {
	dir := tmpfs(t, "8m")
	path := filepath.Join(dir, "chat.db")
	db := openFile(t, path)
	if err := insert(db, 1, nil); err != nil {
		t.Fatal(err)
	}
	// The filesystem can only turn read-only with no file open for writing:
	// let the pool's connections go first, as idle ones do over time.
	db.SetMaxIdleConns(0)
	db.SetMaxIdleConns(8)
	remount(t, dir, "ro")
	mustUnavailable(t, "write on a read-only file", insert(db, 2, nil))
	if err := db.Check(context.Background()); err == nil {
		t.Fatal("readiness passed on a read-only database")
	}
	remount(t, dir, "rw")
	waitReady(t, db)
	if err := insert(db, 3, nil); err != nil {
		t.Fatalf("write after the file is writable again: %v", err)
	}
}

// A full disk fails writes and readiness; freeing space recovers.
func TestFullDiskFailsReadinessAndRecovers(t *testing.T) {
	dir := tmpfs(t, "2m")
	path := filepath.Join(dir, "chat.db")
	db := openFile(t, path)
	if err := insert(db, 1, nil); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			break // ENOSPC: the disk is full
		}
	}
	f.Close()
	mustUnavailable(t, "write on a full disk", insert(db, 2, bytes.Repeat([]byte("x"), 256<<10)))
	if err := db.Check(context.Background()); err == nil {
		t.Fatal("readiness passed on a full disk")
	}
	os.Remove(filler)
	waitReady(t, db)
	if err := insert(db, 3, bytes.Repeat([]byte("y"), 64<<10)); err != nil {
		t.Fatalf("write after space was freed: %v", err)
	}
}
