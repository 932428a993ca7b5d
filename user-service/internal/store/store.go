// Package store is user-service's storage seam: its Schema (the embedded
// migrations of package sqlite and package postgres) and Open, which
// migrates a database and returns the SQL of package sqlstore set up for
// its dialect.
package store

import (
	"context"
	"fmt"

	"github.com/parleychat/parley/platform/sqldb"

	"github.com/parleychat/parley/user-service/internal/store/postgres"
	"github.com/parleychat/parley/user-service/internal/store/sqlite"
	"github.com/parleychat/parley/user-service/internal/store/sqlstore"
)

// Schema is user-service's schema on both dialects.
var Schema = sqldb.Schema{
	Service:  "user-service",
	SQLite:   sqlite.Migrations,
	Postgres: postgres.Migrations,
	Tables:   sqlstore.Tables,
	// Times are text in SQLite; a backup of PostgreSQL writes them so.
	TimeLayout: sqlstore.TimeLayout,
}

// Open migrates db and returns the store for its dialect.
func Open(ctx context.Context, db *sqldb.DB) (*sqlstore.Store, error) {
	if err := Schema.Migrate(ctx, db); err != nil {
		return nil, fmt.Errorf("migrate %s: %w", db.Location, err)
	}
	return New(db), nil
}

// New returns the store for db's dialect; db is migrated already
// (sqldb.OpenSchema with Schema).
func New(db *sqldb.DB) *sqlstore.Store { return sqlstore.New(db) }
