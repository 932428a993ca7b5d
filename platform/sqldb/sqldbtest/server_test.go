package sqldbtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/parleychat/parley/platform/sqldb"
	"github.com/parleychat/parley/platform/sqldb/sqldbtest"
)

// A pool opened before the server stops reports it as unavailable while it
// is down and works again, data intact, once it is back.
func TestServerStopStart(t *testing.T) {
	srv := sqldbtest.StartServer(t)
	ctx := context.Background()
	db, err := sqldb.Open(ctx, srv.Target())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE kept (n INT); INSERT INTO kept VALUES (42)`); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	for i := 0; i < 3; i++ { // a dead pooled connection, then refused dials
		var n int
		err := db.QueryRowContext(ctx, `SELECT n FROM kept`).Scan(&n)
		if err == nil || !sqldb.IsUnavailable(err) {
			t.Fatalf("query %d with the server stopped = %v, IsUnavailable=%v", i, err, sqldb.IsUnavailable(err))
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := db.Check(cctx); err == nil || !sqldb.IsUnavailable(err) {
		t.Fatalf("Check with the server stopped = %v", err)
	}

	srv.Start()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT n FROM kept`).Scan(&n); err != nil || n != 42 {
		t.Fatalf("after restart: n=%d err=%v", n, err)
	}
}
