-- Pins; the same changes as SQLite's 0006: pinned_at IS NULL means not
-- pinned, and deleting a message clears the three columns.
ALTER TABLE messages ADD COLUMN pinned_at TIMESTAMPTZ;
ALTER TABLE messages ADD COLUMN pinned_by BIGINT;
ALTER TABLE messages ADD COLUMN pinned_by_name TEXT;

-- A room's pins, newest first, and their count (at most 50 a room), are a
-- range of this index.
CREATE INDEX messages_pinned ON messages (room_id, pinned_at) WHERE pinned_at IS NOT NULL;
