// Package sqlite is auth-service's SQLite schema: its embedded migrations
// and the SQL that differs from PostgreSQL's (none: write transactions are
// BEGIN IMMEDIATE, see platform/sqldb, so replicas sharing the file
// serialize and need no row locks).
package sqlite

import (
	"embed"

	"github.com/parleychat/parley/auth-service/internal/store/sqlstore"
)

// Migrations holds migrations/NNNN_name.sql.
//
//go:embed migrations/*.sql
var Migrations embed.FS

// Dialect sets up package sqlstore for SQLite.
var Dialect = sqlstore.Dialect{}
