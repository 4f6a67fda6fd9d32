-- name: create_api_token
-- Record a new personal API token of a user by its hash (the token itself is never stored).
INSERT INTO api_tokens (user_id, token_hash, name, created_at) VALUES (:user_id, :token_hash, :name, :now)
RETURNING id

-- name: find_api_token
-- The token with this hash, with its owner.
SELECT t.id, t.user_id, t.name, t.created_at, t.last_used_at,
       u.email AS user_email, u.name AS user_name, u.created_at AS user_created_at
FROM api_tokens t JOIN users u ON u.id = t.user_id
WHERE t.token_hash = :token_hash

-- name: touch_api_token
-- Note that a token was used, at most once per :stale_before window (so a busy script is not one write a call).
UPDATE api_tokens SET last_used_at = :now
WHERE id = :id AND (last_used_at IS NULL OR last_used_at < :stale_before)

-- name: list_api_tokens_of_user
-- A user's personal API tokens (never the tokens themselves), newest first.
SELECT id, name, created_at, last_used_at FROM api_tokens WHERE user_id = :user_id
ORDER BY id DESC

-- name: api_token_owner
-- Who owns a token.
SELECT user_id FROM api_tokens WHERE id = :id

-- name: admin_over
-- Whether :admin_id is an admin of a company :user_id is a member of.
SELECT 1 AS yes FROM memberships a JOIN memberships m ON m.installation_id = a.installation_id
WHERE a.user_id = :admin_id AND a.role = 'admin' AND m.user_id = :user_id LIMIT 1

-- name: delete_api_token
-- Revoke a token: it is deleted, so it authenticates nothing from now on.
DELETE FROM api_tokens WHERE id = :id
