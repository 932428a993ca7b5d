-- The same column as SQLite's 0003_password_generated.sql.
ALTER TABLE users ADD COLUMN password_generated BOOLEAN NOT NULL DEFAULT false;
