-- name: get_webhook_secrets
-- An installation's webhook secrets (encrypted): e-conomic's URL secret, the collection endpoint's signing secret, each with the one it replaced and when.
SELECT webhook_secret, collection_webhook_secret,
       previous_webhook_secret, webhook_secret_rotated_at,
       previous_collection_webhook_secret, collection_webhook_secret_rotated_at
FROM installations WHERE id = :id

-- name: set_webhook_secret_once
-- Store the e-conomic URL secret (encrypted) unless one is stored already: of two racing writers the first wins.
UPDATE installations SET webhook_secret = :webhook_secret, updated_at = :now
WHERE id = :id AND webhook_secret IS NULL

-- name: rotate_webhook_secret
-- Replace the e-conomic URL secret, keeping the one it replaces; only if it is still :expected (of two racing rotations the first wins).
UPDATE installations
SET webhook_secret = :webhook_secret, previous_webhook_secret = :previous,
    webhook_secret_rotated_at = :now, updated_at = :now
WHERE id = :id AND webhook_secret = :expected

-- name: set_collection_webhook_secret
-- Store the signing secret (encrypted) of the installation's collection webhook endpoint.
UPDATE installations SET collection_webhook_secret = :secret, updated_at = :now WHERE id = :id

-- name: rotate_collection_webhook_secret
-- Replace the collection signing secret, keeping the one it replaces (the platform signs with both for 24 h).
UPDATE installations
SET collection_webhook_secret = :secret, previous_collection_webhook_secret = :previous,
    collection_webhook_secret_rotated_at = :now, updated_at = :now
WHERE id = :id
