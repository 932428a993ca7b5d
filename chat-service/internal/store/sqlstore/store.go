// Package sqlstore stores chat data through platform/sqldb in SQL that
// SQLite and PostgreSQL both accept (placeholders rebound per dialect).
// Packages sqlite and postgres hold each dialect's schema and the few things
// the two do differently (Dialect): full-text search, and the locks that
// PostgreSQL needs where SQLite's one-writer-at-a-time transactions already
// serialize. Message seqs are allocated by bumping rooms.last_seq in the
// inserting transaction: SQLite's write lock, or PostgreSQL's lock on the
// room's row, is held from the bump to the commit, so seqs are gap-free and
// committed in order however many replicas write.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/platform/sqldb"
)

// Dialect is what the SQL dialects do differently in this store.
type Dialect struct {
	// Greatest and Least name the two-argument max and min functions
	// (SQLite's scalar MAX/MIN, PostgreSQL's GREATEST/LEAST).
	Greatest, Least string
	// LockRoom and LockMessage, when set, lock one room or message row
	// (one ? for its id) at the start of transactions that check several
	// rows before writing: the last owner leaving, the distinct-reaction
	// cap. SQLite needs none: its write transactions run one at a time.
	LockRoom, LockMessage string
	// Search turns the query's words into the FROM clause that yields the
	// matching messages as m, and a condition with its arguments.
	Search func(words []string) (from, cond string, args []any)
	// Day is the SQL for the UTC day ("YYYY-MM-DD") of a stored time
	// column: the first ten characters of SQLite's RFC 3339 text, or
	// PostgreSQL's TIMESTAMPTZ formatted in UTC.
	Day func(column string) string
	// LockFiles ends the query that checks a send's files (" FOR UPDATE"
	// on PostgreSQL): SQLite's one writer needs no lock.
	LockFiles string
}

// Store implements chat.Store.
type Store struct {
	db *sqldb.DB
	d  Dialect
	// stmts holds the prepared statements of the hot paths (sending, the
	// access check) by query text (before rebinding): modernc SQLite would
	// otherwise parse and plan every statement on every call.
	stmts sync.Map
	later sync.Map // query text → struct{}: to prepare after a transaction
	// insertSQL[n-1] is the batch insert of n rows.
	insertSQL []string
	// urls signs the URLs of the files loaded (SetFileURLs).
	urls *chat.FileURLs
}

var _ chat.Store = (*Store)(nil)

// New wraps an open database migrated with d's schema.
func New(db *sqldb.DB, d Dialect) *Store {
	s := &Store{db: db, d: d, insertSQL: make([]string, insertChunk)}
	for n := range s.insertSQL {
		s.insertSQL[n] = insertSQL(n + 1)
	}
	return s
}

// Tables lists every table, parents before children (copy-db's order).
var Tables = []string{"rooms", "users", "members", "webhooks", "messages", "reactions", "daily_active", "thread_follows", "mentions", "files", "file_chunks", "file_keys"}

// q rebinds a query's ? placeholders for the dialect.
func (s *Store) q(query string) string { return s.db.Rebind(query) }

// stmt returns query (with ? placeholders) prepared once for the store,
// bound to tx when tx is not nil. database/sql prepares it again on each
// pooled connection the first time it runs there, and keeps it.
func (s *Store) stmt(ctx context.Context, tx *sql.Tx, raw string) (*sql.Stmt, error) {
	if v, ok := s.stmts.Load(raw); ok {
		if tx != nil {
			return tx.StmtContext(ctx, v.(*sql.Stmt)), nil
		}
		return v.(*sql.Stmt), nil
	}
	if tx != nil {
		// Preparing on the pool inside a transaction could wait for a
		// connection held by a writer that waits for this transaction's
		// lock: prepare on the transaction's own connection, and for the
		// store once the transaction is over (prepareLater).
		s.later.Store(raw, struct{}{})
		return tx.PrepareContext(ctx, s.q(raw))
	}
	st, err := s.db.PrepareContext(ctx, s.q(raw))
	if err != nil {
		return nil, err
	}
	if v, loaded := s.stmts.LoadOrStore(raw, st); loaded {
		st.Close()
		return v.(*sql.Stmt), nil
	}
	return st, nil
}

// prepareLater prepares for the store the statements that transactions
// prepared for themselves (see stmt). A failure leaves them for next time.
func (s *Store) prepareLater(ctx context.Context) {
	s.later.Range(func(k, _ any) bool {
		if _, err := s.stmt(ctx, nil, k.(string)); err == nil {
			s.later.Delete(k)
		}
		return true
	})
}

// lock runs one of the dialect's lock statements, if it has it.
func (s *Store) lock(ctx context.Context, tx *sql.Tx, stmt string, id int64) error {
	if stmt == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, s.q(stmt), id)
	return err
}

// timeLayout has millisecond precision, which SQLite's text and
// PostgreSQL's TIMESTAMPTZ both keep exactly.
const timeLayout = "2006-01-02T15:04:05.000Z"

// TimeLayout is timeLayout, for the Schema (backups of PostgreSQL).
const TimeLayout = timeLayout

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// parseTime reads a stored time: SQLite gives back the text written,
// PostgreSQL's TIMESTAMPTZ arrives as RFC 3339 through database/sql.
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func int64Args(ids []int64) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// TouchUser records a user's name; on first sight they join the default room.
func (s *Store) TouchUser(ctx context.Context, u chat.UserRef, at time.Time) (*chat.Member, error) {
	var joined *chat.Member
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		// The conflict clause decides "first sight" even when two replicas
		// see a new user at once (on PostgreSQL the second insert waits for
		// the first and then does nothing).
		res, err := tx.ExecContext(ctx, s.q(`INSERT INTO users (id, username, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (id) DO NOTHING`), u.UserID, u.Username, fmtTime(at), fmtTime(at))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			var roomID int64
			err := tx.QueryRowContext(ctx, `SELECT id FROM rooms WHERE is_default ORDER BY id LIMIT 1`).Scan(&roomID)
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			} else if err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, s.q(`INSERT INTO members (room_id, user_id, username, role, joined_at)
				VALUES (?, ?, ?, 'member', ?) ON CONFLICT DO NOTHING`), roomID, u.UserID, u.Username, fmtTime(at))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				joined = &chat.Member{RoomID: roomID, UserID: u.UserID, Username: u.Username, Role: chat.RoleMember, JoinedAt: at}
			}
		} else if _, err := tx.ExecContext(ctx, s.q(`UPDATE users SET username = ?, last_seen_at = ? WHERE id = ?`),
			u.Username, fmtTime(at), u.UserID); err != nil {
			return err
		}
		// Names given by inviters (or unknown) are corrected once the user
		// shows up with a token.
		_, err = tx.ExecContext(ctx, s.q(`UPDATE members SET username = ? WHERE user_id = ? AND username <> ?`),
			u.Username, u.UserID, u.Username)
		return err
	})
	return joined, sqldb.Wrap("touch user", err)
}

// Username is the last name seen for userID, or "".
func (s *Store) Username(ctx context.Context, userID int64) (string, error) {
	var name string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT username FROM users WHERE id = ?`), userID).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return name, sqldb.Wrap("username", err)
}

// Stats summarises a user's activity.
func (s *Store) Stats(ctx context.Context, userID int64) (chat.Stats, error) {
	st := chat.Stats{UserID: userID}
	var last sql.NullString
	err := s.db.QueryRowContext(ctx, s.q(`SELECT
		(SELECT COUNT(*) FROM messages WHERE user_id = ? AND NOT deleted),
		(SELECT COUNT(*) FROM rooms WHERE created_by = ? AND kind NOT IN ('dm', 'group')),
		(SELECT COUNT(*) FROM members m JOIN rooms r ON r.id = m.room_id WHERE m.user_id = ? AND r.kind NOT IN ('dm', 'group')),
		(SELECT created_at FROM messages WHERE user_id = ? ORDER BY id DESC LIMIT 1)`), userID, userID, userID, userID).
		Scan(&st.MessagesSent, &st.RoomsCreated, &st.RoomsJoined, &last)
	if err != nil {
		return chat.Stats{}, sqldb.Wrap("stats", err)
	}
	if last.Valid {
		t := parseTime(last.String)
		st.LastActiveAt = &t
	}
	return st, nil
}
