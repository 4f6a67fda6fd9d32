-- Notices (issue 13, item 4): what a company's people should act on, kept per installation for
-- the dashboard (unread until someone marks them read) and mailed to its admins when
-- COLLECTBRIDGE_SMTP_URL is set. `kind` is `digest` for now: the new open problems and newly
-- announced handovers the `notices.send` job gathered, listed in `items` (the dashboard shows
-- them in the reader's language). `mail_state`: `pending` (to be mailed, or tried again),
-- `sent`, `failed` (given up after `mail_attempts` tries), `none` (no SMTP configured, or no
-- admin to mail). A problem is noticed once while it is open (`problems.noticed_at`), an
-- announced handover once per announcement (`claims.noticed_on` = the `announced_on` it was
-- noticed for): the same one is never mailed twice.
CREATE TABLE notices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    installation_id INTEGER NOT NULL REFERENCES installations(id) ON DELETE CASCADE,
    kind TEXT NOT NULL DEFAULT 'digest',
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    items JSON NOT NULL DEFAULT '[]',
    mail_state TEXT NOT NULL DEFAULT 'none' CHECK (mail_state IN ('none', 'pending', 'sent', 'failed')),
    mail_attempts INTEGER NOT NULL DEFAULT 0,
    recipients INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL,
    mailed_at TIMESTAMPTZ,
    read_at TIMESTAMPTZ,
    read_by TEXT
);
CREATE INDEX notices_unread ON notices (installation_id, id) WHERE read_at IS NULL;
CREATE INDEX notices_to_mail ON notices (id) WHERE mail_state = 'pending';
ALTER TABLE problems ADD COLUMN noticed_at TIMESTAMPTZ;
ALTER TABLE claims ADD COLUMN noticed_on DATE;
