-- Files (docs/ARCHITECTURE.md, Files); the same tables as SQLite's 0005.
CREATE TABLE files (
    id           BIGSERIAL   PRIMARY KEY,
    room_id      BIGINT      NOT NULL,
    uploader_id  BIGINT      NOT NULL,
    message_id   BIGINT,
    name         TEXT        NOT NULL,
    size         BIGINT      NOT NULL DEFAULT 0,
    content_type TEXT        NOT NULL DEFAULT '',
    width        INTEGER,
    height       INTEGER,
    thumb_size   BIGINT      NOT NULL DEFAULT 0,
    complete     BOOLEAN     NOT NULL DEFAULT false,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX files_message ON files (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX files_room ON files (room_id);
CREATE INDEX files_unattached ON files (created_at) WHERE message_id IS NULL;

-- The bytes, in chunks of at most 1 MiB: part 0 is the file, part 1 its
-- thumbnail.
CREATE TABLE file_chunks (
    file_id BIGINT  NOT NULL,
    part    INTEGER NOT NULL,
    n       INTEGER NOT NULL,
    data    BYTEA   NOT NULL,
    PRIMARY KEY (file_id, part, n)
);

-- The key that signs file URLs, shared by every replica.
CREATE TABLE file_keys (
    id     INTEGER PRIMARY KEY,
    secret BYTEA   NOT NULL
);

-- Whether a message carries files, so pages of messages without any (most)
-- load no file rows: history costs what it did before files.
ALTER TABLE messages ADD COLUMN has_files BOOLEAN NOT NULL DEFAULT false;
