package sqldb

import (
	"errors"
	"fmt"
	"os"
)

// A SQLite file's lock file, <file>.lock, tells a restore whether a
// service is running on the file. Every service replica holds a shared
// flock on it from open to close (OpenSchema), and a restore takes an
// exclusive one without waiting: it is refused while any replica runs,
// and a replica starting during a restore is refused until it is done.
// A flock is released by the kernel when its process dies, so a crashed
// replica never leaves a stale lock behind (unlike a PID file), and it
// works between the pods of one node sharing the volume, like SQLite's own
// locks. SQLite's locks cannot tell this: an idle service holds none.

// ErrInUse means the lock could not be had: a service (shared lock) or a
// restore (exclusive lock) holds the file.
var ErrInUse = errors.New("the database file is in use")

// LockPath is the lock file of the SQLite database at path.
func LockPath(path string) string { return path + ".lock" }

// lockFile opens (creating it) path's lock file and takes a shared or
// exclusive flock on it, without waiting.
func lockFile(path string, exclusive bool) (*os.File, error) {
	f, err := os.OpenFile(LockPath(path), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := flock(f, exclusive); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// LockExclusive takes path's lock file exclusively, failing at once with
// ErrInUse (wrapped) while a service runs on path. release lets go.
func LockExclusive(path string) (release func(), err error) {
	f, err := lockFile(path, true)
	if err != nil {
		return nil, err
	}
	return func() { f.Close() }, nil
}

// Close closes the pool and lets go of the file's lock.
func (db *DB) Close() error {
	err := db.DB.Close()
	if db.lock != nil {
		db.lock.Close()
		db.lock = nil
	}
	return err
}
