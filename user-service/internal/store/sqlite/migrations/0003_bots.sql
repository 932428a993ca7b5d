-- is_bot marks the profile of a bot account (auth-service's accounts say
-- so; so does a bot's own personal access token): the web client shows a
-- BOT tag beside its name. An account never stops being a bot.
ALTER TABLE profiles ADD COLUMN is_bot INTEGER NOT NULL DEFAULT 0 CHECK (is_bot IN (0, 1));
