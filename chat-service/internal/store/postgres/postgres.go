// Package postgres is chat-service's PostgreSQL schema: its embedded
// migrations (numbered like SQLite's), full-text search with PostgreSQL's
// own text search (a generated tsvector column with a GIN index), and the
// row locks that stand in for SQLite's one-writer-at-a-time transactions.
package postgres

import (
	"embed"
	"strings"

	"github.com/parleychat/parley/chat-service/internal/store/sqlstore"
)

// Migrations holds migrations/NNNN_name.sql.
//
//go:embed migrations/*.sql
var Migrations embed.FS

// Dialect sets up package sqlstore for PostgreSQL.
var Dialect = sqlstore.Dialect{
	Greatest: "GREATEST", Least: "LEAST",
	LockRoom:    `SELECT 1 FROM rooms WHERE id = ? FOR UPDATE`,
	LockMessage: `SELECT 1 FROM messages WHERE id = ? FOR UPDATE`,
	LockFiles:   ` FOR UPDATE`,
	Search:      search,
	Day: func(column string) string {
		return `to_char(` + column + ` AT TIME ZONE 'UTC', 'YYYY-MM-DD')`
	},
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
