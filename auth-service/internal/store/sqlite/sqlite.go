// Package sqlite is auth-service's SQLite schema: its embedded migrations
// and the store (package sqlstore) set up for it. Write transactions are
// BEGIN IMMEDIATE (see platform/sqldb), so replicas sharing the file
// serialize and need no row locks.
package sqlite

import (
	"context"
	"embed"

	"github.com/parleychat/parley/auth-service/internal/store/sqlstore"
	"github.com/parleychat/parley/platform/sqldb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate applies the embedded schema migrations.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	ms, err := sqldb.LoadMigrations(migrations, "migrations")
	if err != nil {
		return err
	}
	return sqldb.Migrate(ctx, db, ms)
}

// Store implements auth.Store and token.KeyStore.
type Store = sqlstore.Store

// New wraps an open, migrated SQLite database.
func New(db *sqldb.DB) *Store { return sqlstore.New(db, sqlstore.Dialect{}) }
