-- Threads, mentions and group DMs (docs/ARCHITECTURE.md, chat-service: Threads, Mentions, Group DMs).
--
-- Group DMs: rooms.kind gains 'group'. SQLite cannot alter a CHECK
-- constraint, and the usual rebuild of rooms (create, copy, drop, rename)
-- is not possible here: migrations run in a transaction with foreign keys
-- on, where dropping rooms would cascade into members and messages. So the
-- constraint's text is widened in place, SQLite's documented procedure for
-- changing CHECK constraints (https://sqlite.org/lang_altertable.html,
-- "making other kinds of table schema changes"): every existing row passes
-- the wider check, and the on-disk format does not change. RESET reloads
-- this connection's schema; the DDL below bumps the schema cookie, so every
-- other connection reloads it too.
PRAGMA writable_schema = ON;
UPDATE sqlite_master
SET sql = replace(sql, 'CHECK (kind IN (''public'', ''private'', ''dm''))', 'CHECK (kind IN (''public'', ''private'', ''dm'', ''group''))')
WHERE type = 'table' AND name = 'rooms';
PRAGMA writable_schema = RESET;

-- A group's member set is its key, as a DM's pair is: rooms.dm_key holds
-- "g:" and the sorted member ids joined by commas.

-- Threads: a reply names its top-level root (thread_root_id); a root counts
-- its replies and remembers the newest one's time, both updated in the
-- reply's transaction.
ALTER TABLE messages ADD COLUMN thread_root_id INTEGER;
ALTER TABLE messages ADD COLUMN reply_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN last_reply_at TEXT;

-- A thread page is a range of this index.
CREATE INDEX messages_thread ON messages (thread_root_id, seq) WHERE thread_root_id IS NOT NULL;

-- Who follows which thread (the root's author and every replier), and how
-- far they have read it (a room seq).
CREATE TABLE thread_follows (
    user_id       INTEGER NOT NULL,
    root_id       INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    room_id       INTEGER NOT NULL,
    last_read_seq INTEGER NOT NULL DEFAULT 0,
    followed_at   TEXT    NOT NULL,
    PRIMARY KEY (user_id, root_id)
) WITHOUT ROWID;

CREATE INDEX thread_follows_root ON thread_follows (root_id);

-- Mentions: the users a message names (@username, resolved at send among
-- those who may read the room) as a comma list of ids, and whether it
-- names the room (@room, @here).
ALTER TABLE messages ADD COLUMN mentions TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN mentions_room INTEGER NOT NULL DEFAULT 0;

-- One row per mentioned user (the sender aside): GET /mentions and the
-- rooms' mention_count read it.
CREATE TABLE mentions (
    user_id    INTEGER NOT NULL,
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    room_id    INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    PRIMARY KEY (user_id, message_id)
) WITHOUT ROWID;

CREATE INDEX mentions_room_user ON mentions (room_id, user_id, seq);
CREATE INDEX mentions_message ON mentions (message_id);
CREATE INDEX messages_mentions_room ON messages (room_id, seq) WHERE mentions_room;

-- @username resolves case-insensitively (usernames are ASCII).
CREATE INDEX users_username ON users (lower(username));
