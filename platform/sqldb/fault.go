package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrFileReplaced means the SQLite file the pool has open is no longer the
// one at its path (deleted, or replaced by another file). It counts as
// unavailable: writes are refused with 503 until the pool has let go of
// the old file and a database is back at the path.
var ErrFileReplaced = errors.New("the database file was deleted or replaced under the running service")

// fileGuard watches one SQLite file. A connection writes to the inode it
// opened, so after the path is unlinked or replaced its commits would land
// in a file nobody will read again: the guard compares the path's identity
// with the one the pool opened before every write, and once they differ it
// keeps writes refused until every old connection is closed; only then
// does it adopt the file found at the path.
type fileGuard struct {
	path string

	mu    sync.Mutex
	ident fileIdent
	stale bool
}

type fileIdent struct{ dev, ino uint64 }

func identOf(path string) (fileIdent, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileIdent{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileIdent{}, nil // no inode numbers here: the guard is off
	}
	return fileIdent{dev: uint64(st.Dev), ino: uint64(st.Ino)}, nil
}

func newFileGuard(path string) (*fileGuard, error) {
	id, err := identOf(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return &fileGuard{path: path, ident: id}, nil
}

// guard refuses a write when the file is not the one the pool opened.
func (db *DB) guard() error {
	g := db.file
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stale {
		return ErrFileReplaced
	}
	if id, err := identOf(g.path); err != nil || id != g.ident {
		db.markStale(g)
		return ErrFileReplaced
	}
	return nil
}

// markStale drops the pool's idle connections and keeps new ones from
// idling until checkFile sees no old connection left. Callers hold g.mu.
func (db *DB) markStale(g *fileGuard) {
	g.stale = true
	db.SetMaxIdleConns(0)
}

// fault passes err through; when it means the database cannot be written
// (read-only, full, cannot open), the idle connections are dropped so that
// connections opened under the fault — SQLite opens a file it may not
// write read-only for good — do not outlive it.
func (db *DB) fault(err error) error {
	if err != nil && db.file != nil && IsUnavailable(err) && !isBusy(err) {
		db.SetMaxIdleConns(0)
		db.SetMaxIdleConns(sqliteIdleConns)
	}
	return err
}

// checkFile is readiness for SQLite: the pool must hold the file at the
// path, and a one-row write must commit.
func (db *DB) checkFile(ctx context.Context) error {
	g := db.file
	g.mu.Lock()
	if g.stale {
		id, err := identOf(g.path)
		if err != nil || db.Stats().OpenConnections > 0 {
			g.mu.Unlock()
			if err != nil {
				return fmt.Errorf("database: %w: %v", ErrFileReplaced, err)
			}
			return fmt.Errorf("database: %w (waiting for its connections to close)", ErrFileReplaced)
		}
		g.ident, g.stale = id, false
		db.SetMaxIdleConns(sqliteIdleConns)
	}
	g.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS parley_health (id INTEGER PRIMARY KEY, checked_at TEXT NOT NULL)`); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO parley_health (id, checked_at) VALUES (1, ?)`, time.Now().UTC().Format(time.RFC3339Nano))
		return err
	})
	if err != nil {
		return fmt.Errorf("database cannot take a write: %w", err)
	}
	return nil
}

// isBusy reports a lock wait that ran out: the database is fine, only
// contended, and its connections are worth keeping.
func isBusy(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code() & 0xff
		return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
	}
	return false
}
