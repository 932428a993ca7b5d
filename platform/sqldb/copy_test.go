package sqldb_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/platform/sqldb"
	"github.com/parleychat/parley/platform/sqldb/sqldbtest"
)

// copySchema has no seeded rows: a target is empty after its migrations.
var copySchema = sqldbtest.RoomsSchema("test-service", false)

var copyTables = copySchema.Tables

func migrateCopySchema(ctx context.Context, db *sqldb.DB) error { return copySchema.Migrate(ctx, db) }

func openMigrated(t *testing.T, target sqldb.Target) *sqldb.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := migrateCopySchema(ctx, db); err != nil {
		t.Fatal(err)
	}
	return db
}

func exec(t *testing.T, db *sqldb.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(db.Rebind(q), args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// fillSource writes rows, deleting the newest room so SQLite's AUTOINCREMENT
// mark (4) is above the highest id left (3).
func fillSource(t *testing.T, src *sqldb.DB, notes int) {
	t.Helper()
	for i, name := range []string{"general", "random", "archive", "gone"} {
		exec(t, src, `INSERT INTO rooms (name, archived, created_at) VALUES (?, ?, ?)`,
			name, i == 2, time.Date(2025, 1, i+1, 10, 0, 0, 123000000, time.UTC).Format(sqldbtest.RoomsTimeLayout))
	}
	exec(t, src, `DELETE FROM rooms WHERE name = 'gone'`)
	for i := 0; i < notes; i++ {
		var blob any
		if i%3 == 0 {
			blob = []byte{0, 1, 2, byte(i)}
		}
		var seen any
		if i%2 == 0 {
			seen = "2025-02-03T04:05:06.789Z"
		}
		exec(t, src, `INSERT INTO notes (room_id, body, blob, seen_at) VALUES (?, ?, ?, ?)`, 1+i%3, "note number "+strings.Repeat("x", i%5), blob, seen)
	}
	exec(t, src, `INSERT INTO members (room_id, user_id) VALUES (2, 7), (1, 9), (1, 7)`)
}

func TestCopySQLiteToPostgres(t *testing.T) {
	ctx := context.Background()
	src := openMigrated(t, sqldbtest.SQLite(t, "src.db"))
	dst := openMigrated(t, sqldbtest.Postgres(t))
	fillSource(t, src, 1234)

	var progressed int
	res, err := sqldb.Copy(ctx, src, dst, copyTables, sqldb.CopyOptions{BatchRows: 100, Progress: func(string, int64) { progressed++ }})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"rooms": 3, "notes": 1234, "members": 3}
	for _, r := range res {
		if r.Rows != want[r.Table] {
			t.Errorf("%s: copied %d rows, want %d", r.Table, r.Rows, want[r.Table])
		}
	}
	if len(res) != 3 || progressed < 13 {
		t.Fatalf("results %v, %d progress calls", res, progressed)
	}

	var (
		archived bool
		created  time.Time
	)
	if err := dst.QueryRow(`SELECT archived, created_at FROM rooms WHERE name = 'archive'`).Scan(&archived, &created); err != nil {
		t.Fatal(err)
	}
	if !archived || !created.Equal(time.Date(2025, 1, 3, 10, 0, 0, 123000000, time.UTC)) {
		t.Fatalf("archive room: archived=%v created=%v", archived, created)
	}
	var blob []byte
	var seen *time.Time
	if err := dst.QueryRow(`SELECT blob, seen_at FROM notes WHERE id = 4`).Scan(&blob, &seen); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(blob, []byte{0, 1, 2, 3}) || seen != nil {
		t.Fatalf("note 4: blob %v seen %v", blob, seen)
	}
	var hits int
	if err := dst.QueryRow(`SELECT COUNT(*) FROM notes WHERE search @@ plainto_tsquery('simple', 'number')`).Scan(&hits); err != nil || hits != 1234 {
		t.Fatalf("generated tsvector: %d hits, %v", hits, err)
	}

	// Sequences: past the copied ids, and past the deleted room's id 4.
	var id int64
	if err := dst.QueryRow(`INSERT INTO rooms (name, created_at) VALUES ('new', now()) RETURNING id`).Scan(&id); err != nil || id != 5 {
		t.Fatalf("next room id = %d, %v; want 5", id, err)
	}
	if err := dst.QueryRow(`INSERT INTO notes (room_id, body) VALUES (1, 'n') RETURNING id`).Scan(&id); err != nil || id != 1235 {
		t.Fatalf("next note id = %d, %v; want 1235", id, err)
	}

	// A second copy finds the target in use and changes nothing.
	_, err = sqldb.Copy(ctx, src, dst, copyTables, sqldb.CopyOptions{})
	if !errors.Is(err, sqldb.ErrTargetNotEmpty) {
		t.Fatalf("copy into a used target: %v", err)
	}
}

// Large values (chat's file chunks) are copied a few MiB per INSERT, not
// BatchRows rows at once: the live heap stays far below the data copied.
func TestCopyLargeBlobsInBoundedMemory(t *testing.T) {
	ctx := context.Background()
	src := openMigrated(t, sqldbtest.SQLite(t, "src.db"))
	dst := openMigrated(t, sqldbtest.Postgres(t))
	exec(t, src, `INSERT INTO rooms (name, archived, created_at) VALUES ('general', 0, '2025-01-01T00:00:00.000Z')`)
	const blobs, size = 96, 1 << 20
	blob := bytes.Repeat([]byte{0xab}, size)
	for i := range blobs {
		blob[0] = byte(i)
		exec(t, src, `INSERT INTO notes (room_id, body, blob) VALUES (1, 'chunk', ?)`, blob)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, ms.HeapAlloc
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond): // a sampling interval
			}
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}()
	res, err := sqldb.Copy(ctx, src, dst, copyTables, sqldb.CopyOptions{})
	close(stop)
	<-stopped
	if err != nil {
		t.Fatal(err)
	}
	if res[1].Rows != blobs {
		t.Fatalf("copied %+v", res)
	}
	var n, total int64
	if err := dst.QueryRow(`SELECT COUNT(*), SUM(length(blob)) FROM notes`).Scan(&n, &total); err != nil || n != blobs || total != blobs*size {
		t.Fatalf("target holds %d blobs, %d bytes (%v)", n, total, err)
	}
	growth := int64(peak) - int64(base)
	t.Logf("live heap growth copying %d MiB of blobs: %d bytes", blobs*size>>20, growth)
	if growth > blobs*size/3 {
		t.Fatalf("heap grew by %d bytes copying %d bytes", growth, blobs*size)
	}
}

// A copy that fails half-way leaves the target empty, so it can be re-run.
func TestCopyFailureRollsBack(t *testing.T) {
	ctx := context.Background()
	src := openMigrated(t, sqldbtest.SQLite(t, "src.db"))
	dst := openMigrated(t, sqldbtest.Postgres(t))
	fillSource(t, src, 10)
	// A value the target's type refuses, in the last table.
	exec(t, src, `INSERT INTO members (room_id, user_id) VALUES (3, 'not a number')`)
	if _, err := sqldb.Copy(ctx, src, dst, copyTables, sqldb.CopyOptions{}); err == nil || !strings.Contains(err.Error(), "copy members") {
		t.Fatalf("copy of a bad row: %v", err)
	}
	var n int
	if err := dst.QueryRow(`SELECT (SELECT COUNT(*) FROM rooms) + (SELECT COUNT(*) FROM notes)`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("target rows after a failed copy: %d, %v", n, err)
	}
	exec(t, src, `DELETE FROM members WHERE user_id = 'not a number'`)
	if _, err := sqldb.Copy(ctx, src, dst, copyTables, sqldb.CopyOptions{}); err != nil {
		t.Fatalf("re-run after fixing the source: %v", err)
	}
}

// Rows the target's migrations seed are replaced by the source's, but only
// while the rest of the target is empty.
func TestCopyReplacesSeededRows(t *testing.T) {
	ctx := context.Background()
	src := openMigrated(t, sqldbtest.SQLite(t, "src.db"))
	dst := openMigrated(t, sqldbtest.Postgres(t))
	fillSource(t, src, 5)
	exec(t, dst, `INSERT INTO rooms (name, created_at) VALUES ('seeded', now())`)
	if _, err := sqldb.Copy(ctx, src, dst, copyTables, sqldb.CopyOptions{}); !errors.Is(err, sqldb.ErrTargetNotEmpty) {
		t.Fatalf("seed rows without Seeded: %v", err)
	}
	exec(t, dst, `INSERT INTO members (room_id, user_id) SELECT id, 1 FROM rooms`)
	if _, err := sqldb.Copy(ctx, src, dst, copyTables, sqldb.CopyOptions{Seeded: []string{"rooms"}}); !errors.Is(err, sqldb.ErrTargetNotEmpty) {
		t.Fatalf("seeded table with other rows: %v", err)
	}
	exec(t, dst, `DELETE FROM members`)
	if _, err := sqldb.Copy(ctx, src, dst, copyTables, sqldb.CopyOptions{Seeded: []string{"rooms"}}); err != nil {
		t.Fatal(err)
	}
	var names string
	if err := dst.QueryRow(`SELECT string_agg(name, ',' ORDER BY id) FROM rooms`).Scan(&names); err != nil || names != "general,random,archive" {
		t.Fatalf("rooms after copy: %q %v", names, err)
	}
}

func TestCopyRefusesLostColumns(t *testing.T) {
	ctx := context.Background()
	src := openMigrated(t, sqldbtest.SQLite(t, "src.db"))
	dst := openMigrated(t, sqldbtest.Postgres(t))
	exec(t, src, `ALTER TABLE notes ADD COLUMN extra TEXT`)
	_, err := sqldb.Copy(ctx, src, dst, copyTables, sqldb.CopyOptions{})
	if err == nil || !strings.Contains(err.Error(), "notes.extra has no place") {
		t.Fatalf("copy with a column the target lacks: %v", err)
	}
}

func TestCopyCommand(t *testing.T) {
	ctx := context.Background()
	srcTarget := sqldbtest.SQLite(t, "src.db")
	src := openMigrated(t, srcTarget)
	fillSource(t, src, 3)
	dstTarget := sqldbtest.Postgres(t)
	spec := sqldb.CopySpec{Schema: copySchema, DefaultFrom: srcTarget}

	var out bytes.Buffer
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{}, "--to is required"},
		{[]string{"--to", "sqlite:///x.db"}, "must be a postgres:// URL"},
		{[]string{"--from", "sqlite://" + filepath.Join(t.TempDir(), "typo.db"), "--to", dstTarget.DSN}, "no SQLite database at"},
		{[]string{"--to", dstTarget.DSN, "extra"}, "unexpected argument"},
	} {
		err := sqldb.CopyCommand(ctx, tt.args, &out, spec)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("copy-db %v = %v, want %q", tt.args, err, tt.want)
		}
	}

	// The target is migrated by the command itself.
	out.Reset()
	if err := sqldb.CopyCommand(ctx, []string{"--to", dstTarget.DSN}, &out, spec); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "copied 9 rows") {
		t.Fatalf("output:\n%s", out.String())
	}
	err := sqldb.CopyCommand(ctx, []string{"--from", srcTarget.URL(), "--to", dstTarget.DSN}, &out, spec)
	if !errors.Is(err, sqldb.ErrTargetNotEmpty) {
		t.Fatalf("second run: %v", err)
	}
}
