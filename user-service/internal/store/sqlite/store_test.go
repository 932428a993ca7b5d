package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/parleychat/parley/platform/sqldb"

	"github.com/parleychat/parley/user-service/internal/profile"
	"github.com/parleychat/parley/user-service/internal/store/sqlite"
	"github.com/parleychat/parley/user-service/internal/store/storetest"
)

func open(t *testing.T) profile.Store {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, sqldb.Target{Dialect: sqldb.SQLite, Path: filepath.Join(t.TempDir(), "users.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := sqlite.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	// Migrating again (a second replica starting) is a no-op.
	if err := sqlite.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	return sqlite.New(db)
}

func TestStore(t *testing.T) { storetest.Run(t, open) }
