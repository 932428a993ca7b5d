-- Pins: a pinned message carries when and by whom it was pinned;
-- pinned_at IS NULL means not pinned. Deleting a message clears them.
-- Columns rather than a table of their own, so every read of a message
-- (history, threads, mentions, search, permalinks) carries them without a
-- join.
ALTER TABLE messages ADD COLUMN pinned_at TEXT;
ALTER TABLE messages ADD COLUMN pinned_by INTEGER;
ALTER TABLE messages ADD COLUMN pinned_by_name TEXT;

-- A room's pins, newest first, and their count (at most 50 a room), are a
-- range of this index.
CREATE INDEX messages_pinned ON messages (room_id, pinned_at) WHERE pinned_at IS NOT NULL;
