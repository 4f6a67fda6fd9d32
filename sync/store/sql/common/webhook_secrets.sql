-- name: get_webhook_secrets
-- An installation's webhook secrets (encrypted): e-conomic's URL secret, the collection endpoint's signing secret.
SELECT webhook_secret, collection_webhook_secret FROM installations WHERE id = :id

-- name: set_webhook_secret_once
-- Store the e-conomic URL secret (encrypted) unless one is stored already: of two racing writers the first wins.
UPDATE installations SET webhook_secret = :webhook_secret, updated_at = :now
WHERE id = :id AND webhook_secret IS NULL

-- name: set_collection_webhook_secret
-- Store the signing secret (encrypted) of the installation's collection webhook endpoint.
UPDATE installations SET collection_webhook_secret = :secret, updated_at = :now WHERE id = :id
