-- Profiles are keyed by the auth-service user id; user-service never
-- generates ids. Times are RFC 3339 UTC text.
CREATE TABLE profiles (
    id           INTEGER PRIMARY KEY,
    username     TEXT    NOT NULL,
    display_name TEXT    NOT NULL DEFAULT '',
    bio          TEXT    NOT NULL DEFAULT '',
    status_text  TEXT    NOT NULL DEFAULT '',
    -- SHA-256 (hex) of the uploaded avatar; '' while the default is shown.
    avatar_hash  TEXT    NOT NULL DEFAULT '',
    created_at   TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL
);

-- One image per user, replaced on upload. Kept apart from profiles so that
-- profile reads never load image bytes.
CREATE TABLE avatars (
    user_id      INTEGER PRIMARY KEY REFERENCES profiles (id) ON DELETE CASCADE,
    content_type TEXT    NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg', 'image/gif', 'image/webp')),
    hash         TEXT    NOT NULL,
    data         BLOB    NOT NULL,
    updated_at   TEXT    NOT NULL
);

CREATE TABLE settings (
    user_id              INTEGER PRIMARY KEY REFERENCES profiles (id) ON DELETE CASCADE,
    theme                TEXT    NOT NULL CHECK (theme IN ('light', 'dark', 'system')),
    notify_desktop       INTEGER NOT NULL CHECK (notify_desktop IN (0, 1)),
    notify_sound         INTEGER NOT NULL CHECK (notify_sound IN (0, 1)),
    notify_mentions_only INTEGER NOT NULL CHECK (notify_mentions_only IN (0, 1)),
    updated_at           TEXT    NOT NULL
);
