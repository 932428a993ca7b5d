-- chat-service schema. Times are UTC RFC 3339 text with milliseconds
-- ("2006-01-02T15:04:05.000Z"), which sorts as text.

CREATE TABLE rooms (
    id          INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: stale clients must not reach a new room
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    kind        TEXT    NOT NULL CHECK (kind IN ('public', 'private', 'dm')),
    created_by  INTEGER NOT NULL,                  -- 0 for the system (General)
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    archived    INTEGER NOT NULL DEFAULT 0,
    last_seq    INTEGER NOT NULL DEFAULT 0,        -- seq of the newest message; bumped in the insert's transaction
    is_default  INTEGER NOT NULL DEFAULT 0,
    dm_key      TEXT UNIQUE                        -- "lowid:highid" for DMs, NULL otherwise
);

-- Public room names are unique regardless of case; private names may repeat
-- (a conflict would reveal that a private room exists).
CREATE UNIQUE INDEX rooms_public_name ON rooms (lower(name)) WHERE kind = 'public';

CREATE TABLE members (
    room_id       INTEGER NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id       INTEGER NOT NULL,
    username      TEXT    NOT NULL DEFAULT '',
    role          TEXT    NOT NULL CHECK (role IN ('owner', 'member')),
    last_read_seq INTEGER NOT NULL DEFAULT 0,
    joined_at     TEXT    NOT NULL,
    PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;

CREATE INDEX members_user ON members (user_id, room_id);

CREATE TABLE messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id       INTEGER NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    user_id       INTEGER NOT NULL,
    username      TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    client_msg_id TEXT,                             -- NULL when the client sent none
    created_at    TEXT    NOT NULL,
    edited_at     TEXT,
    deleted       INTEGER NOT NULL DEFAULT 0,
    UNIQUE (room_id, seq),
    UNIQUE (user_id, client_msg_id)
);

CREATE INDEX messages_user ON messages (user_id, id);

CREATE TABLE reactions (
    id         INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL,
    emoji      TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    UNIQUE (message_id, user_id, emoji)
);

CREATE INDEX reactions_message ON reactions (message_id, id);

-- Users chat-service has seen in a token, so invites and DMs by id can show
-- a name. auth-service owns users; this is a cache of names.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL,
    first_seen_at TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL
);

-- Full-text search over message bodies, kept in sync by triggers.
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    body,
    content = 'messages',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;

CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
END;

INSERT INTO rooms (name, description, kind, created_by, created_at, updated_at, is_default)
VALUES ('General', 'Everyone, everything: the room every user joins first.', 'public', 0,
        strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 1);
