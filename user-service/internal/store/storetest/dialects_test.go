package storetest_test

import (
	"context"
	"testing"

	"github.com/parleychat/parley/platform/sqldb"
	"github.com/parleychat/parley/platform/sqldb/sqldbtest"

	"github.com/parleychat/parley/user-service/internal/profile"
	"github.com/parleychat/parley/user-service/internal/store"
	"github.com/parleychat/parley/user-service/internal/store/storetest"
)

// TestStore runs the suite on SQLite and on PostgreSQL (TEST_POSTGRES_DSN;
// required under CI).
func TestStore(t *testing.T) {
	sqldbtest.EachFresh(t, func(t *testing.T, fresh sqldbtest.Fresh) {
		storetest.Run(t, func(t *testing.T) profile.Store {
			t.Helper()
			ctx := context.Background()
			db, err := sqldb.Open(ctx, fresh(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if _, err := store.Open(ctx, db); err != nil {
				t.Fatal(err)
			}
			// Migrating again (a second replica starting) is a no-op.
			s, err := store.Open(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			return s
		})
	})
}
