-- Bots and personal access tokens (docs/ARCHITECTURE.md, "Personal access
-- tokens and bots"). A bot is an account made by an admin: is_bot set, an
-- empty password_hash (no password ever matches it), and display_name,
-- which user-service copies into the bot's profile.
ALTER TABLE users ADD COLUMN is_bot INTEGER NOT NULL DEFAULT 0 CHECK (is_bot IN (0, 1));
ALTER TABLE users ADD COLUMN display_name TEXT;

-- A personal access token: only the SHA-256 of its 256-bit secret is kept;
-- hint is the start of the token (prefix, id and four characters of the
-- secret) so a list can show which one is which. A revoked token's row is
-- deleted and the revocation feed gets an entry with its token_id.
CREATE TABLE access_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    token_hash   BLOB    NOT NULL,
    hint         TEXT    NOT NULL,
    created_at   TEXT    NOT NULL,
    expires_at   TEXT    NOT NULL,
    last_used_at TEXT
);
CREATE INDEX access_tokens_user ON access_tokens (user_id);
CREATE INDEX access_tokens_expires ON access_tokens (expires_at);

-- A feed entry that ends one personal access token (session "pat-<id>").
ALTER TABLE revocations ADD COLUMN token_id INTEGER;
