package sqldb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/parleychat/parley/platform/apperr"
)

// Schema is one service's database schema: the embedded migrations of each
// dialect (files migrations/NNNN_name.sql, numbered alike in both) and the
// tables copy-db moves. A service's internal/store declares one and needs
// no dialect switch of its own.
type Schema struct {
	// Service names the service in errors.
	Service string
	// SQLite and Postgres hold a migrations directory each.
	SQLite, Postgres fs.FS
	// Tables lists every table, parents before children (copy-db's order).
	Tables []string
	// Seeded names the tables the migrations fill, whose rows copy-db
	// replaces with the source's.
	Seeded []string
}

// migrations returns the migrations of db's dialect.
func (s Schema) migrations(db *DB) ([]Migration, error) {
	var fsys fs.FS
	switch db.Dialect {
	case SQLite:
		fsys = s.SQLite
	case Postgres:
		fsys = s.Postgres
	}
	if fsys == nil {
		return nil, fmt.Errorf("%s has no schema for %s databases", s.Service, db.Dialect)
	}
	return LoadMigrations(fsys, "migrations")
}

// Migrate applies every migration of db's dialect not yet recorded (see
// the package-level Migrate: safe with replicas starting at once, and a
// version merged late is applied even when later ones are recorded).
func (s Schema) Migrate(ctx context.Context, db *DB) error {
	ms, err := s.migrations(db)
	if err != nil {
		return err
	}
	return Migrate(ctx, db, ms)
}

// OpenSchema opens the service's database and migrates it to s, closing
// it again when that fails.
func OpenSchema(ctx context.Context, t Target, s Schema) (*DB, error) {
	db, err := Open(ctx, t)
	if err != nil {
		return nil, err
	}
	if err := s.Migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate %s: %w", db.Location, err)
	}
	return db, nil
}

// Pick returns the value for db's dialect: a store's dialect-specific SQL
// chosen next to its Schema.
func Pick[T any](db *DB, sqlite, postgres T) T {
	if db.Dialect == Postgres {
		return postgres
	}
	return sqlite
}

// Wrap is every store's one database error mapping: nil stays nil, an
// *apperr.Error passes through, a database that is down, read-only, full
// or locked past the busy timeout becomes 503 database_unavailable (a
// dependency failure the client may retry, not a bug), and anything else
// is wrapped with what was being done and answered as a 500 by httpx.
func Wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	err = fmt.Errorf("%s: %w", op, err)
	if IsUnavailable(err) {
		return apperr.Unavailable(CodeUnavailable, MessageUnavailable, err)
	}
	return err
}

// The client-facing answer for an unavailable database, the same in every
// service.
const (
	CodeUnavailable    = "database_unavailable"
	MessageUnavailable = "the database is unavailable; try again shortly"
)
