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

// Migrate applies the embedded migrations. Replicas starting at once take
// turns under an advisory lock held for the whole run: sqldb.Migrate takes
// its own lock only after creating schema_migrations, and two replicas
// creating that table at once on a new database collide (SQLSTATE 42710).
func Migrate(ctx context.Context, db *sqldb.DB) error {
	ms, err := sqldb.LoadMigrations(migrations, "migrations")
	if err != nil {
		return err
	}
	// A transaction lock ends with the transaction, or with the session if
	// this process dies: it cannot be left behind.
	lock, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = lock.Rollback() }()
	if _, err := lock.ExecContext(ctx, `SELECT pg_advisory_xact_lock(727273)`); err != nil {
		return err
	}
	return sqldb.Migrate(ctx, db, ms)
}

// Store implements profile.Store.
type Store = sqlstore.Store

// New returns a Store on an open, migrated PostgreSQL database.
func New(db *sqldb.DB) *Store { return sqlstore.New(db) }
