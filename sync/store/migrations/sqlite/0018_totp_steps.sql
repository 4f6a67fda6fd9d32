-- A TOTP code works once: the last 30-second step a person's code was accepted for is kept, and
-- a code for that step or an earlier one is refused (a code seen over a shoulder or in a proxy's
-- log cannot be replayed within its minute and a half of validity).
ALTER TABLE users ADD COLUMN totp_last_step INTEGER;
