package sqldb_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/sqldb"
	"github.com/parleychat/parley/platform/sqldb/sqldbtest"
)

func migrationsFS(files ...string) fstest.MapFS {
	m := fstest.MapFS{}
	for _, f := range files {
		_, table, _ := strings.Cut(f, "_")
		m["migrations/"+f+".sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE " + table + " (id INTEGER PRIMARY KEY)")}
	}
	return m
}

func tableExists(t *testing.T, db *sqldb.DB, name string) bool {
	t.Helper()
	q := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`
	if db.Dialect == sqldb.Postgres {
		q = `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1`
	}
	var n int
	if err := db.QueryRowContext(context.Background(), q, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// A Schema migrates each dialect from its own files, and a version that
// arrives after later ones were applied (two branches merged) is applied
// too, so parallel features may each add a migration.
func TestSchemaMigratesEachDialectAndLateVersions(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, target sqldb.Target) {
		ctx := context.Background()
		db, err := sqldb.Open(ctx, target)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		other := migrationsFS("0001_wrong")
		s := sqldb.Schema{Service: "test-service", SQLite: migrationsFS("0001_alpha", "0003_gamma"), Postgres: migrationsFS("0001_alpha", "0003_gamma")}
		if target.Dialect == sqldb.SQLite {
			s.Postgres = other
		} else {
			s.SQLite = other
		}
		if err := s.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		if !tableExists(t, db, "alpha") || !tableExists(t, db, "gamma") || tableExists(t, db, "wrong") {
			t.Fatal("the dialect's own migrations were not the ones applied")
		}
		late := migrationsFS("0001_alpha", "0002_beta", "0003_gamma")
		s.SQLite, s.Postgres = late, late
		if err := s.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		if !tableExists(t, db, "beta") {
			t.Fatal("migration 0002 merged after 0003 was not applied")
		}
		// Running again applies nothing twice.
		if err := s.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		none := sqldb.Schema{Service: "test-service"}
		if err := none.Migrate(ctx, db); err == nil {
			t.Fatal("a schema without files for the dialect migrated")
		}
		if got := sqldb.Pick(db, "lite", "pg"); (target.Dialect == sqldb.Postgres) != (got == "pg") {
			t.Fatalf("Pick chose %q for %s", got, target.Dialect)
		}
	})
}

// Wrap is the one mapping of database errors: an unavailable database is a
// 503 with one code and message in every service, other errors keep their
// cause and context, and errors already meant for clients pass through.
func TestWrap(t *testing.T) {
	if sqldb.Wrap("noop", nil) != nil {
		t.Fatal("Wrap(nil) is not nil")
	}
	nf := apperr.NotFound("room_not_found", "no such room")
	if got := sqldb.Wrap("find room", nf); got != error(nf) {
		t.Fatalf("an apperr was rewrapped: %v", got)
	}

	ctx := context.Background()
	db, err := sqldb.Open(ctx, sqldbtest.SQLite(t, "ro.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (id INTEGER)`); err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA query_only = ON`); err != nil {
		t.Fatal(err)
	}
	_, werr := conn.ExecContext(ctx, `INSERT INTO t VALUES (1)`)
	if werr == nil {
		t.Fatal("a query-only connection wrote")
	}
	got := sqldb.Wrap("insert t", werr)
	e, ok := apperr.From(got)
	if !ok || e.Status() != http.StatusServiceUnavailable || e.Code != sqldb.CodeUnavailable || e.Message != sqldb.MessageUnavailable {
		t.Fatalf("read-only database: got %v (%+v), want 503 %s", got, e, sqldb.CodeUnavailable)
	}
	if !errors.Is(got, werr) {
		t.Fatal("the cause is lost")
	}

	_, serr := db.ExecContext(ctx, `SELECT * FROM no_such_table`)
	got = sqldb.Wrap("select", serr)
	if _, ok := apperr.From(got); ok || !errors.Is(got, serr) || got.Error() != "select: "+serr.Error() {
		t.Fatalf("a broken query: got %v, want it wrapped with context and answered as a bug", got)
	}
}
