// Package sqlite stores auth-service's users, refresh tokens and signing key
// in SQLite. Every method is one short transaction (BEGIN IMMEDIATE for
// writes, see platform/sqldb), so replicas sharing the file serialize
// cleanly and nothing is half-written.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parleychat/parley/auth-service/internal/auth"
	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/sqldb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate applies the embedded schema migrations.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	ms, err := sqldb.LoadMigrations(migrations, "migrations")
	if err != nil {
		return err
	}
	return sqldb.Migrate(ctx, db, ms)
}

// Store implements auth.Store and token.KeyStore.
type Store struct {
	db *sqldb.DB
}

// New wraps an open, migrated database.
func New(db *sqldb.DB) *Store { return &Store{db: db} }

var _ auth.Store = (*Store)(nil)

// timeLayout is fixed-width so stored times compare correctly as text.
const timeLayout = "2006-01-02T15:04:05.000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t.UTC(), nil
}

// wrap names the operation and turns "database busy or gone" into a 503.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	if sqldb.IsUnavailable(err) {
		return apperr.Unavailable("database_unavailable", "the database is busy or unavailable; retry shortly", fmt.Errorf("%s: %w", op, err))
	}
	return fmt.Errorf("%s: %w", op, err)
}

const userColumns = `u.id, u.username, u.email, u.role, u.disabled, u.created_at, u.updated_at`

type rowScanner interface{ Scan(dest ...any) error }

func scanUser(r rowScanner, extra ...any) (auth.User, error) {
	var (
		u                auth.User
		email            sql.NullString
		created, updated string
	)
	dest := append([]any{&u.ID, &u.Username, &email, &u.Role, &u.Disabled, &created, &updated}, extra...)
	if err := r.Scan(dest...); err != nil {
		return auth.User{}, err
	}
	u.Email = email.String
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

// CreateUser inserts a user and optionally its first refresh token family.
func (s *Store) CreateUser(ctx context.Context, nu auth.NewUser, session *auth.NewRefreshToken) (auth.User, error) {
	var u auth.User
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		now := formatTime(nu.Now)
		res, err := tx.ExecContext(ctx,
			`INSERT INTO users (username, username_key, email, password_hash, role, disabled, created_at, updated_at)
			 VALUES (?, ?, ?, ?, ?, 0, ?, ?)`,
			nu.Username, nu.UsernameKey, nullString(nu.Email), nu.PasswordHash, nu.Role, now, now)
		if sqldb.IsUniqueViolation(err) {
			return auth.ErrUsernameTaken
		}
		if err != nil {
			return err
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		if session != nil {
			if err := createSession(ctx, tx, id, *session); err != nil {
				return err
			}
		}
		u, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users u WHERE u.id = ?`, id))
		return err
	})
	return u, wrap("create user", err)
}

func createSession(ctx context.Context, tx *sql.Tx, userID int64, t auth.NewRefreshToken) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO refresh_families (user_id, created_at) VALUES (?, ?)`, userID, formatTime(t.Now))
	if err != nil {
		return err
	}
	fam, err := res.LastInsertId()
	if err != nil {
		return err
	}
	return insertToken(ctx, tx, fam, t)
}

func insertToken(ctx context.Context, tx *sql.Tx, familyID int64, t auth.NewRefreshToken) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO refresh_tokens (family_id, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		familyID, t.Hash, formatTime(t.Now), formatTime(t.ExpiresAt))
	return err
}

// UserByID returns one user.
func (s *Store) UserByID(ctx context.Context, id int64) (auth.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users u WHERE u.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return auth.User{}, auth.ErrUserNotFound
	}
	return u, wrap("user by id", err)
}

// Credentials returns a user and its password hash by username key.
func (s *Store) Credentials(ctx context.Context, usernameKey string) (auth.User, string, error) {
	var hash string
	u, err := scanUser(s.db.QueryRowContext(ctx,
		`SELECT `+userColumns+`, u.password_hash FROM users u WHERE u.username_key = ?`, usernameKey), &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return auth.User{}, "", auth.ErrUserNotFound
	}
	if err != nil {
		return auth.User{}, "", wrap("credentials", err)
	}
	return u, hash, nil
}

// ListUsers returns users with id > f.AfterID, optionally whose username
// starts with f.Prefix, ordered by id.
func (s *Store) ListUsers(ctx context.Context, f auth.UserFilter) ([]auth.User, error) {
	q := `SELECT ` + userColumns + ` FROM users u WHERE u.id > ?`
	args := []any{f.AfterID}
	if f.Prefix != "" {
		q += ` AND u.username_key LIKE ? ESCAPE '\'`
		args = append(args, likePrefix(f.Prefix))
	}
	q += ` ORDER BY u.id LIMIT ?`
	args = append(args, f.Limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, wrap("list users", err)
	}
	defer rows.Close()
	var out []auth.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, wrap("list users", err)
		}
		out = append(out, u)
	}
	return out, wrap("list users", rows.Err())
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
		before, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users u WHERE u.id = ?`, id))
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
			err := tx.QueryRowContext(ctx,
				`SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0 AND id <> ?`, id).Scan(&others)
			if err != nil {
				return err
			}
			if others == 0 {
				return auth.ErrLastAdmin
			}
		}
		ts := formatTime(now)
		if _, err := tx.ExecContext(ctx, `UPDATE users SET role = ?, disabled = ?, updated_at = ? WHERE id = ?`,
			after.Role, after.Disabled, ts, id); err != nil {
			return err
		}
		if after.Disabled && !before.Disabled {
			if err := revokeUserFamilies(ctx, tx, id, "disabled", ts); err != nil {
				return err
			}
		}
		u, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users u WHERE u.id = ?`, id))
		return err
	})
	return u, wrap("update user", err)
}

func revokeUserFamilies(ctx context.Context, tx *sql.Tx, userID int64, reason, ts string) error {
	_, err := tx.ExecContext(ctx,
		`UPDATE refresh_families SET revoked_at = ?, revoke_reason = ? WHERE user_id = ? AND revoked_at IS NULL`,
		ts, reason, userID)
	return err
}

// SetPasswordHash replaces a user's password hash.
func (s *Store) SetPasswordHash(ctx context.Context, id int64, hash string, revokeSessions bool, now time.Time) error {
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		ts := formatTime(now)
		res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`, hash, ts, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return auth.ErrUserNotFound
		}
		if revokeSessions {
			return revokeUserFamilies(ctx, tx, id, "password_changed", ts)
		}
		return nil
	})
	return wrap("set password", err)
}

// CreateSession opens a refresh token family for a user.
func (s *Store) CreateSession(ctx context.Context, userID int64, t auth.NewRefreshToken) error {
	return wrap("create session", s.db.Tx(ctx, func(tx *sql.Tx) error {
		return createSession(ctx, tx, userID, t)
	}))
}

// UseRefreshToken looks a token up and carries out decide's verdict.
func (s *Store) UseRefreshToken(ctx context.Context, hash []byte, next auth.NewRefreshToken, decide func(auth.RefreshSession) (auth.Verdict, error)) (auth.RefreshSession, error) {
	var (
		rs      auth.RefreshSession
		outcome error // decide's error, returned after a committed revocation
	)
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var expires string
		u, err := scanUser(tx.QueryRowContext(ctx,
			`SELECT `+userColumns+`, t.id, t.family_id, t.expires_at, t.used_at IS NOT NULL, f.revoked_at IS NOT NULL
			 FROM refresh_tokens t
			 JOIN refresh_families f ON f.id = t.family_id
			 JOIN users u ON u.id = f.user_id
			 WHERE t.token_hash = ?`, hash),
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
			res, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL`, ts, rs.TokenID)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n != 1 {
				return fmt.Errorf("refresh token %d was rotated concurrently", rs.TokenID)
			}
			return insertToken(ctx, tx, rs.FamilyID, next)
		case auth.RevokeFamily:
			_, err := tx.ExecContext(ctx,
				`UPDATE refresh_families SET revoked_at = ?, revoke_reason = 'reuse' WHERE id = ? AND revoked_at IS NULL`,
				formatTime(next.Now), rs.FamilyID)
			if err != nil {
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
		return auth.RefreshSession{}, wrap("use refresh token", err)
	}
	if outcome != nil {
		return rs, outcome // the session names whose family was revoked
	}
	return rs, nil
}

// RevokeFamilyOf revokes the family a token belongs to.
func (s *Store) RevokeFamilyOf(ctx context.Context, hash []byte, reason string, now time.Time) error {
	_, err := s.db.ExecContext(ctx,
		`UPDATE refresh_families SET revoked_at = ?, revoke_reason = ?
		 WHERE revoked_at IS NULL AND id = (SELECT family_id FROM refresh_tokens WHERE token_hash = ?)`,
		formatTime(now), reason, hash)
	return wrap("revoke family", err)
}

// PruneRefreshTokens deletes expired tokens and then empty families.
func (s *Store) PruneRefreshTokens(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM refresh_tokens WHERE expires_at < ?`, formatTime(now))
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
	return n, wrap("prune refresh tokens", err)
}

// SigningKey stores candidate (a PKCS#8 DER private key) under name unless
// a key is stored there already, and returns the stored key: the first
// replica to get here decides, the others adopt its key.
func (s *Store) SigningKey(ctx context.Context, name, kid string, candidate []byte, now time.Time) ([]byte, error) {
	var der []byte
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO signing_keys (name, kid, private_key, created_at) VALUES (?, ?, ?, ?)
			 ON CONFLICT (name) DO NOTHING`, name, kid, candidate, formatTime(now))
		if err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT private_key FROM signing_keys WHERE name = ?`, name).Scan(&der)
	})
	return der, wrap("signing key", err)
}

// Counts returns the number of rows in each table, for tests and
// diagnostics.
func (s *Store) Counts(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	for _, t := range []string{"users", "refresh_families", "refresh_tokens", "signing_keys"} {
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t).Scan(&n); err != nil {
			return nil, wrap("count "+t, err)
		}
		out[t] = n
	}
	return out, nil
}
