-- name: create_session
-- Start a server-side session (the browser holds the token, we keep only its hash).
-- verified is false while the session waits for the second factor.
INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at, verified)
VALUES (:token_hash, :user_id, :csrf_token, :now, :expires_at, :verified)

-- name: get_session
-- A session by token hash, only while it has not expired.
SELECT * FROM sessions WHERE token_hash = :token_hash AND expires_at > :now

-- name: delete_session
-- End a session (sign-out, or the old session replaced at sign-in).
DELETE FROM sessions WHERE token_hash = :token_hash

-- name: purge_sessions
-- Forget sessions that expired before a cut-off.
DELETE FROM sessions WHERE expires_at < :before
