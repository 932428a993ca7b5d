// Package sqlite is user-service's SQLite schema: its embedded migrations
// and the store (package sqlstore) on it.
package sqlite

import (
	"context"
	"embed"

	"github.com/parleychat/parley/platform/sqldb"

	"github.com/parleychat/parley/user-service/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate applies the embedded migrations.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	ms, err := sqldb.LoadMigrations(migrations, "migrations")
	if err != nil {
		return err
	}
	return sqldb.Migrate(ctx, db, ms)
}

// Store implements profile.Store.
type Store = sqlstore.Store

// New returns a Store on an open, migrated SQLite database.
func New(db *sqldb.DB) *Store { return sqlstore.New(db) }
