-- name: get_credentials
-- What signs a user in: the password hash and the encrypted TOTP key (both may be NULL).
SELECT id AS user_id, password_hash, totp_secret, totp_last_step FROM users WHERE id = :user_id

-- name: set_password_hash
-- Replace a user's password hash.
UPDATE users SET password_hash = :password_hash WHERE id = :user_id

-- name: set_totp_secret
-- Turn the second factor on (an encrypted key) or off (NULL); the steps used start afresh.
UPDATE users SET totp_secret = :totp_secret, totp_last_step = NULL WHERE id = :user_id

-- name: use_totp_step
-- Record the step a code was accepted for, only if it is later than the last one (once).
UPDATE users SET totp_last_step = :step
WHERE id = :user_id AND (totp_last_step IS NULL OR totp_last_step < :step)

-- name: set_user_language
-- The language a user reads pages and notices in.
UPDATE users SET language = :language WHERE id = :user_id

-- name: set_user_name
-- A user's display name.
UPDATE users SET name = :name WHERE id = :user_id

-- name: delete_sessions_of_user
-- End every session of a user (a password reset, a removed account).
DELETE FROM sessions WHERE user_id = :user_id

-- name: record_login_failure
-- A failed sign-in attempt for a subject (an e-mail or a client address).
INSERT INTO login_failures (subject, at) VALUES (:subject, :at)

-- name: count_login_failures
-- Failed attempts for a subject since a moment.
SELECT COUNT(*) AS failures FROM login_failures WHERE subject = :subject AND at >= :since

-- name: clear_login_failures
-- Forget a subject's failures (after a successful sign-in).
DELETE FROM login_failures WHERE subject = :subject

-- name: purge_login_failures
-- Forget failures older than a cut-off.
DELETE FROM login_failures WHERE at < :before

-- name: create_invitation
-- An invitation by link to join a company with a role (the link token's hash only).
INSERT INTO invitations (token_hash, installation_id, email, role, invited_by, created_at, expires_at)
VALUES (:token_hash, :installation_id, :email, :role, :invited_by, :now, :expires_at)
RETURNING id

-- name: find_invitation
-- An invitation by its link token's hash, with the company's agreement, while open.
SELECT i.id, i.installation_id, i.email, i.role, i.created_at, i.expires_at,
       n.agreement_number, n.company_name
FROM invitations i JOIN installations n ON n.id = i.installation_id
WHERE i.token_hash = :token_hash AND i.accepted_at IS NULL AND i.expires_at > :now

-- name: accept_invitation
-- Use an invitation up (once).
UPDATE invitations SET accepted_at = :now WHERE id = :id AND accepted_at IS NULL

-- name: open_invitations
-- A company's invitations not yet accepted and not expired, newest first.
SELECT id, installation_id, email, role, created_at, expires_at FROM invitations
WHERE installation_id = :installation_id AND accepted_at IS NULL AND expires_at > :now
ORDER BY id DESC

-- name: cancel_invitation
-- Withdraw an open invitation of a company.
DELETE FROM invitations WHERE id = :id AND installation_id = :installation_id AND accepted_at IS NULL

-- name: create_password_reset
-- A password reset link for a user (its token's hash only).
INSERT INTO password_resets (token_hash, user_id, created_at, expires_at)
VALUES (:token_hash, :user_id, :now, :expires_at)

-- name: use_password_reset
-- Use a reset link up, once, while it has not expired; its user.
UPDATE password_resets SET used_at = :now
WHERE token_hash = :token_hash AND used_at IS NULL AND expires_at > :now
RETURNING user_id

-- name: find_password_reset
-- An open reset link's user.
SELECT user_id FROM password_resets
WHERE token_hash = :token_hash AND used_at IS NULL AND expires_at > :now

-- name: set_membership_role
-- Change a member's role (no row changed: not a member).
UPDATE memberships SET role = :role WHERE user_id = :user_id AND installation_id = :installation_id

-- name: remove_membership
-- Remove a member from a company.
DELETE FROM memberships WHERE user_id = :user_id AND installation_id = :installation_id

-- name: count_admins
-- How many admins a company has.
SELECT COUNT(*) AS admins FROM memberships WHERE installation_id = :installation_id AND role = 'admin'

-- name: lock_admins
-- Lock a company's admin memberships to the end of the transaction (a no-op update, on both engines), so that concurrent demotions or removals cannot leave it without an admin.
UPDATE memberships SET role = role WHERE installation_id = :installation_id AND role = 'admin'

-- name: count_memberships_of_user
-- How many companies a user is a member of.
SELECT COUNT(*) AS companies FROM memberships WHERE user_id = :user_id

-- name: cancel_invitations_of_email
-- Withdraw a company's open invitations of one e-mail (its member was removed).
DELETE FROM invitations WHERE installation_id = :installation_id AND email = :email AND accepted_at IS NULL
