-- Accounts. username_key is the lowercased username: its UNIQUE index makes
-- usernames unique case-insensitively, and settles races between replicas.
-- AUTOINCREMENT so an id is never handed out twice.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL,
    username_key  TEXT    NOT NULL,
    email         TEXT,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
);
CREATE UNIQUE INDEX users_username_key ON users (username_key);

-- A family is one login: its refresh tokens replace each other on every
-- refresh. Revoking the family ends the login on every copy of its tokens.
CREATE TABLE refresh_families (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    TEXT    NOT NULL,
    revoked_at    TEXT,
    revoke_reason TEXT
);
CREATE INDEX refresh_families_user ON refresh_families (user_id);

-- Only the SHA-256 of a refresh token is stored. used_at is set when the
-- token is rotated; seeing it again afterwards is reuse.
CREATE TABLE refresh_tokens (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    family_id  INTEGER NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
    token_hash BLOB    NOT NULL,
    created_at TEXT    NOT NULL,
    expires_at TEXT    NOT NULL,
    used_at    TEXT
);
CREATE UNIQUE INDEX refresh_tokens_hash ON refresh_tokens (token_hash);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

-- The generated token signing key (when JWT_PRIVATE_KEY_FILE is not given),
-- so every replica sharing this database signs with the same key. name is
-- 'primary'; the first replica to insert wins.
CREATE TABLE signing_keys (
    name        TEXT PRIMARY KEY,
    kid         TEXT NOT NULL,
    private_key BLOB NOT NULL, -- PKCS#8 DER
    created_at  TEXT NOT NULL
);
