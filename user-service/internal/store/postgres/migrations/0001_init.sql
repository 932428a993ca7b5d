-- user-service schema for PostgreSQL: the same tables, columns and checks
-- as the SQLite 0001_init.sql. Profiles are keyed by the auth-service user
-- id; user-service never generates ids. Times are RFC 3339 UTC text with
-- nanoseconds, as on SQLite, so answers are identical on both.
CREATE TABLE profiles (
    id           BIGINT PRIMARY KEY,
    username     TEXT   NOT NULL,
    display_name TEXT   NOT NULL DEFAULT '',
    bio          TEXT   NOT NULL DEFAULT '',
    status_text  TEXT   NOT NULL DEFAULT '',
    -- SHA-256 (hex) of the uploaded avatar; '' while the default is shown.
    avatar_hash  TEXT   NOT NULL DEFAULT '',
    created_at   TEXT   NOT NULL,
    updated_at   TEXT   NOT NULL
);

-- One image per user, replaced on upload. Kept apart from profiles so that
-- profile reads never load image bytes.
CREATE TABLE avatars (
    user_id      BIGINT PRIMARY KEY REFERENCES profiles (id) ON DELETE CASCADE,
    content_type TEXT   NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg', 'image/gif', 'image/webp')),
    hash         TEXT   NOT NULL,
    data         BYTEA  NOT NULL,
    updated_at   TEXT   NOT NULL
);

CREATE TABLE settings (
    user_id              BIGINT  PRIMARY KEY REFERENCES profiles (id) ON DELETE CASCADE,
    theme                TEXT    NOT NULL CHECK (theme IN ('light', 'dark', 'system')),
    notify_desktop       BOOLEAN NOT NULL,
    notify_sound         BOOLEAN NOT NULL,
    notify_mentions_only BOOLEAN NOT NULL,
    updated_at           TEXT    NOT NULL
);
