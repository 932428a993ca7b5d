// Package postgres is chat-service's PostgreSQL schema: its embedded
// migrations (numbered like SQLite's), full-text search with PostgreSQL's
// own text search (a generated tsvector column with a GIN index), and the
// store (package sqlstore) set up with the row locks that stand in for
// SQLite's one-writer-at-a-time transactions.
package postgres

import (
	"context"
	"embed"
	"strings"

	"github.com/parleychat/parley/chat-service/internal/store/sqlstore"
	"github.com/parleychat/parley/platform/sqldb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrate applies the embedded migrations (sqldb.Migrate serialises
// replicas that start at once on a new database).
func Migrate(ctx context.Context, db *sqldb.DB) error {
	ms, err := sqldb.LoadMigrations(migrationFS, "migrations")
	if err != nil {
		return err
	}
	return sqldb.Migrate(ctx, db, ms)
}

// Store implements chat.Store.
type Store = sqlstore.Store

// New wraps an open, migrated PostgreSQL database.
func New(db *sqldb.DB) *Store {
	return sqlstore.New(db, sqlstore.Dialect{
		Greatest: "GREATEST", Least: "LEAST",
		LockRoom:    `SELECT 1 FROM rooms WHERE id = ? FOR UPDATE`,
		LockMessage: `SELECT 1 FROM messages WHERE id = ? FOR UPDATE`,
		Search:      search,
	})
}

// search matches every word literally (plainto_tsquery: no operators) and
// the last as a prefix (chat_prefix_tsquery, see 0001_init.sql), with the
// 'simple' configuration: lower-cased, unstemmed words, as FTS5's unicode61
// tokenizer gives on SQLite.
func search(words []string) (string, string, []any) {
	head := strings.Join(words[:len(words)-1], " ")
	last := words[len(words)-1]
	return `messages m`, `m.search @@ (plainto_tsquery('simple', ?) && chat_prefix_tsquery(?))`, []any{head, last}
}
