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
