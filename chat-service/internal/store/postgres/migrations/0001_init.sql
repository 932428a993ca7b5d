-- chat-service schema for PostgreSQL: the same tables, columns and
-- constraints as the SQLite 0001_init.sql, in PostgreSQL's types. Times are
-- TIMESTAMPTZ (the store writes millisecond RFC 3339, so values round-trip
-- exactly); ids come from sequences, which never hand out an id twice.

CREATE TABLE rooms (
    id          BIGSERIAL   PRIMARY KEY,           -- never reused: stale clients must not reach a new room
    name        TEXT        NOT NULL,
    description TEXT        NOT NULL DEFAULT '',
    kind        TEXT        NOT NULL CHECK (kind IN ('public', 'private', 'dm')),
    created_by  BIGINT      NOT NULL,              -- 0 for the system (General)
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    archived    BOOLEAN     NOT NULL DEFAULT false,
    last_seq    BIGINT      NOT NULL DEFAULT 0,    -- seq of the newest message; bumped (row-locked) in the insert's transaction
    is_default  BOOLEAN     NOT NULL DEFAULT false,
    dm_key      TEXT UNIQUE                        -- "lowid:highid" for DMs, NULL otherwise
);

-- Public room names are unique regardless of case; private names may repeat
-- (a conflict would reveal that a private room exists).
CREATE UNIQUE INDEX rooms_public_name ON rooms (lower(name)) WHERE kind = 'public';

CREATE TABLE members (
    room_id       BIGINT      NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id       BIGINT      NOT NULL,
    username      TEXT        NOT NULL DEFAULT '',
    role          TEXT        NOT NULL CHECK (role IN ('owner', 'member')),
    last_read_seq BIGINT      NOT NULL DEFAULT 0,
    joined_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (room_id, user_id)
);

CREATE INDEX members_user ON members (user_id, room_id);

-- search is the body's words for full-text search, kept by PostgreSQL
-- itself ('simple': lower-cased and unstemmed, like FTS5's unicode61).
CREATE TABLE messages (
    id            BIGSERIAL   PRIMARY KEY,
    room_id       BIGINT      NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    seq           BIGINT      NOT NULL,
    user_id       BIGINT      NOT NULL,
    username      TEXT        NOT NULL,
    body          TEXT        NOT NULL,
    client_msg_id TEXT,                             -- NULL when the client sent none
    created_at    TIMESTAMPTZ NOT NULL,
    edited_at     TIMESTAMPTZ,
    deleted       BOOLEAN     NOT NULL DEFAULT false,
    search        TSVECTOR    GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED,
    UNIQUE (room_id, seq),
    UNIQUE (user_id, client_msg_id)
);

CREATE INDEX messages_user ON messages (user_id, id);
CREATE INDEX messages_search ON messages USING GIN (search);

CREATE TABLE reactions (
    id         BIGSERIAL   PRIMARY KEY,
    message_id BIGINT      NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    BIGINT      NOT NULL,
    emoji      TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (message_id, user_id, emoji)
);

CREATE INDEX reactions_message ON reactions (message_id, id);

-- Users chat-service has seen in a token, so invites and DMs by id can show
-- a name. auth-service owns users; this is a cache of names.
CREATE TABLE users (
    id            BIGINT      PRIMARY KEY,
    username      TEXT        NOT NULL,
    first_seen_at TIMESTAMPTZ NOT NULL,
    last_seen_at  TIMESTAMPTZ NOT NULL
);

-- The last word of a search matches as a prefix (search-as-you-type): q is
-- split into lexemes as plainto_tsquery does (so "foo-ba" or "example.co"
-- are taken apart the way bodies are) and each lexeme gets :*.
CREATE FUNCTION chat_prefix_tsquery(q TEXT) RETURNS TSQUERY
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT to_tsquery('simple', regexp_replace(plainto_tsquery('simple', q)::text, '(''(?:[^'']|'''')*'')', '\1:*', 'g'))
$$;

INSERT INTO rooms (name, description, kind, created_by, created_at, updated_at, is_default)
VALUES ('General', 'Everyone, everything: the room every user joins first.', 'public', 0,
        date_trunc('milliseconds', now()), date_trunc('milliseconds', now()), true);
