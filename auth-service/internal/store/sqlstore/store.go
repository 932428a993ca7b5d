// Package sqlstore stores auth-service's users, refresh tokens and signing
// key in SQL that SQLite and PostgreSQL both accept (placeholders rebound
// per dialect). Packages sqlite and postgres hold each dialect's schema and
// the few statements the two write differently (Dialect). Every method is
// one short transaction, so replicas sharing the database serialize
// cleanly and nothing is half-written.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleychat/parley/auth-service/internal/auth"
	"github.com/parleychat/parley/platform/sqldb"
)

// Dialect is what the SQL dialects do differently in this store.
type Dialect struct {
	// LockRefreshToken ends the refresh token lookup so that concurrent
	// uses of one token queue behind the first and then see it used.
	// SQLite needs none: its write transactions (BEGIN IMMEDIATE) already
	// run one at a time.
	LockRefreshToken string
	// LockAdmins, when set, runs first in UpdateUser's transaction so that
	// two admins demoting each other at once cannot leave no admin.
	LockAdmins string
}

// Store implements auth.Store and token.KeyStore.
type Store struct {
	db *sqldb.DB
	d  Dialect
	// userByID runs on every authenticated request (the active-account
	// check), so it is prepared once rather than parsed each time.
	userByID lazyStmt
}

// New wraps an open database migrated with d's schema.
func New(db *sqldb.DB, d Dialect) *Store {
	s := &Store{db: db, d: d}
	s.userByID.query = db.Rebind(`SELECT ` + userColumns + ` FROM users u WHERE u.id = ?`)
	return s
}

// lazyStmt is a statement prepared on first use and kept: database/sql
// prepares it again on each pooled connection as needed and closes it with
// the database. A failed prepare (database down) is retried on the next use.
type lazyStmt struct {
	query string
	mu    sync.Mutex
	stmt  atomic.Pointer[sql.Stmt]
}

func (l *lazyStmt) get(ctx context.Context, db *sql.DB) (*sql.Stmt, error) {
	if st := l.stmt.Load(); st != nil {
		return st, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if st := l.stmt.Load(); st != nil {
		return st, nil
	}
	st, err := db.PrepareContext(ctx, l.query)
	if err != nil {
		return nil, err
	}
	l.stmt.Store(st)
	return st, nil
}

var _ auth.Store = (*Store)(nil)

// timeLayout is fixed-width so stored times compare correctly as text on
// SQLite; PostgreSQL parses it into TIMESTAMPTZ with the same microsecond
// precision, so both give back exactly the same times.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// TimeLayout is timeLayout, for the Schema (backups of PostgreSQL).
const TimeLayout = timeLayout

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// parseTime reads a stored time. SQLite gives back the text written;
// PostgreSQL's TIMESTAMPTZ arrives as RFC 3339 through database/sql.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t.UTC(), nil
}

const userColumns = `u.id, u.username, u.email, u.role, u.disabled, u.created_at, u.updated_at, u.password_generated, u.is_bot, u.display_name`

type rowScanner interface{ Scan(dest ...any) error }

func scanUser(r rowScanner, extra ...any) (auth.User, error) {
	var (
		u                auth.User
		email            sql.NullString
		created, updated string
		display          sql.NullString
	)
	dest := append([]any{&u.ID, &u.Username, &email, &u.Role, &u.Disabled, &created, &updated, &u.MustChangePassword, &u.IsBot, &display}, extra...)
	if err := r.Scan(dest...); err != nil {
		return auth.User{}, err
	}
	u.Email, u.DisplayName = email.String, display.String
	var err error
	if u.CreatedAt, err = parseTime(created); err != nil {
		return auth.User{}, err
	}
	if u.UpdatedAt, err = parseTime(updated); err != nil {
		return auth.User{}, err
	}
	return u, nil
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// CreateUser inserts a user and optionally its first refresh token family,
// whose id (the session's) it returns.
func (s *Store) CreateUser(ctx context.Context, nu auth.NewUser, session *auth.NewRefreshToken) (auth.User, int64, error) {
	var (
		u   auth.User
		sid int64
	)
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		now := formatTime(nu.Now)
		var id int64
		err := tx.QueryRowContext(ctx, s.db.Rebind(
			`INSERT INTO users (username, username_key, email, password_hash, role, disabled, created_at, updated_at, password_generated, is_bot, display_name)
			 VALUES (?, ?, ?, ?, ?, false, ?, ?, ?, ?, ?) RETURNING id`),
			nu.Username, nu.UsernameKey, nullString(nu.Email), nu.PasswordHash, nu.Role, now, now, nu.PasswordGenerated, nu.Bot, nullString(nu.DisplayName)).Scan(&id)
		if sqldb.IsUniqueViolation(err) {
			return auth.ErrUsernameTaken
		}
		if err != nil {
			return err
		}
		if session != nil {
			if sid, err = s.createSession(ctx, tx, id, *session); err != nil {
				return err
			}
		}
		u, err = scanUser(tx.QueryRowContext(ctx, s.db.Rebind(`SELECT `+userColumns+` FROM users u WHERE u.id = ?`), id))
		return err
	})
	return u, sid, sqldb.Wrap("create user", err)
}

func (s *Store) createSession(ctx context.Context, tx *sql.Tx, userID int64, t auth.NewRefreshToken) (int64, error) {
	var fam int64
	err := tx.QueryRowContext(ctx, s.db.Rebind(`INSERT INTO refresh_families (user_id, created_at) VALUES (?, ?) RETURNING id`),
		userID, formatTime(t.Now)).Scan(&fam)
	if err != nil {
		return 0, err
	}
	return fam, s.insertToken(ctx, tx, fam, t)
}

func (s *Store) insertToken(ctx context.Context, tx *sql.Tx, familyID int64, t auth.NewRefreshToken) error {
	_, err := tx.ExecContext(ctx, s.db.Rebind(
		`INSERT INTO refresh_tokens (family_id, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?)`),
		familyID, t.Hash, formatTime(t.Now), formatTime(t.ExpiresAt))
	return err
}

// UserByID returns one user.
func (s *Store) UserByID(ctx context.Context, id int64) (auth.User, error) {
	st, err := s.userByID.get(ctx, s.db.DB)
	if err != nil {
		return auth.User{}, sqldb.Wrap("user by id", err)
	}
	if s.db.Dialect == sqldb.SQLite {
		// A local primary-key read takes microseconds and, under WAL, does
		// not wait for writers; making it cancelable costs more than the
		// read (database/sql and the driver each start a goroutine per
		// query to watch the context). The wait for a pooled connection is
		// not cancelable either; every method here is one short
		// transaction, bounded by the busy timeout. PostgreSQL keeps the
		// request's context: its reads cross a network that can stall.
		ctx = context.WithoutCancel(ctx)
	}
	u, err := scanUser(st.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return auth.User{}, auth.ErrUserNotFound
	}
	return u, sqldb.Wrap("user by id", err)
}

// Credentials returns a user and its password hash by username key.
func (s *Store) Credentials(ctx context.Context, usernameKey string) (auth.User, string, error) {
	var hash string
	u, err := scanUser(s.db.QueryRowContext(ctx, s.db.Rebind(
		`SELECT `+userColumns+`, u.password_hash FROM users u WHERE u.username_key = ?`), usernameKey), &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return auth.User{}, "", auth.ErrUserNotFound
	}
	if err != nil {
		return auth.User{}, "", sqldb.Wrap("credentials", err)
	}
	return u, hash, nil
}

// ListUsers returns users with id > f.AfterID, optionally whose username
// starts with f.Prefix, ordered by id.
func (s *Store) ListUsers(ctx context.Context, f auth.UserFilter) ([]auth.User, error) {
	q := `SELECT ` + userColumns + ` FROM users u WHERE u.id > ?`
	args := []any{f.AfterID}
	if f.Bots {
		q += ` AND u.is_bot`
	}
	if f.Prefix != "" {
		q += ` AND u.username_key LIKE ? ESCAPE '\'`
		args = append(args, likePrefix(f.Prefix))
	}
	q += ` ORDER BY u.id LIMIT ?`
	args = append(args, f.Limit)
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(q), args...)
	if err != nil {
		return nil, sqldb.Wrap("list users", err)
	}
	defer rows.Close()
	var out []auth.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, sqldb.Wrap("list users", err)
		}
		out = append(out, u)
	}
	return out, sqldb.Wrap("list users", rows.Err())
}

func likePrefix(p string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(p) + "%"
}

// UpdateUser changes role and/or disabled; disabling revokes the user's
// refresh token families in the same transaction.
func (s *Store) UpdateUser(ctx context.Context, id int64, upd auth.UserUpdate, now time.Time) (auth.User, error) {
	var u auth.User
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if s.d.LockAdmins != "" {
			if _, err := tx.ExecContext(ctx, s.d.LockAdmins); err != nil {
				return err
			}
		}
		before, err := scanUser(tx.QueryRowContext(ctx, s.db.Rebind(`SELECT `+userColumns+` FROM users u WHERE u.id = ?`), id))
		if errors.Is(err, sql.ErrNoRows) {
			return auth.ErrUserNotFound
		}
		if err != nil {
			return err
		}
		after := before
		if upd.Role != nil {
			after.Role = *upd.Role
		}
		if upd.Disabled != nil {
			after.Disabled = *upd.Disabled
		}
		if after.Role == before.Role && after.Disabled == before.Disabled {
			u = before
			return nil
		}
		wasAdmin := before.IsAdmin() && !before.Disabled
		isAdmin := after.IsAdmin() && !after.Disabled
		if wasAdmin && !isAdmin {
			var others int
			err := tx.QueryRowContext(ctx, s.db.Rebind(
				`SELECT COUNT(*) FROM users WHERE role = 'admin' AND NOT disabled AND id <> ?`), id).Scan(&others)
			if err != nil {
				return err
			}
			if others == 0 {
				return auth.ErrLastAdmin
			}
		}
		ts := formatTime(now)
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE users SET role = ?, disabled = ?, updated_at = ? WHERE id = ?`),
			after.Role, after.Disabled, ts, id); err != nil {
			return err
		}
		// The account entry comes first, so a follower that reads both
		// closes a disabled user's sockets as disabled (4403), not as
		// signed out.
		if _, err := tx.ExecContext(ctx, s.db.Rebind(
			`INSERT INTO revocations (user_id, role, disabled, created_at) VALUES (?, ?, ?, ?)`),
			id, after.Role, after.Disabled, ts); err != nil {
			return err
		}
		if after.Disabled && !before.Disabled {
			if _, err := s.revokeFamilies(ctx, tx, `user_id = ?`, []any{id}, "disabled", ts); err != nil {
				return err
			}
		}
		u, err = scanUser(tx.QueryRowContext(ctx, s.db.Rebind(`SELECT `+userColumns+` FROM users u WHERE u.id = ?`), id))
		return err
	})
	return u, sqldb.Wrap("update user", err)
}

// revokeFamilies revokes the live families matching cond (SQL over
// refresh_families with ? placeholders for args) and records each one in
// the revocation feed, in tx. It returns how many it revoked.
func (s *Store) revokeFamilies(ctx context.Context, tx *sql.Tx, cond string, args []any, reason, ts string) (int, error) {
	rows, err := tx.QueryContext(ctx, s.db.Rebind(`SELECT id, user_id FROM refresh_families WHERE revoked_at IS NULL AND `+cond), args...)
	if err != nil {
		return 0, err
	}
	type family struct{ id, user int64 }
	var fams []family
	for rows.Next() {
		var f family
		if err := rows.Scan(&f.id, &f.user); err != nil {
			rows.Close()
			return 0, err
		}
		fams = append(fams, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, f := range fams {
		if _, err := tx.ExecContext(ctx, s.db.Rebind(
			`UPDATE refresh_families SET revoked_at = ?, revoke_reason = ? WHERE id = ?`), ts, reason, f.id); err != nil {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx, s.db.Rebind(
			`INSERT INTO revocations (user_id, family_id, created_at) VALUES (?, ?, ?)`), f.user, f.id, ts); err != nil {
			return 0, err
		}
	}
	return len(fams), nil
}

// RevokeSessions ends every live session of a user except keep (0: none),
// recording each in the revocation feed, and returns how many it ended.
func (s *Store) RevokeSessions(ctx context.Context, userID, keep int64, reason string, now time.Time) (int, error) {
	var n int
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = s.revokeFamilies(ctx, tx, `user_id = ? AND id <> ?`, []any{userID, keep}, reason, formatTime(now))
		return err
	})
	return n, sqldb.Wrap("revoke sessions", err)
}

// SetPasswordHash replaces a user's password hash; a changed password also
// clears password_generated and ends the other sessions.
func (s *Store) SetPasswordHash(ctx context.Context, id int64, hash string, changed bool, keep int64, now time.Time) error {
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		ts := formatTime(now)
		q := `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`
		if changed {
			q = `UPDATE users SET password_hash = ?, updated_at = ?, password_generated = false WHERE id = ?`
		}
		res, err := tx.ExecContext(ctx, s.db.Rebind(q), hash, ts, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return auth.ErrUserNotFound
		}
		if changed {
			_, err := s.revokeFamilies(ctx, tx, `user_id = ? AND id <> ?`, []any{id, keep}, "password_changed", ts)
			return err
		}
		return nil
	})
	return sqldb.Wrap("set password", err)
}

// CreateSession opens a refresh token family for a user and returns its id.
func (s *Store) CreateSession(ctx context.Context, userID int64, t auth.NewRefreshToken) (int64, error) {
	var sid int64
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		sid, err = s.createSession(ctx, tx, userID, t)
		return err
	})
	return sid, sqldb.Wrap("create session", err)
}

// UseRefreshToken looks a token up and carries out decide's verdict.
func (s *Store) UseRefreshToken(ctx context.Context, hash []byte, next auth.NewRefreshToken, decide func(auth.RefreshSession) (auth.Verdict, error)) (auth.RefreshSession, error) {
	var (
		rs      auth.RefreshSession
		outcome error // decide's error, returned after a committed revocation
	)
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var expires string
		u, err := scanUser(tx.QueryRowContext(ctx, s.db.Rebind(
			`SELECT `+userColumns+`, t.id, t.family_id, t.expires_at, t.used_at IS NOT NULL, f.revoked_at IS NOT NULL
			 FROM refresh_tokens t
			 JOIN refresh_families f ON f.id = t.family_id
			 JOIN users u ON u.id = f.user_id
			 WHERE t.token_hash = ?`+s.d.LockRefreshToken), hash),
			&rs.TokenID, &rs.FamilyID, &expires, &rs.Used, &rs.FamilyRevoked)
		if errors.Is(err, sql.ErrNoRows) {
			return auth.ErrRefreshInvalid
		}
		if err != nil {
			return err
		}
		rs.User = u
		if rs.ExpiresAt, err = parseTime(expires); err != nil {
			return err
		}
		verdict, derr := decide(rs)
		switch verdict {
		case auth.Rotate:
			ts := formatTime(next.Now)
			res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE refresh_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL`), ts, rs.TokenID)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n != 1 {
				return fmt.Errorf("refresh token %d was rotated concurrently", rs.TokenID)
			}
			return s.insertToken(ctx, tx, rs.FamilyID, next)
		case auth.RevokeFamily:
			if _, err := s.revokeFamilies(ctx, tx, `id = ?`, []any{rs.FamilyID}, "reuse", formatTime(next.Now)); err != nil {
				return err
			}
			outcome = derr
			return nil
		default:
			if derr == nil {
				derr = auth.ErrRefreshInvalid
			}
			return derr
		}
	})
	if err != nil {
		return auth.RefreshSession{}, sqldb.Wrap("use refresh token", err)
	}
	if outcome != nil {
		return rs, outcome // the session names whose family was revoked
	}
	return rs, nil
}

// RevokeFamilyOf revokes the family a token belongs to.
func (s *Store) RevokeFamilyOf(ctx context.Context, hash []byte, reason string, now time.Time) error {
	return sqldb.Wrap("revoke family", s.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := s.revokeFamilies(ctx, tx, `id = (SELECT family_id FROM refresh_tokens WHERE token_hash = ?)`, []any{hash}, reason, formatTime(now))
		return err
	}))
}

// Revocations returns up to limit feed entries after seq, in order, and
// the newest seq of the feed (0 when it is empty).
func (s *Store) Revocations(ctx context.Context, after int64, limit int) ([]auth.Revocation, int64, error) {
	var (
		out  []auth.Revocation
		last int64
	)
	err := func() error {
		rows, err := s.db.QueryContext(ctx, s.db.Rebind(
			`SELECT seq, user_id, family_id, token_id, role, disabled, created_at FROM revocations WHERE seq > ? ORDER BY seq LIMIT ?`), after, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				r        auth.Revocation
				family   sql.NullInt64
				tokenID  sql.NullInt64
				role     sql.NullString
				disabled sql.NullBool
				at       string
			)
			if err := rows.Scan(&r.Seq, &r.UserID, &family, &tokenID, &role, &disabled, &at); err != nil {
				return err
			}
			r.FamilyID, r.TokenID, r.Role, r.Disabled = family.Int64, tokenID.Int64, role.String, disabled.Bool
			if r.At, err = parseTime(at); err != nil {
				return err
			}
			out = append(out, r)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		return s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM revocations`).Scan(&last)
	}()
	return out, last, sqldb.Wrap("revocations", err)
}

// PruneRevocations deletes feed entries older than before.
func (s *Store) PruneRevocations(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM revocations WHERE created_at < ?`), formatTime(before))
	if err != nil {
		return 0, sqldb.Wrap("prune revocations", err)
	}
	n, err := res.RowsAffected()
	return n, sqldb.Wrap("prune revocations", err)
}

// PruneRefreshTokens deletes expired tokens and then empty families.
func (s *Store) PruneRefreshTokens(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.db.Rebind(`DELETE FROM refresh_tokens WHERE expires_at < ?`), formatTime(now))
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx,
			`DELETE FROM refresh_families WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family_id = refresh_families.id)`)
		return err
	})
	return n, sqldb.Wrap("prune refresh tokens", err)
}

// SigningKey stores candidate (a PKCS#8 DER private key) under name unless
// a key is stored there already, and returns the stored key: the first
// replica to get here decides, the others adopt its key.
func (s *Store) SigningKey(ctx context.Context, name, kid string, candidate []byte, now time.Time) ([]byte, error) {
	var der []byte
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.db.Rebind(
			`INSERT INTO signing_keys (name, kid, private_key, created_at) VALUES (?, ?, ?, ?)
			 ON CONFLICT (name) DO NOTHING`), name, kid, candidate, formatTime(now))
		if err != nil {
			return err
		}
		// On PostgreSQL a racing replica's insert waited for ours (or ours
		// for theirs) and this statement's fresh snapshot sees the winner.
		return tx.QueryRowContext(ctx, s.db.Rebind(`SELECT private_key FROM signing_keys WHERE name = ?`), name).Scan(&der)
	})
	return der, sqldb.Wrap("signing key", err)
}

// Tables lists every table of the schema, parents before children (the
// order copy-db fills them in).
var Tables = []string{"users", "refresh_families", "refresh_tokens", "signing_keys", "revocations", "access_tokens"}

// Counts returns the number of rows in each table, for tests and
// diagnostics.
func (s *Store) Counts(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	for _, t := range Tables {
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t).Scan(&n); err != nil {
			return nil, sqldb.Wrap("count "+t, err)
		}
		out[t] = n
	}
	return out, nil
}
