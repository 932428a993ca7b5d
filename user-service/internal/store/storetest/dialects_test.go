package storetest_test

import (
	"context"
	"sync"
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

// Replicas starting at once on a new database all migrate without error.
func TestMigrateConcurrently(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, target sqldb.Target) {
		ctx := context.Background()
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				db, err := sqldb.Open(ctx, target)
				if err != nil {
					t.Error(err)
					return
				}
				defer db.Close()
				if _, err := store.Open(ctx, db); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	})
}
