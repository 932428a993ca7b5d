-- Threads, mentions and group DMs (docs/ARCHITECTURE.md, chat-service: Threads, Mentions, Group DMs); the same changes as
-- SQLite's 0004.

-- Group DMs: rooms.kind gains 'group'. A group's member set is its key, as
-- a DM's pair is: rooms.dm_key holds "g:" and the sorted member ids joined
-- by commas.
ALTER TABLE rooms DROP CONSTRAINT rooms_kind_check;
ALTER TABLE rooms ADD CONSTRAINT rooms_kind_check CHECK (kind IN ('public', 'private', 'dm', 'group'));

-- Threads: a reply names its top-level root (thread_root_id); a root counts
-- its replies and remembers the newest one's time, both updated in the
-- reply's transaction.
ALTER TABLE messages ADD COLUMN thread_root_id BIGINT;
ALTER TABLE messages ADD COLUMN reply_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN last_reply_at TIMESTAMPTZ;

-- A thread page is a range of this index.
CREATE INDEX messages_thread ON messages (thread_root_id, seq) WHERE thread_root_id IS NOT NULL;

-- Who follows which thread (the root's author and every replier), and how
-- far they have read it (a room seq).
CREATE TABLE thread_follows (
    user_id       BIGINT      NOT NULL,
    root_id       BIGINT      NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    room_id       BIGINT      NOT NULL,
    last_read_seq BIGINT      NOT NULL DEFAULT 0,
    followed_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, root_id)
);

CREATE INDEX thread_follows_root ON thread_follows (root_id);

-- Mentions: the users a message names (@username, resolved at send among
-- those who may read the room) as a comma list of ids, and whether it
-- names the room (@room, @here).
ALTER TABLE messages ADD COLUMN mentions TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN mentions_room BOOLEAN NOT NULL DEFAULT false;

-- One row per mentioned user (the sender aside): GET /mentions and the
-- rooms' mention_count read it.
CREATE TABLE mentions (
    user_id    BIGINT NOT NULL,
    message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    room_id    BIGINT NOT NULL,
    seq        BIGINT NOT NULL,
    PRIMARY KEY (user_id, message_id)
);

CREATE INDEX mentions_room_user ON mentions (room_id, user_id, seq);
CREATE INDEX mentions_message ON mentions (message_id);
CREATE INDEX messages_mentions_room ON messages (room_id, seq) WHERE mentions_room;

-- @username resolves case-insensitively (usernames are ASCII).
CREATE INDEX users_username ON users (lower(username));
