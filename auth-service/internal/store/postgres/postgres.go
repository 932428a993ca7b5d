// Package postgres is auth-service's PostgreSQL schema: its embedded
// migrations (numbered like SQLite's) and the store (package sqlstore) set
// up for it, with the row and advisory locks that stand in for SQLite's
// one-writer-at-a-time transactions.
package postgres

import (
	"context"
	"embed"

	"github.com/parleychat/parley/auth-service/internal/store/sqlstore"
	"github.com/parleychat/parley/platform/sqldb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate applies the embedded migrations (sqldb.Migrate serialises
// replicas that start at once on a new database).
func Migrate(ctx context.Context, db *sqldb.DB) error {
	ms, err := sqldb.LoadMigrations(migrations, "migrations")
	if err != nil {
		return err
	}
	return sqldb.Migrate(ctx, db, ms)
}

// Store implements auth.Store and token.KeyStore.
type Store = sqlstore.Store

// adminLock is the transaction advisory lock key that serializes role and
// disabled changes (sqldb.Migrate uses 727274).
const adminLock = "SELECT pg_advisory_xact_lock(727275)"

// New wraps an open, migrated PostgreSQL database.
func New(db *sqldb.DB) *Store {
	return sqlstore.New(db, sqlstore.Dialect{
		// The first of several concurrent refreshes with one token locks
		// its row; the others wait, then read it as used (reuse).
		LockRefreshToken: " FOR UPDATE OF t",
		// Row locks would not stop two admins demoting each other (each
		// counts the other as still an admin); one lock for all such
		// changes does, and they are rare.
		LockAdmins: adminLock,
	})
}
