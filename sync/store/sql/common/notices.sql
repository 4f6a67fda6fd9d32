-- name: take_new_problems
-- An installation's open problems not noticed yet, marked noticed now (each is noticed once while open).
UPDATE problems SET noticed_at = :now
WHERE installation_id = :installation_id AND resolved_at IS NULL AND noticed_at IS NULL
RETURNING id, category, code, subject, message

-- name: take_new_announcements
-- An installation's handovers announced in a veto window and not noticed for this announcement, marked noticed.
UPDATE claims SET noticed_on = announced_on
WHERE installation_id = :installation_id AND state = 'scheduled' AND announced_on IS NOT NULL
  AND handover_on IS NOT NULL AND (noticed_on IS NULL OR noticed_on <> announced_on)
RETURNING invoice_number, customer_number, currency, remaining, handover_on

-- name: add_notice
-- Keep one notice of an installation (unread; pending when it is to be mailed).
INSERT INTO notices (installation_id, kind, subject, body, items, mail_state, created_at)
VALUES (:installation_id, :kind, :subject, :body, :items, :mail_state, :now)
RETURNING *

-- name: unread_notices
-- An installation's unread notices, newest first.
SELECT * FROM notices WHERE installation_id = :installation_id AND read_at IS NULL
ORDER BY id DESC LIMIT :limit

-- name: get_notice
-- One notice of an installation.
SELECT * FROM notices WHERE id = :id AND installation_id = :installation_id

-- name: mark_notice_read
-- Someone of the company read a notice (it leaves the dashboard's unread list).
UPDATE notices SET read_at = :now, read_by = :read_by
WHERE id = :id AND installation_id = :installation_id AND read_at IS NULL

-- name: notices_to_mail
-- Notices waiting to be mailed (new, or a send that failed and is tried again), oldest first.
SELECT * FROM notices WHERE mail_state = 'pending' ORDER BY id LIMIT :limit

-- name: notice_mail_tried
-- The outcome of one try at mailing a notice: sent, pending (tried again later) or failed (given up).
UPDATE notices SET mail_state = :mail_state, mail_attempts = mail_attempts + 1,
       recipients = :recipients, mailed_at = CASE WHEN :mail_state = 'sent' THEN :now ELSE mailed_at END
WHERE id = :id AND mail_state = 'pending'

-- name: notice_recipients
-- The admins of an installation, who get its notices by e-mail, with the language they chose.
SELECT u.email, u.language FROM memberships m JOIN users u ON u.id = m.user_id
WHERE m.installation_id = :installation_id AND m.role = 'admin'
ORDER BY u.id
