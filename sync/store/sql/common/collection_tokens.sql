-- name: load_collection_tokens
-- One installation's collection grant (encrypted tokens), the in-flight refresh and the link state.
SELECT collection_state, collection_account_id, collection_access_token, collection_refresh_token,
       collection_previous_refresh_token, collection_token_expires_at
FROM installations WHERE id = :id

-- name: save_collection_tokens
-- Store a new collection token pair (encrypted), clear the in-flight refresh and mark the link ok.
UPDATE installations
SET collection_access_token = :access_token, collection_refresh_token = :refresh_token,
    collection_previous_refresh_token = NULL, collection_token_expires_at = :expires_at,
    collection_tokens_rotated_at = :now, collection_state = 'ok', updated_at = :now,
    collection_account_id = COALESCE(CAST(:account_id AS TEXT), collection_account_id)
WHERE id = :id

-- name: mark_collection_refreshing
-- Record (encrypted) the refresh token about to be presented, before presenting it: crash recovery.
UPDATE installations SET collection_previous_refresh_token = :refresh_token, updated_at = :now
WHERE id = :id

-- name: mark_collection_lost
-- The collection platform no longer accepts the grant: the link is lost until a person relinks.
UPDATE installations SET collection_state = 'lost', updated_at = :now WHERE id = :id

-- name: forget_collection_grant
-- The grant was revoked on disconnect: drop its tokens and mark the link none (the account id is kept).
UPDATE installations
SET collection_access_token = NULL, collection_refresh_token = NULL,
    collection_previous_refresh_token = NULL, collection_token_expires_at = NULL,
    collection_state = 'none', updated_at = :now
WHERE id = :id
