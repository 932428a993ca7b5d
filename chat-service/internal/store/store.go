// Package store is chat-service's storage seam: its Schema (the embedded
// migrations of package sqlite and package postgres) and Open, which
// migrates a database and returns the SQL of package sqlstore set up for
// its dialect.
package store

import (
	"context"
	"fmt"

	"github.com/parleychat/parley/chat-service/internal/store/postgres"
	"github.com/parleychat/parley/chat-service/internal/store/sqlite"
	"github.com/parleychat/parley/chat-service/internal/store/sqlstore"
	"github.com/parleychat/parley/platform/sqldb"
)

// Schema is chat-service's schema on both dialects.
var Schema = sqldb.Schema{
	Service:  "chat-service",
	SQLite:   sqlite.Migrations,
	Postgres: postgres.Migrations,
	Tables:   sqlstore.Tables,
	// Times are text in SQLite; a backup of PostgreSQL writes them so.
	TimeLayout: sqlstore.TimeLayout,
	// The migrations fill rooms (the General room); copy-db replaces
	// their rows with the source's.
	Seeded: []string{"rooms"},
}

// Open migrates db, brings the public room names' fold keys up to date
// (sqlstore.RefoldRoomNames; app.run does the same and logs the clashes)
// and returns the store for its dialect.
func Open(ctx context.Context, db *sqldb.DB) (*sqlstore.Store, error) {
	if err := Schema.Migrate(ctx, db); err != nil {
		return nil, fmt.Errorf("migrate %s: %w", db.Location, err)
	}
	st := New(db)
	if _, err := st.RefoldRoomNames(ctx); err != nil {
		return nil, err
	}
	return st, nil
}

// New returns the store for db's dialect; db is migrated already
// (sqldb.OpenSchema with Schema).
func New(db *sqldb.DB) *sqlstore.Store {
	return sqlstore.New(db, sqldb.Pick(db, sqlite.Dialect, postgres.Dialect))
}
