-- name: purge_installation_secrets
-- A revoked installation past its retention: its grants and secrets go and it becomes deleted (the row stays).
UPDATE installations SET economic_token = NULL, webhook_secret = NULL,
       collection_access_token = NULL, collection_refresh_token = NULL,
       collection_previous_refresh_token = NULL, status = 'deleted', deleted_at = :now, updated_at = :now
WHERE id = :id AND status = 'revoked'

-- name: purge_claim_documents
-- Claim documents (descriptions, lines) go; amounts, dates and states, the money trail, stay.
UPDATE claims SET document = '{}', updated_at = :now WHERE installation_id = :id

-- name: purge_customers
-- What was kept of the installation's customers goes.
DELETE FROM customers WHERE installation_id = :id

-- name: purge_inbox_bodies
-- Webhook deliveries keep their keys and times, not their content.
UPDATE inbox SET body = NULL, headers = '{}' WHERE installation_id = :id
