package sqldb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

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
	// TimeLayout is how the service's SQLite store writes times as text
	// (a backup of PostgreSQL turns TIMESTAMPTZ values into it).
	TimeLayout string
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
// it again when that fails. On SQLite the service holds a shared lock on
// the file's lock file until Close, so a restore can tell it is running
// (lock.go); a restore in progress makes it fail at once.
func OpenSchema(ctx context.Context, t Target, s Schema) (*DB, error) {
	var lock *os.File
	if t.Dialect == SQLite {
		if dir := filepath.Dir(t.Path); dir != "" {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("create data directory %s: %w", dir, err)
			}
		}
		f, err := lockFile(t.Path, false)
		if err != nil {
			if errors.Is(err, ErrInUse) {
				return nil, fmt.Errorf("open sqlite %s: a restore is replacing the database (%w); start again when it is done", t.Path, err)
			}
			return nil, fmt.Errorf("open sqlite %s: %w", t.Path, err)
		}
		lock = f
	}
	db, err := Open(ctx, t)
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		return nil, err
	}
	db.lock = lock
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
