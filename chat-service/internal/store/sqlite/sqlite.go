// Package sqlite is chat-service's SQLite schema: its embedded migrations
// and FTS5 search, the SQL package sqlstore needs for this dialect. Several
// replicas may share one file: every write is one short BEGIN IMMEDIATE
// transaction, so they need no row locks.
package sqlite

import (
	"embed"
	"strings"

	"github.com/parleychat/parley/chat-service/internal/store/sqlstore"
)

// Migrations holds migrations/NNNN_name.sql.
//
//go:embed migrations/*.sql
var Migrations embed.FS

// Dialect sets up package sqlstore for SQLite, with FTS5 search.
var Dialect = sqlstore.Dialect{
	Greatest: "MAX", Least: "MIN",
	Search: func(words []string) (string, string, []any) {
		return `messages_fts JOIN messages m ON m.id = messages_fts.rowid`, `messages_fts MATCH ?`, []any{FTSQuery(words)}
	},
	Day: func(column string) string { return `substr(` + column + `, 1, 10)` },
}

// FTSQuery turns search words into a safe FTS5 expression: every word
// becomes a quoted phrase (so operators and punctuation are literal), words
// are ANDed, and the last word matches as a prefix for search-as-you-type.
func FTSQuery(words []string) string {
	parts := make([]string, len(words))
	for i, w := range words {
		parts[i] = `"` + strings.ReplaceAll(w, `"`, `""`) + `"`
	}
	parts[len(parts)-1] += "*"
	return strings.Join(parts, " ")
}
