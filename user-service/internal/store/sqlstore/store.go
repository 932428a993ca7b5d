// Package sqlstore stores user-service data in SQL that SQLite and
// PostgreSQL both accept (placeholders rebound per dialect); packages
// sqlite and postgres hold each dialect's schema. It holds SQL only; the
// rules live in package profile.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/sqldb"

	"github.com/parleychat/parley/user-service/internal/profile"
)

// Store implements profile.Store.
type Store struct {
	db *sqldb.DB
}

var _ profile.Store = (*Store)(nil)

// New returns a Store on an open database migrated with its dialect's
// schema.
func New(db *sqldb.DB) *Store { return &Store{db: db} }

// Tables lists every table, parents before children (copy-db's order).
var Tables = []string{"profiles", "avatars", "settings", "directory_mark"}

// timeFormat keeps nanoseconds, so times are stored as text on both
// dialects (a TIMESTAMPTZ would round them to microseconds and the JSON
// would differ between the two).
const timeFormat = time.RFC3339Nano

// TimeLayout is timeFormat, for the Schema (backups of PostgreSQL).
const TimeLayout = timeFormat

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(timeFormat, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse stored time %q: %w", s, err)
	}
	return t.UTC(), nil
}

const profileColumns = `id, username, display_name, bio, status_text, avatar_hash, is_bot, created_at, updated_at`

type scanner interface{ Scan(dest ...any) error }

func scanProfile(row scanner) (profile.Profile, error) {
	var (
		p                profile.Profile
		created, updated string
	)
	if err := row.Scan(&p.ID, &p.Username, &p.DisplayName, &p.Bio, &p.StatusText, &p.AvatarHash, &p.IsBot, &created, &updated); err != nil {
		return profile.Profile{}, err
	}
	var err error
	if p.CreatedAt, err = parseTime(created); err != nil {
		return profile.Profile{}, err
	}
	if p.UpdatedAt, err = parseTime(updated); err != nil {
		return profile.Profile{}, err
	}
	return p, nil
}

// EnsureProfile reads first so the common case (the profile exists and is
// current) costs no write transaction.
func (s *Store) EnsureProfile(ctx context.Context, id int64, username string, bot bool, now time.Time) error {
	var (
		current string
		isBot   bool
	)
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT username, is_bot FROM profiles WHERE id = ?`), id).Scan(&current, &isBot)
	switch {
	case err == nil && current == username && (isBot || !bot):
		return nil
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return sqldb.Wrap("ensure profile", err)
	}
	// Insert, or follow a username change; a concurrent first request for
	// the same user is absorbed by the conflict clause.
	q := s.db.Rebind(`INSERT INTO profiles (id, username, is_bot, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET username = excluded.username, is_bot = profiles.is_bot OR excluded.is_bot, updated_at = excluded.updated_at
		WHERE profiles.username <> excluded.username OR (excluded.is_bot AND NOT profiles.is_bot)`)
	ts := formatTime(now)
	if _, err := s.db.ExecContext(ctx, q, id, username, bot, ts, ts); err != nil {
		return sqldb.Wrap("ensure profile", err)
	}
	return nil
}

// DirectoryMark reads the highest account id imported (0 before the first).
func (s *Store) DirectoryMark(ctx context.Context) (int64, error) {
	var mark int64
	err := s.db.QueryRowContext(ctx, `SELECT account_id FROM directory_mark WHERE id = 1`).Scan(&mark)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return mark, sqldb.Wrap("read directory mark", err)
}

// ImportAccounts reads which of the accounts have a profile first, so a
// catch-up that finds nothing new costs no write transaction; then it
// inserts the missing ones (a profile created meanwhile wins: its owner's
// token is the fresher source) and raises the mark, never lowering it.
func (s *Store) ImportAccounts(ctx context.Context, accounts []profile.Account, mark int64, now time.Time) error {
	ids := make([]int64, len(accounts))
	for i, a := range accounts {
		ids[i] = a.ID
	}
	have := map[int64]bool{}
	if len(ids) > 0 {
		existing, err := s.Profiles(ctx, ids)
		if err != nil {
			return err
		}
		for _, p := range existing {
			have[p.ID] = true
		}
	}
	current, err := s.DirectoryMark(ctx)
	if err != nil {
		return err
	}
	if len(have) == len(ids) && mark <= current {
		return nil
	}
	// A bot whose own token made its profile first gets its mark and its
	// display name (unless one was set since) from the account.
	markBot := s.db.Rebind(`UPDATE profiles SET is_bot = true,
		display_name = CASE WHEN display_name = '' THEN ? ELSE display_name END WHERE id = ?`)
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		insert := s.db.Rebind(`INSERT INTO profiles (id, username, display_name, is_bot, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
		for _, a := range accounts {
			if have[a.ID] {
				if a.IsBot {
					if _, err := tx.ExecContext(ctx, markBot, a.DisplayName, a.ID); err != nil {
						return sqldb.Wrap("import bot", err)
					}
				}
				continue
			}
			created := a.CreatedAt
			if created.IsZero() {
				created = now
			}
			if _, err := tx.ExecContext(ctx, insert, a.ID, a.Username, a.DisplayName, a.IsBot, formatTime(created), formatTime(now)); err != nil {
				return sqldb.Wrap("import account", err)
			}
		}
		if mark > current {
			q := s.db.Rebind(`INSERT INTO directory_mark (id, account_id) VALUES (1, ?)
				ON CONFLICT (id) DO UPDATE SET account_id = excluded.account_id WHERE directory_mark.account_id < excluded.account_id`)
			if _, err := tx.ExecContext(ctx, q, mark); err != nil {
				return sqldb.Wrap("raise directory mark", err)
			}
		}
		return nil
	})
}

// Profile reads one profile.
func (s *Store) Profile(ctx context.Context, id int64) (profile.Profile, error) {
	row := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT `+profileColumns+` FROM profiles WHERE id = ?`), id)
	p, err := scanProfile(row)
	if errors.Is(err, sql.ErrNoRows) {
		return profile.Profile{}, profile.ErrProfileNotFound(id)
	}
	if err != nil {
		return profile.Profile{}, sqldb.Wrap("read profile", err)
	}
	return p, nil
}

// Profiles reads the profiles that exist among ids.
func (s *Store) Profiles(ctx context.Context, ids []int64) ([]profile.Profile, error) {
	if len(ids) == 0 {
		return []profile.Profile{}, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	q := `SELECT ` + profileColumns + ` FROM profiles WHERE id IN (?` + strings.Repeat(", ?", len(ids)-1) + `) ORDER BY id`
	return s.queryProfiles(ctx, "read profiles", s.db.Rebind(q), args...)
}

// FindProfiles lists profiles by ascending id after f.AfterID.
func (s *Store) FindProfiles(ctx context.Context, f profile.ProfileFilter) ([]profile.Profile, error) {
	q := `SELECT ` + profileColumns + ` FROM profiles WHERE id > ?`
	args := []any{f.AfterID}
	if f.Query != "" {
		// Case-insensitive on both dialects: PostgreSQL's LIKE respects
		// case, SQLite's ignores it for ASCII letters only (and its lower()
		// folds ASCII only, so SQLite's results do not change).
		pattern := "%" + escapeLike(f.Query) + "%"
		q += ` AND (lower(username) LIKE lower(?) ESCAPE '\' OR lower(display_name) LIKE lower(?) ESCAPE '\')`
		args = append(args, pattern, pattern)
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, f.Limit)
	return s.queryProfiles(ctx, "find profiles", s.db.Rebind(q), args...)
}

// escapeLike makes s match literally inside a LIKE pattern.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func (s *Store) queryProfiles(ctx context.Context, op, q string, args ...any) ([]profile.Profile, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, sqldb.Wrap(op, err)
	}
	defer rows.Close()
	out := []profile.Profile{}
	for rows.Next() {
		p, err := scanProfile(rows)
		if err != nil {
			return nil, sqldb.Wrap(op, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, sqldb.Wrap(op, err)
	}
	return out, nil
}

// UpdateProfile changes the named fields in one statement.
func (s *Store) UpdateProfile(ctx context.Context, id int64, p profile.ProfilePatch, now time.Time) (profile.Profile, error) {
	q := s.db.Rebind(`UPDATE profiles SET
		display_name = COALESCE(?, display_name),
		bio = COALESCE(?, bio),
		status_text = COALESCE(?, status_text),
		updated_at = ?
		WHERE id = ? RETURNING ` + profileColumns)
	row := s.db.QueryRowContext(ctx, q, nullString(p.DisplayName), nullString(p.Bio), nullString(p.StatusText), formatTime(now), id)
	out, err := scanProfile(row)
	if errors.Is(err, sql.ErrNoRows) {
		return profile.Profile{}, profile.ErrProfileNotFound(id)
	}
	if err != nil {
		return profile.Profile{}, sqldb.Wrap("update profile", err)
	}
	return out, nil
}

func nullString(s *string) sql.NullString {
	if s == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: *s, Valid: true}
}

func nullBool(b *bool) sql.NullBool {
	if b == nil {
		return sql.NullBool{}
	}
	return sql.NullBool{Bool: *b, Valid: true}
}

// SetAvatar replaces the image and the profile's hash in one transaction,
// so a reader never sees a profile pointing at a missing or older image.
func (s *Store) SetAvatar(ctx context.Context, a profile.Avatar) (profile.Profile, error) {
	var out profile.Profile
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		ts := formatTime(a.UpdatedAt)
		row := tx.QueryRowContext(ctx, s.db.Rebind(`UPDATE profiles SET avatar_hash = ?, updated_at = ? WHERE id = ? RETURNING `+profileColumns),
			a.Hash, ts, a.UserID)
		p, err := scanProfile(row)
		if errors.Is(err, sql.ErrNoRows) {
			return profile.ErrProfileNotFound(a.UserID)
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO avatars (user_id, content_type, hash, data, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (user_id) DO UPDATE SET content_type = excluded.content_type, hash = excluded.hash,
			data = excluded.data, updated_at = excluded.updated_at`),
			a.UserID, a.ContentType, a.Hash, a.Data, ts)
		if err != nil {
			return err
		}
		out = p
		return nil
	})
	if err != nil {
		if _, ok := apperr.From(err); ok {
			return profile.Profile{}, err
		}
		return profile.Profile{}, sqldb.Wrap("set avatar", err)
	}
	return out, nil
}

// DeleteAvatar drops the image; the profile falls back to the default.
func (s *Store) DeleteAvatar(ctx context.Context, userID int64, now time.Time) (profile.Profile, error) {
	var out profile.Profile
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		// Only a profile that had an avatar changes; deleting again is a no-op.
		row := tx.QueryRowContext(ctx, s.db.Rebind(`UPDATE profiles SET avatar_hash = '',
			updated_at = CASE WHEN avatar_hash <> '' THEN ? ELSE updated_at END
			WHERE id = ? RETURNING `+profileColumns), formatTime(now), userID)
		p, err := scanProfile(row)
		if errors.Is(err, sql.ErrNoRows) {
			return profile.ErrProfileNotFound(userID)
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`DELETE FROM avatars WHERE user_id = ?`), userID); err != nil {
			return err
		}
		out = p
		return nil
	})
	if err != nil {
		if _, ok := apperr.From(err); ok {
			return profile.Profile{}, err
		}
		return profile.Profile{}, sqldb.Wrap("delete avatar", err)
	}
	return out, nil
}

// Avatar reads a stored image.
func (s *Store) Avatar(ctx context.Context, userID int64) (profile.Avatar, error) {
	var (
		a  = profile.Avatar{UserID: userID}
		ts string
	)
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT content_type, hash, data, updated_at FROM avatars WHERE user_id = ?`), userID).
		Scan(&a.ContentType, &a.Hash, &a.Data, &ts)
	if errors.Is(err, sql.ErrNoRows) {
		return profile.Avatar{}, apperr.NotFound("avatar_not_found", fmt.Sprintf("user %d has no uploaded avatar", userID))
	}
	if err != nil {
		return profile.Avatar{}, sqldb.Wrap("read avatar", err)
	}
	if a.UpdatedAt, err = parseTime(ts); err != nil {
		return profile.Avatar{}, err
	}
	return a, nil
}

const settingsColumns = `user_id, theme, notify_desktop, notify_sound, notify_mentions_only, updated_at`

func scanSettings(row scanner) (profile.Settings, error) {
	var (
		st profile.Settings
		ts string
	)
	err := row.Scan(&st.UserID, &st.Theme, &st.Notifications.Desktop, &st.Notifications.Sound, &st.Notifications.MentionsOnly, &ts)
	if err != nil {
		return profile.Settings{}, err
	}
	if st.UpdatedAt, err = parseTime(ts); err != nil {
		return profile.Settings{}, err
	}
	return st, nil
}

// Settings reads a user's saved settings.
func (s *Store) Settings(ctx context.Context, userID int64) (profile.Settings, error) {
	st, err := scanSettings(s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT `+settingsColumns+` FROM settings WHERE user_id = ?`), userID))
	if errors.Is(err, sql.ErrNoRows) {
		return profile.Settings{}, apperr.NotFound("settings_not_found", fmt.Sprintf("user %d has no saved settings", userID))
	}
	if err != nil {
		return profile.Settings{}, sqldb.Wrap("read settings", err)
	}
	return st, nil
}

// UpdateSettings upserts in one statement: a first save starts from def, a
// later one keeps every setting the patch does not name.
func (s *Store) UpdateSettings(ctx context.Context, userID int64, p profile.SettingsPatch, def profile.Settings, now time.Time) (profile.Settings, error) {
	first := p.Apply(def)
	q := s.db.Rebind(`INSERT INTO settings (` + settingsColumns + `) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET
			theme = COALESCE(?, settings.theme),
			notify_desktop = COALESCE(?, settings.notify_desktop),
			notify_sound = COALESCE(?, settings.notify_sound),
			notify_mentions_only = COALESCE(?, settings.notify_mentions_only),
			updated_at = excluded.updated_at
		RETURNING ` + settingsColumns)
	row := s.db.QueryRowContext(ctx, q,
		userID, first.Theme, first.Notifications.Desktop, first.Notifications.Sound, first.Notifications.MentionsOnly, formatTime(now),
		nullString(p.Theme), nullBool(p.Desktop), nullBool(p.Sound), nullBool(p.MentionsOnly))
	st, err := scanSettings(row)
	if err != nil {
		if sqldb.IsForeignKeyViolation(err) {
			return profile.Settings{}, profile.ErrProfileNotFound(userID)
		}
		return profile.Settings{}, sqldb.Wrap("update settings", err)
	}
	return st, nil
}
