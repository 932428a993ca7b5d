-- The revocation feed: the same table as SQLite's 0002_revocations.sql.
CREATE TABLE revocations (
    seq        BIGSERIAL   PRIMARY KEY,
    user_id    BIGINT      NOT NULL,
    family_id  BIGINT,
    role       TEXT,
    disabled   BOOLEAN,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX revocations_created ON revocations (created_at);
