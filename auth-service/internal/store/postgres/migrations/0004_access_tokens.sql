-- The same change as SQLite's 0004_access_tokens.sql.
ALTER TABLE users ADD COLUMN is_bot BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN display_name TEXT;

CREATE TABLE access_tokens (
    id           BIGSERIAL   PRIMARY KEY,
    user_id      BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT        NOT NULL,
    token_hash   BYTEA       NOT NULL,
    hint         TEXT        NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ
);
CREATE INDEX access_tokens_user ON access_tokens (user_id);
CREATE INDEX access_tokens_expires ON access_tokens (expires_at);

ALTER TABLE revocations ADD COLUMN token_id BIGINT;
