// Package postgres is user-service's PostgreSQL schema: its embedded
// migrations (numbered like SQLite's) and the store (package sqlstore) on
// it. The store's statements are single upserts or short transactions that
// need no locks beyond the rows they write, so they are the same SQL as on
// SQLite.
package postgres

import (
	"context"
	"embed"

	"github.com/parleychat/parley/platform/sqldb"

	"github.com/parleychat/parley/user-service/internal/store/sqlstore"
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

// Store implements profile.Store.
type Store = sqlstore.Store

// New returns a Store on an open, migrated PostgreSQL database.
func New(db *sqldb.DB) *Store { return sqlstore.New(db) }
