-- Public room names are unique by their fold key (platform/text FoldKey:
-- full Unicode case folding and compatibility forms, computed by
-- chat-service), no longer by lower(name): SQLite's lower() folds ASCII
-- only and PostgreSQL's depends on the database's locale, so "ÄRGER" and
-- "ärger", or "Straße" and "STRASSE", could both be public.
--
-- Existing rows get lower(name) here, which the old index kept unique among
-- public rooms, so this migration cannot fail on existing data. chat-service
-- then recomputes every public room's key with FoldKey when it starts
-- (sqlstore.RefoldRoomNames), as it does whenever the folding rules change.
-- Existing public rooms whose names fold together (possible only with
-- letters lower() left alone) are all kept, names unchanged: the oldest
-- holds the key, each later one gets key || U+0001 || id, which no new name
-- can produce (names refuse control characters), and chat-service logs a
-- warning naming them so that an admin can rename one.
ALTER TABLE rooms ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
UPDATE rooms SET name_key = lower(name);
DROP INDEX rooms_public_name;
CREATE UNIQUE INDEX rooms_public_name_key ON rooms (name_key) WHERE kind = 'public';
