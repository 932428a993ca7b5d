-- The revocation feed (docs/ARCHITECTURE.md, Contract: Revocation): one row
-- per ended session (family_id set) or changed account (family_id NULL,
-- role and disabled as they are after the change), written in the same
-- transaction as the change. Every service reads the rows after the last seq
-- it applied; rows older than the access token lifetime are pruned, since
-- every token they could refuse has expired.
CREATE TABLE revocations (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL,
    family_id  INTEGER,
    role       TEXT,
    disabled   INTEGER CHECK (disabled IN (0, 1)),
    created_at TEXT    NOT NULL
);
CREATE INDEX revocations_created ON revocations (created_at);
