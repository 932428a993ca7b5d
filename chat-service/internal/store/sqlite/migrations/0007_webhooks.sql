-- Incoming webhooks (docs/ARCHITECTURE.md, chat-service: Incoming
-- webhooks). A webhook belongs to one room and goes with it. Its token is
-- never stored: token_hash is the lower-case hex SHA-256 of it, looked up
-- by equality through the unique index, so a copy of the database holds
-- no live URL.
CREATE TABLE webhooks (
    id               INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused
    room_id          INTEGER NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    name             TEXT    NOT NULL,
    token_hash       TEXT    NOT NULL UNIQUE,
    created_by       INTEGER NOT NULL,
    created_by_name  TEXT    NOT NULL DEFAULT '',
    created_at       TEXT    NOT NULL
);

CREATE INDEX webhooks_room ON webhooks (room_id, id);

-- A message a webhook posted names it (its id and name when it posted);
-- user_id is 0 for those, the id the schema already gives the system:
-- no person wrote them. The webhook may be deleted later; its messages stay.
ALTER TABLE messages ADD COLUMN webhook_id INTEGER;
ALTER TABLE messages ADD COLUMN webhook_name TEXT;
