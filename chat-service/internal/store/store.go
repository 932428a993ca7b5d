// Package store picks chat-service's SQL store for the dialect of the
// database DATABASE_URL names: package sqlite or package postgres, both
// running the SQL of package sqlstore over their own schema.
package store

import (
	"context"
	"fmt"

	"github.com/parleychat/parley/chat-service/internal/store/postgres"
	"github.com/parleychat/parley/chat-service/internal/store/sqlite"
	"github.com/parleychat/parley/chat-service/internal/store/sqlstore"
	"github.com/parleychat/parley/platform/sqldb"
)

// Tables lists every table, parents before children (copy-db's order).
var Tables = sqlstore.Tables

// Seeded names the tables the migrations fill (the General room); copy-db
// replaces their rows with the source's.
var Seeded = []string{"rooms"}

// Migrate applies the schema migrations of db's dialect.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	switch db.Dialect {
	case sqldb.SQLite:
		return sqlite.Migrate(ctx, db)
	case sqldb.Postgres:
		return postgres.Migrate(ctx, db)
	}
	return fmt.Errorf("chat-service has no store for %s databases", db.Dialect)
}

// Open migrates db and returns the store for its dialect.
func Open(ctx context.Context, db *sqldb.DB) (*sqlstore.Store, error) {
	if err := Migrate(ctx, db); err != nil {
		return nil, fmt.Errorf("migrate %s: %w", db.Location, err)
	}
	if db.Dialect == sqldb.Postgres {
		return postgres.New(db), nil
	}
	return sqlite.New(db), nil
}
