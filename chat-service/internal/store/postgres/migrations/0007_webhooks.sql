-- Incoming webhooks; the same changes as SQLite's 0007. The token is never
-- stored: token_hash is the lower-case hex SHA-256 of it.
CREATE TABLE webhooks (
    id               BIGSERIAL   PRIMARY KEY,
    room_id          BIGINT      NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    name             TEXT        NOT NULL,
    token_hash       TEXT        NOT NULL UNIQUE,
    created_by       BIGINT      NOT NULL,
    created_by_name  TEXT        NOT NULL DEFAULT '',
    created_at       TIMESTAMPTZ NOT NULL
);

CREATE INDEX webhooks_room ON webhooks (room_id, id);

-- A message a webhook posted names it; user_id is 0 for those (no person
-- wrote them).
ALTER TABLE messages ADD COLUMN webhook_id BIGINT;
ALTER TABLE messages ADD COLUMN webhook_name TEXT;
