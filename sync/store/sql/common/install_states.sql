-- name: create_install_state
-- Record the nonce of an install just begun (its signed cookie goes to the browser).
-- linking_user_id: the signed-in person who asked for it with "add a client company" (or NULL).
INSERT INTO install_states (nonce, created_at, linking_user_id) VALUES (:nonce, :now, :linking_user_id)

-- name: get_install_state
-- One install state by nonce: unknown (foreign), open, or used.
SELECT * FROM install_states WHERE nonce = :nonce

-- name: use_install_state
-- Mark an open install state used, once; an unknown, used or too old nonce changes nothing.
UPDATE install_states SET used_at = :now
WHERE nonce = :nonce AND used_at IS NULL AND created_at >= :since

-- name: purge_install_states
-- Forget install states begun before a cut-off (long expired, used or not).
DELETE FROM install_states WHERE created_at < :before
