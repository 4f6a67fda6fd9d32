-- name: create_link_state
-- Record a link flow just begun: the hashed state, the encrypted PKCE verifier and the choices to continue with.
INSERT INTO link_states (state_hash, installation_id, code_verifier, redirect_uri, actor, choices, created_at)
VALUES (:state_hash, :installation_id, :code_verifier, :redirect_uri, :actor, :choices, :now)

-- name: get_link_state
-- One link state by the hash of its state: unknown (forged), open, or used.
SELECT * FROM link_states WHERE state_hash = :state_hash

-- name: use_link_state
-- Use up an open link state begun at or after :since, once; the row when this caller did.
UPDATE link_states SET used_at = :now
WHERE state_hash = :state_hash AND used_at IS NULL AND created_at >= :since
RETURNING *

-- name: purge_link_states
-- Forget link states begun before a cut-off (long expired, used or not).
DELETE FROM link_states WHERE created_at < :before
