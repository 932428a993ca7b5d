-- The admin page's usage figures (GET /admin/usage).
--
-- daily_active holds who was active on each UTC day: a user who sent a
-- message or opened an authenticated WebSocket that day. Each replica
-- writes a user at most once a day (it remembers whom it wrote), off the
-- request's path; the primary key makes the write idempotent across
-- replicas. Rows older than 90 days are pruned by chat-service.
CREATE TABLE daily_active (
    day     TEXT    NOT NULL,                   -- "YYYY-MM-DD", UTC
    user_id INTEGER NOT NULL,
    PRIMARY KEY (day, user_id)
) WITHOUT ROWID;

-- Messages per UTC day over the last 30 days: a range of this index,
-- counted without reading the table (created_at is RFC 3339 text, which
-- sorts as time; its first ten characters are the day).
CREATE INDEX messages_created ON messages (created_at);
