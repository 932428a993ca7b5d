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

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/parleychat/parley/platform/tracing"
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
	// file guards a SQLite file against being deleted or replaced under
	// the running service (fault.go); nil for PostgreSQL.
	file *fileGuard
	// lock is the shared flock a service holds on the SQLite file's lock
	// file while it runs (lock.go); nil otherwise.
	lock *os.File
	// writes times Tx and ExecContext (ObserveWrites); nil: not timed.
	writes Observer
}

// Observer takes one duration in seconds (a prometheus.Observer).
type Observer interface{ Observe(seconds float64) }

// ObserveWrites times every write transaction (Tx, begin to commit) and
// every ExecContext into o. Call it before the database is used.
func (db *DB) ObserveWrites(o Observer) { db.writes = o }

// Target is a parsed DATABASE_URL.
type Target struct {
	Dialect Dialect
	// Path is the SQLite file; DSN the PostgreSQL connection string.
	Path string
	DSN  string
}

// URL is the DATABASE_URL that ParseURL reads back as t: sqlite://path
// for a SQLite file (sqlite:///abs/path for an absolute one), the DSN for
// PostgreSQL. A SQLite path holding a '?' does not survive the round trip
// (ParseURL cuts a query off).
func (t Target) URL() string {
	if t.Dialect == SQLite {
		return "sqlite://" + t.Path
	}
	return t.DSN
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
	return sqliteDSN(path, "")
}

// sqliteDSN is SQLiteDSN with an open mode: "rw" makes a connection fail,
// rather than create an empty database, when the file is missing.
func sqliteDSN(path, mode string) string {
	q := url.Values{}
	if mode != "" {
		q.Set("mode", mode)
	}
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
	// The file is created here, once; the pool's connections open it with
	// mode=rw, so a file deleted under the service makes them fail instead
	// of starting an empty database in its place.
	if err := createSQLite(ctx, path); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", sqliteDSN(path, "rw"))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(sqliteIdleConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := pingSQLite(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	g, err := newFileGuard(path)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &DB{DB: db, Dialect: SQLite, Location: path, file: g}, nil
}

// sqliteIdleConns is the pool's idle size (all of it: SQLite connections
// are cheap to keep and costly to reopen).
const sqliteIdleConns = 8

// createSQLite creates the database file if it does not exist yet.
func createSQLite(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", SQLiteDSN(path))
	if err != nil {
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	defer db.Close()
	if err := pingSQLite(ctx, db); err != nil {
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return nil
}

// pingSQLite opens a first connection, retrying while the file is busy.
// Opening runs the DSN's pragmas, and journal_mode(WAL) on a new file
// upgrades a shared lock to an exclusive one: when replicas open a new
// database at once, SQLite answers SQLITE_BUSY at once instead of calling
// the busy handler (waiting could deadlock), so the wait is here, bounded
// by openBusyWait.
func pingSQLite(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(openBusyWait)
	pause := 5 * time.Millisecond
	for {
		err := db.PingContext(ctx)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		pause = min(2*pause, 200*time.Millisecond)
	}
}

// openBusyWait bounds pingSQLite's retries, like the busy timeout does
// for statements.
const openBusyWait = 10 * time.Second

// Check tells readiness whether the database can take a write: PostgreSQL
// must answer; a SQLite file must still be the one the pool has open and
// must accept a small write (a read-only file or a full disk fail it).
func (db *DB) Check(ctx context.Context) error {
	if db.file != nil {
		return db.checkFile(ctx)
	}
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	return nil
}

// Tx runs fn in a transaction, committing when it returns nil. On SQLite
// it refuses to commit into a file that was deleted or replaced under the
// service: such a commit would be acknowledged and lost. The file is
// checked once, just before the commit, where it matters.
func (db *DB) Tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return db.write(ctx, "db.tx", "", func(ctx context.Context) (staged, error) {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return staged{}, db.fault(fmt.Errorf("begin: %w", err))
		}
		if err := fn(tx); err != nil {
			_ = tx.Rollback()
			return staged{}, db.fault(err)
		}
		commit := func() error {
			if err := tx.Commit(); err != nil {
				return db.fault(fmt.Errorf("commit: %w", err))
			}
			return nil
		}
		return staged{commit: commit, abort: tx.Rollback}, nil
	})
}

// ExecContext runs a statement outside a transaction, guarded like Tx.
func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := db.write(ctx, "db.exec", query, func(ctx context.Context) (staged, error) {
		return staged{commit: func() (err error) {
			res, err = db.DB.ExecContext(ctx, query, args...)
			return db.fault(err)
		}}, nil
	})
	return res, err
}

// staged is a write whose work is done: commit makes it durable, abort
// (when not nil) undoes it instead.
type staged struct{ commit, abort func() error }

// write is the one wrapper of every write, Tx and ExecContext alike. The
// write is timed into the ObserveWrites observer, start to end and failures
// too, and traced as a span below the caller's (name, and the statement
// when there is one). stage does the work that needs no guard; the file
// guard is consulted between it and the commit, so a write into a file
// deleted or replaced meanwhile is aborted with ErrFileReplaced.
func (db *DB) write(ctx context.Context, name, query string, stage func(ctx context.Context) (staged, error)) (err error) {
	start := time.Now()
	ctx, span := db.span(ctx, name, query)
	defer func() {
		tracing.End(span, err)
		if db.writes != nil {
			db.writes.Observe(time.Since(start).Seconds())
		}
	}()
	w, err := stage(ctx)
	if err != nil {
		return err
	}
	if err := db.guard(); err != nil {
		if w.abort != nil {
			_ = w.abort()
		}
		return err
	}
	return w.commit()
}

// QueryContext is sql.DB's, under a span when the caller's trace is
// recorded (the span covers the query, not the reading of its rows).
func (db *DB) QueryContext(ctx context.Context, query string, args ...any) (rows *sql.Rows, err error) {
	ctx, span := db.span(ctx, "db.query", query)
	defer func() { tracing.End(span, err) }()
	return db.DB.QueryContext(ctx, query, args...)
}

// QueryRowContext is sql.DB's, under a span when the caller's trace is
// recorded.
func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx, span := db.span(ctx, "db.query", query)
	row := db.DB.QueryRowContext(ctx, query, args...)
	tracing.End(span, row.Err())
	return row
}

// span starts a database span below the caller's, when it is recorded.
// The statement is recorded without its arguments.
func (db *DB) span(ctx context.Context, name, query string) (context.Context, trace.Span) {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx, trace.SpanFromContext(ctx)
	}
	attrs := []attribute.KeyValue{attribute.String("db.system.name", string(db.Dialect))}
	if query != "" {
		if len(query) > 1024 {
			query = query[:1024]
		}
		attrs = append(attrs, attribute.String("db.query.text", query))
	}
	return tracing.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
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
	if errors.Is(err, ErrFileReplaced) {
		return true
	}
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
