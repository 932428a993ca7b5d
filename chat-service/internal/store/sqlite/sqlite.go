// Package sqlite is chat-service's SQLite schema: its embedded migrations,
// FTS5 search, and the store (package sqlstore) set up for it. Several
// replicas may share one file: every write is one short BEGIN IMMEDIATE
// transaction, so they need no row locks.
package sqlite

import (
	"context"
	"embed"
	"strings"

	"github.com/parleychat/parley/chat-service/internal/store/sqlstore"
	"github.com/parleychat/parley/platform/sqldb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrate applies the embedded migrations.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	ms, err := sqldb.LoadMigrations(migrationFS, "migrations")
	if err != nil {
		return err
	}
	return sqldb.Migrate(ctx, db, ms)
}

// Store implements chat.Store.
type Store = sqlstore.Store

// New wraps an open, migrated SQLite database.
func New(db *sqldb.DB) *Store {
	return sqlstore.New(db, sqlstore.Dialect{
		Greatest: "MAX", Least: "MIN",
		Search: func(words []string) (string, string, []any) {
			return `messages_fts JOIN messages m ON m.id = messages_fts.rowid`, `messages_fts MATCH ?`, []any{FTSQuery(words)}
		},
	})
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
