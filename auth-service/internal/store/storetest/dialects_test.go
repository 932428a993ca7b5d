package storetest_test

import (
	"context"
	"testing"

	"github.com/parleychat/parley/auth-service/internal/store"
	"github.com/parleychat/parley/auth-service/internal/store/storetest"
	"github.com/parleychat/parley/platform/sqldb"
	"github.com/parleychat/parley/platform/sqldb/sqldbtest"
)

// TestStore runs the suite on SQLite and on PostgreSQL (TEST_POSTGRES_DSN;
// required under CI).
func TestStore(t *testing.T) {
	sqldbtest.EachFresh(t, func(t *testing.T, fresh sqldbtest.Fresh) {
		storetest.Run(t, func(t *testing.T) storetest.Opener {
			target := fresh(t)
			return func(t *testing.T) storetest.Store {
				t.Helper()
				ctx := context.Background()
				db, err := sqldb.Open(ctx, target)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				s, err := store.Open(ctx, db)
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
		})
	})
}
