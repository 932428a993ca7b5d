package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/parleychat/parley/auth-service/internal/auth"
	"github.com/parleychat/parley/platform/sqldb"
)

const accessTokenColumns = `t.id, t.user_id, t.name, t.hint, t.created_at, t.expires_at, t.last_used_at`

func scanAccessToken(r rowScanner, extra ...any) (auth.AccessToken, error) {
	var (
		t                auth.AccessToken
		created, expires string
		lastUsed         sql.NullString
	)
	if err := r.Scan(append([]any{&t.ID, &t.UserID, &t.Name, &t.Hint, &created, &expires, &lastUsed}, extra...)...); err != nil {
		return auth.AccessToken{}, err
	}
	var err error
	if t.CreatedAt, err = parseTime(created); err != nil {
		return auth.AccessToken{}, err
	}
	if t.ExpiresAt, err = parseTime(expires); err != nil {
		return auth.AccessToken{}, err
	}
	if lastUsed.Valid {
		lu, err := parseTime(lastUsed.String)
		if err != nil {
			return auth.AccessToken{}, err
		}
		t.LastUsedAt = &lu
	}
	return t, nil
}

// CreateAccessToken inserts a token row, then fills in its hash and hint,
// which depend on the id the row got, in the same transaction.
func (s *Store) CreateAccessToken(ctx context.Context, nt auth.NewAccessToken, max int, seal func(id int64) ([]byte, string)) (auth.AccessToken, error) {
	var t auth.AccessToken
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		// The owner's row is locked first (PostgreSQL; SQLite's write
		// transactions run one at a time), so tokens created at once
		// count each other.
		if s.db.Dialect == sqldb.Postgres {
			if _, err := tx.ExecContext(ctx, s.db.Rebind(`SELECT id FROM users WHERE id = ? FOR UPDATE`), nt.UserID); err != nil {
				return err
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT COUNT(*) FROM access_tokens WHERE user_id = ?`), nt.UserID).Scan(&n); err != nil {
			return err
		}
		if n >= max {
			return auth.ErrTooManyTokens
		}
		var id int64
		err := tx.QueryRowContext(ctx, s.db.Rebind(
			`INSERT INTO access_tokens (user_id, name, token_hash, hint, created_at, expires_at) VALUES (?, ?, ?, '', ?, ?) RETURNING id`),
			nt.UserID, nt.Name, []byte{}, formatTime(nt.Now), formatTime(nt.ExpiresAt)).Scan(&id)
		if err != nil {
			return err
		}
		hash, hint := seal(id)
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE access_tokens SET token_hash = ?, hint = ? WHERE id = ?`), hash, hint, id); err != nil {
			return err
		}
		t, err = scanAccessToken(tx.QueryRowContext(ctx, s.db.Rebind(`SELECT `+accessTokenColumns+` FROM access_tokens t WHERE t.id = ?`), id))
		return err
	})
	return t, sqldb.Wrap("create access token", err)
}

// AccessTokens lists a user's tokens, newest first.
func (s *Store) AccessTokens(ctx context.Context, userID int64) ([]auth.AccessToken, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(
		`SELECT `+accessTokenColumns+` FROM access_tokens t WHERE t.user_id = ? ORDER BY t.id DESC`), userID)
	if err != nil {
		return nil, sqldb.Wrap("access tokens", err)
	}
	defer rows.Close()
	out := []auth.AccessToken{}
	for rows.Next() {
		t, err := scanAccessToken(rows)
		if err != nil {
			return nil, sqldb.Wrap("access tokens", err)
		}
		out = append(out, t)
	}
	return out, sqldb.Wrap("access tokens", rows.Err())
}

// AccessTokenByID returns a token with its hash and owner.
func (s *Store) AccessTokenByID(ctx context.Context, id int64) (auth.AccessToken, []byte, auth.User, error) {
	var hash []byte
	row := s.db.QueryRowContext(ctx, s.db.Rebind(
		`SELECT `+userColumns+`, `+accessTokenColumns+`, t.token_hash FROM access_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?`), id)
	var t auth.AccessToken
	var (
		created, expires string
		lastUsed         sql.NullString
	)
	u, err := scanUser(row, &t.ID, &t.UserID, &t.Name, &t.Hint, &created, &expires, &lastUsed, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return auth.AccessToken{}, nil, auth.User{}, auth.ErrTokenNotFound
	}
	if err != nil {
		return auth.AccessToken{}, nil, auth.User{}, sqldb.Wrap("access token", err)
	}
	if t.CreatedAt, err = parseTime(created); err == nil {
		t.ExpiresAt, err = parseTime(expires)
	}
	if err == nil && lastUsed.Valid {
		var lu time.Time
		if lu, err = parseTime(lastUsed.String); err == nil {
			t.LastUsedAt = &lu
		}
	}
	if err != nil {
		return auth.AccessToken{}, nil, auth.User{}, sqldb.Wrap("access token", err)
	}
	return t, hash, u, nil
}

// RevokeAccessToken deletes one of the user's tokens and records the
// revocation in the feed.
func (s *Store) RevokeAccessToken(ctx context.Context, userID, id int64, now time.Time) error {
	return sqldb.Wrap("revoke access token", s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.db.Rebind(`DELETE FROM access_tokens WHERE id = ? AND user_id = ?`), id, userID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return auth.ErrTokenNotFound
		}
		_, err = tx.ExecContext(ctx, s.db.Rebind(
			`INSERT INTO revocations (user_id, token_id, created_at) VALUES (?, ?, ?)`), userID, id, formatTime(now))
		return err
	}))
}

// TouchAccessToken records a use, at most once per token between since and
// now.
func (s *Store) TouchAccessToken(ctx context.Context, id int64, now, since time.Time) error {
	_, err := s.db.ExecContext(ctx, s.db.Rebind(
		`UPDATE access_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`),
		formatTime(now), id, formatTime(since))
	return sqldb.Wrap("touch access token", err)
}

// PruneAccessTokens deletes tokens that expired before before.
func (s *Store) PruneAccessTokens(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM access_tokens WHERE expires_at < ?`), formatTime(before))
	if err != nil {
		return 0, sqldb.Wrap("prune access tokens", err)
	}
	n, err := res.RowsAffected()
	return n, sqldb.Wrap("prune access tokens", err)
}
