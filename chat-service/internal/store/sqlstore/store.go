// Package sqlite stores chat data in SQLite through platform/sqldb. Several
// replicas may share one file: every write is one short BEGIN IMMEDIATE
// transaction, and message seqs are allocated inside it.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/sqldb"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store implements chat.Store.
type Store struct {
	db *sqldb.DB
}

var _ chat.Store = (*Store)(nil)

// New wraps an open database.
func New(db *sqldb.DB) *Store { return &Store{db: db} }

// Migrate applies the embedded migrations.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	ms, err := sqldb.LoadMigrations(migrationFS, "migrations")
	if err != nil {
		return err
	}
	return sqldb.Migrate(ctx, db, ms)
}

// Open opens the database at target and migrates it.
func Open(ctx context.Context, target sqldb.Target) (*Store, *sqldb.DB, error) {
	db, err := sqldb.Open(ctx, target)
	if err != nil {
		return nil, nil, err
	}
	if err := Migrate(ctx, db); err != nil {
		db.Close()
		return nil, nil, err
	}
	return New(db), db, nil
}

const timeLayout = "2006-01-02T15:04:05.000Z"

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

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

// wrap gives database errors context and maps lock timeouts to 503.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	if sqldb.IsUnavailable(err) {
		return apperr.Unavailable("database_unavailable", "the database is busy; retry", fmt.Errorf("%s: %w", op, err))
	}
	return fmt.Errorf("%s: %w", op, err)
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

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TouchUser records a user's name; on first sight they join the default room.
func (s *Store) TouchUser(ctx context.Context, u chat.UserRef, at time.Time) (*chat.Member, error) {
	var joined *chat.Member
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var name string
		err := tx.QueryRowContext(ctx, `SELECT username FROM users WHERE id = ?`, u.UserID).Scan(&name)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, username, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?)`,
				u.UserID, u.Username, fmtTime(at), fmtTime(at)); err != nil {
				return err
			}
			var roomID int64
			err := tx.QueryRowContext(ctx, `SELECT id FROM rooms WHERE is_default = 1 ORDER BY id LIMIT 1`).Scan(&roomID)
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			} else if err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO members (room_id, user_id, username, role, joined_at)
				VALUES (?, ?, ?, 'member', ?) ON CONFLICT DO NOTHING`, roomID, u.UserID, u.Username, fmtTime(at))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				joined = &chat.Member{RoomID: roomID, UserID: u.UserID, Username: u.Username, Role: chat.RoleMember, JoinedAt: at}
			}
		case err != nil:
			return err
		default:
			if _, err := tx.ExecContext(ctx, `UPDATE users SET username = ?, last_seen_at = ? WHERE id = ?`,
				u.Username, fmtTime(at), u.UserID); err != nil {
				return err
			}
		}
		// Names given by inviters (or unknown) are corrected once the user
		// shows up with a token.
		_, err = tx.ExecContext(ctx, `UPDATE members SET username = ? WHERE user_id = ? AND username <> ?`,
			u.Username, u.UserID, u.Username)
		return err
	})
	return joined, wrap("touch user", err)
}

// Username is the last name seen for userID, or "".
func (s *Store) Username(ctx context.Context, userID int64) (string, error) {
	var name string
	err := s.db.QueryRowContext(ctx, `SELECT username FROM users WHERE id = ?`, userID).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return name, wrap("username", err)
}

// Stats summarises a user's activity.
func (s *Store) Stats(ctx context.Context, userID int64) (chat.Stats, error) {
	st := chat.Stats{UserID: userID}
	var last sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM messages WHERE user_id = ?1 AND deleted = 0),
		(SELECT COUNT(*) FROM rooms WHERE created_by = ?1 AND kind <> 'dm'),
		(SELECT COUNT(*) FROM members m JOIN rooms r ON r.id = m.room_id WHERE m.user_id = ?1 AND r.kind <> 'dm'),
		(SELECT created_at FROM messages WHERE user_id = ?1 ORDER BY id DESC LIMIT 1)`, userID).
		Scan(&st.MessagesSent, &st.RoomsCreated, &st.RoomsJoined, &last)
	if err != nil {
		return chat.Stats{}, wrap("stats", err)
	}
	if last.Valid {
		t := parseTime(last.String)
		st.LastActiveAt = &t
	}
	return st, nil
}
