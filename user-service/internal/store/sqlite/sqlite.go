// Package sqlite is user-service's SQLite schema: its embedded migrations.
// The store's SQL (package sqlstore) is the same on both dialects.
package sqlite

import "embed"

// Migrations holds migrations/NNNN_name.sql.
//
//go:embed migrations/*.sql
var Migrations embed.FS
