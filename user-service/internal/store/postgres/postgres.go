// Package postgres is user-service's PostgreSQL schema: its embedded
// migrations (numbered like SQLite's). The store's statements are single
// upserts or short transactions that need no locks beyond the rows they
// write, so they are the same SQL as on SQLite (package sqlstore).
package postgres

import "embed"

// Migrations holds migrations/NNNN_name.sql.
//
//go:embed migrations/*.sql
var Migrations embed.FS
