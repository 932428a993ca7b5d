-- Files (docs/ARCHITECTURE.md, Files): uploads and their bytes live in this
-- database, so they sit on chat's volume with SQLite, every replica reaches
-- them with PostgreSQL, and copy-db moves them with the rest.
--
-- A file row is written when an upload starts (complete = false) and
-- completed when its last chunk is stored; message_id stays NULL until a
-- send attaches it. Rows never attached (complete or not) are swept after
-- 24 h.
CREATE TABLE files (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id      INTEGER NOT NULL,
    uploader_id  INTEGER NOT NULL,
    message_id   INTEGER,
    name         TEXT    NOT NULL,
    size         INTEGER NOT NULL DEFAULT 0,
    content_type TEXT    NOT NULL DEFAULT '',
    width        INTEGER,
    height       INTEGER,
    thumb_size   INTEGER NOT NULL DEFAULT 0,
    complete     BOOLEAN NOT NULL DEFAULT false,
    created_at   TEXT    NOT NULL
);
CREATE INDEX files_message ON files (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX files_room ON files (room_id);
CREATE INDEX files_unattached ON files (created_at) WHERE message_id IS NULL;

-- The bytes, in chunks of at most 1 MiB, each written in a write of its
-- own: part 0 is the file, part 1 its thumbnail.
CREATE TABLE file_chunks (
    file_id INTEGER NOT NULL,
    part    INTEGER NOT NULL,
    n       INTEGER NOT NULL,
    data    BLOB    NOT NULL,
    PRIMARY KEY (file_id, part, n)
);

-- The key that signs file URLs: made once by the first replica to need it,
-- the same for every replica that shares the database.
CREATE TABLE file_keys (
    id     INTEGER PRIMARY KEY,
    secret BLOB    NOT NULL
);

-- Whether a message carries files, so pages of messages without any (most)
-- load no file rows: history costs what it did before files.
ALTER TABLE messages ADD COLUMN has_files BOOLEAN NOT NULL DEFAULT false;
