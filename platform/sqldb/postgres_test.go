package sqldb_test

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/parleychat/parley/platform/sqldb"
	"github.com/parleychat/parley/platform/sqldb/sqldbtest"
)

func TestPostgresMigrateAndErrors(t *testing.T) {
	target := sqldbtest.Postgres(t)
	ctx := context.Background()
	ms, err := sqldb.LoadMigrations(os.DirFS("testdata"), "postgres")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		db, err := sqldb.Open(ctx, target)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- sqldb.Migrate(ctx, db, ms)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Migrate: %v", err)
		}
	}
	db, err := sqldb.Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM counter`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("counter rows = %d, %v", n, err)
	}
	if _, err := db.Exec(db.Rebind(`INSERT INTO things (name) VALUES (?)`), "a"); err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(db.Rebind(`INSERT INTO things (name) VALUES (?)`), "a")
	if !sqldb.IsUniqueViolation(err) || sqldb.IsUnavailable(err) {
		t.Fatalf("duplicate: %v", err)
	}
	_, err = db.Exec(db.Rebind(`INSERT INTO parts (thing_id) VALUES (?)`), 999)
	if !sqldb.IsForeignKeyViolation(err) {
		t.Fatalf("dangling reference: %v", err)
	}

	// A connection killed by the server is replaced transparently.
	if _, err := db.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	deadline := 0
	for {
		err := db.Check(ctx)
		if err == nil {
			break
		}
		if deadline++; deadline > 5 {
			t.Fatalf("database/sql did not reconnect: %v", err)
		}
	}
}

func TestPostgresUnreachableIsUnavailable(t *testing.T) {
	sqldbtest.PostgresDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2e9)
	defer cancel()
	_, err := sqldb.Open(ctx, sqldb.Target{Dialect: sqldb.Postgres, DSN: "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=1"})
	if err == nil || !sqldb.IsUnavailable(err) {
		t.Fatalf("Open of a closed port = %v, IsUnavailable=%v", err, sqldb.IsUnavailable(err))
	}
}
