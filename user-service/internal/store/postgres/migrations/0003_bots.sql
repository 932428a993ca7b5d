-- The same column as SQLite's 0003_bots.sql.
ALTER TABLE profiles ADD COLUMN is_bot BOOLEAN NOT NULL DEFAULT false;
