-- Accounts of the settings pages (issue 13, item 1): a password (argon2id hash, never the
-- password), an optional TOTP second factor (its key encrypted like every other secret), the
-- language the person reads the pages and notices in; sessions that still wait for the second
-- factor; invitations and password resets by an expiring link (only the link token's SHA-256
-- is kept); failed sign-ins, counted per e-mail and per client address to slow guessing down.
ALTER TABLE users ADD COLUMN password_hash TEXT;
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN language TEXT;
ALTER TABLE sessions ADD COLUMN verified BOOLEAN NOT NULL DEFAULT TRUE;

CREATE TABLE invitations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT NOT NULL UNIQUE,
    installation_id INTEGER NOT NULL REFERENCES installations(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('guest', 'caseworker', 'admin')),
    invited_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    accepted_at TIMESTAMPTZ
);
CREATE INDEX invitations_by_installation ON invitations (installation_id, created_at);

CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ
);

CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subject TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL
);
CREATE INDEX login_failures_by_subject ON login_failures (subject, at);
