-- The admin page's usage figures (GET /admin/usage), as the SQLite
-- 0003_admin_usage.sql.
--
-- daily_active holds who was active on each UTC day: a user who sent a
-- message or opened an authenticated WebSocket that day. Each replica
-- writes a user at most once a day (it remembers whom it wrote), off the
-- request's path; the primary key makes the write idempotent across
-- replicas. Rows older than 90 days are pruned by chat-service. day is
-- TEXT ("YYYY-MM-DD", UTC) as on SQLite, so both dialects share the SQL.
CREATE TABLE daily_active (
    day     TEXT   NOT NULL,
    user_id BIGINT NOT NULL,
    PRIMARY KEY (day, user_id)
);

-- Messages per UTC day over the last 30 days: a range of this index
-- (an index-only scan once the table is vacuumed).
CREATE INDEX messages_created ON messages (created_at);
