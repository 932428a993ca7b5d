// Package postgres is auth-service's PostgreSQL schema: its embedded
// migrations (numbered like SQLite's) and the row and advisory locks that
// stand in for SQLite's one-writer-at-a-time transactions.
package postgres

import (
	"embed"

	"github.com/parleychat/parley/auth-service/internal/store/sqlstore"
)

// Migrations holds migrations/NNNN_name.sql.
//
//go:embed migrations/*.sql
var Migrations embed.FS

// adminLock is the transaction advisory lock key that serializes role and
// disabled changes (sqldb.Migrate uses 727274).
const adminLock = "SELECT pg_advisory_xact_lock(727275)"

// Dialect sets up package sqlstore for PostgreSQL.
var Dialect = sqlstore.Dialect{
	// The first of several concurrent refreshes with one token locks its
	// row; the others wait, then read it as used (reuse).
	LockRefreshToken: " FOR UPDATE OF t",
	// Row locks would not stop two admins demoting each other (each counts
	// the other as still an admin); one lock for all such changes does, and
	// they are rare.
	LockAdmins: adminLock,
}
