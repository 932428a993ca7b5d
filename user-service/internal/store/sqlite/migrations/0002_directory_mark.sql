-- The highest auth-service account id whose profile user-service has
-- created from auth-service's account list (docs/ARCHITECTURE.md,
-- user-service: every account is in the directory). One row, written on the
-- first catch-up.
CREATE TABLE directory_mark (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    account_id INTEGER NOT NULL
);
