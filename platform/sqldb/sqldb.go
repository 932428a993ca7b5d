// Package sqldb opens a service's database from DATABASE_URL, applies its
// embedded migrations and maps constraint errors of each SQL dialect to one
// set of helpers.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect names a SQL dialect.
type Dialect string

// The dialects Parley stores data in.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is an open database and its dialect.
type DB struct {
	*sql.DB
	Dialect Dialect
	// Location is the file path (SQLite) or host/database (PostgreSQL), for logs.
	Location string
}

// Target is a parsed DATABASE_URL.
type Target struct {
	Dialect Dialect
	// Path is the SQLite file; DSN the PostgreSQL connection string.
	Path string
	DSN  string
}

// ParseURL resolves DATABASE_URL. Empty means a SQLite file named
// defaultFile under dataDir. Accepted: sqlite:///abs/path.db,
// sqlite://relative/path.db, a bare file path, postgres:// and postgresql://.
func ParseURL(databaseURL, dataDir, defaultFile string) (Target, error) {
	u := strings.TrimSpace(databaseURL)
	switch {
	case u == "":
		return Target{Dialect: SQLite, Path: filepath.Join(dataDir, defaultFile)}, nil
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		if _, err := url.Parse(u); err != nil {
			return Target{}, fmt.Errorf("config: DATABASE_URL: not a valid postgres URL")
		}
		return Target{Dialect: Postgres, DSN: u}, nil
	case strings.HasPrefix(u, "sqlite://"):
		p := strings.TrimPrefix(u, "sqlite://")
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		if p == "" || p == "/" {
			return Target{}, fmt.Errorf("config: DATABASE_URL: sqlite URL needs a file path, like sqlite:///data/chat.db")
		}
		return Target{Dialect: SQLite, Path: p}, nil
	case strings.Contains(u, "://"):
		return Target{}, fmt.Errorf("config: DATABASE_URL: unsupported scheme in %q (use sqlite:// or postgres://)", redact(u))
	default:
		return Target{Dialect: SQLite, Path: u}, nil
	}
}

func redact(u string) string {
	if p, err := url.Parse(u); err == nil && p.User != nil {
		p.User = url.User(p.User.Username())
		return p.String()
	}
	return u
}

// Open opens the target and checks that it answers.
func Open(ctx context.Context, t Target) (*DB, error) {
	switch t.Dialect {
	case SQLite:
		return openSQLite(ctx, t.Path)
	case Postgres:
		return openPostgres(ctx, t.DSN)
	default:
		return nil, fmt.Errorf("unknown dialect %q", t.Dialect)
	}
}

// SQLiteDSN is the modernc DSN with Parley's pragmas: WAL so readers never
// block the writer, a busy timeout so replicas sharing a file wait for each
// other instead of failing, foreign keys, BEGIN IMMEDIATE so a write
// transaction takes the lock up front and never deadlocks on upgrade, and
// temporary storage in memory: a statement that writes many rows of a table
// with triggers or foreign keys (chat-service's batched message insert)
// journals every page it changes, and past 64 KiB that journal would
// otherwise go to a temporary file, a system call per page.
func SQLiteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "temp_store(MEMORY)")
	q.Set("_txlock", "immediate")
	q.Set("_time_format", "sqlite")
	return "file:" + path + "?" + q.Encode()
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create data directory %s: %w", dir, err)
		}
	}
	db, err := sql.Open("sqlite", SQLiteDSN(path))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return &DB{DB: db, Dialect: SQLite, Location: path}, nil
}

// Check pings the database, for readiness.
func (db *DB) Check(ctx context.Context) error {
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	return nil
}

// Tx runs fn in a transaction, committing when it returns nil.
func (db *DB) Tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// IsUniqueViolation reports whether err is a UNIQUE or PRIMARY KEY violation.
func IsUniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return isPostgresCode(err, "23505")
}

// IsForeignKeyViolation reports whether err is a foreign key violation.
func IsForeignKeyViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return isPostgresCode(err, "23503")
}

// IsUnavailable reports whether err means the database cannot be reached
// (as opposed to a query that is wrong), so callers can answer 503.
func IsUnavailable(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY:
			return true
		}
		return false
	}
	return isPostgresUnavailable(err)
}
