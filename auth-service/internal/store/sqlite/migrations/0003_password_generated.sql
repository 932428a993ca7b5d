-- password_generated is set on the first admin when auth-service generated
-- its password (ADMIN_PASSWORD unset) and cleared when the user chooses a
-- password (POST /password): while set, GET /me says must_change_password
-- and the web client asks for a new one.
ALTER TABLE users ADD COLUMN password_generated INTEGER NOT NULL DEFAULT 0 CHECK (password_generated IN (0, 1));
