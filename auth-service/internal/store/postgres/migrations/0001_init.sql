-- auth-service schema for PostgreSQL: the same tables, columns and
-- constraints as the SQLite 0001_init.sql, in PostgreSQL's types. Times are
-- TIMESTAMPTZ (the store writes microsecond RFC 3339, so values round-trip
-- exactly); ids come from sequences, which never hand out an id twice.

-- Accounts. username_key is the lowercased username: its UNIQUE index makes
-- usernames unique case-insensitively, and settles races between replicas.
CREATE TABLE users (
    id            BIGSERIAL   PRIMARY KEY,
    username      TEXT        NOT NULL,
    username_key  TEXT        NOT NULL,
    email         TEXT,
    password_hash TEXT        NOT NULL,
    role          TEXT        NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    disabled      BOOLEAN     NOT NULL DEFAULT false,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX users_username_key ON users (username_key);

-- A family is one login: its refresh tokens replace each other on every
-- refresh. Revoking the family ends the login on every copy of its tokens.
CREATE TABLE refresh_families (
    id            BIGSERIAL   PRIMARY KEY,
    user_id       BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    TIMESTAMPTZ NOT NULL,
    revoked_at    TIMESTAMPTZ,
    revoke_reason TEXT
);
CREATE INDEX refresh_families_user ON refresh_families (user_id);

-- Only the SHA-256 of a refresh token is stored. used_at is set when the
-- token is rotated; seeing it again afterwards is reuse.
CREATE TABLE refresh_tokens (
    id         BIGSERIAL   PRIMARY KEY,
    family_id  BIGINT      NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
    token_hash BYTEA       NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE UNIQUE INDEX refresh_tokens_hash ON refresh_tokens (token_hash);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

-- The generated token signing key (when JWT_PRIVATE_KEY_FILE is not given),
-- so every replica sharing this database signs with the same key. name is
-- 'primary'; the first replica to insert wins.
CREATE TABLE signing_keys (
    name        TEXT        PRIMARY KEY,
    kid         TEXT        NOT NULL,
    private_key BYTEA       NOT NULL, -- PKCS#8 DER
    created_at  TIMESTAMPTZ NOT NULL
);
