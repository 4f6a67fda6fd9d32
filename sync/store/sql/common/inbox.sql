-- name: insert_inbox_entry
-- Store one webhook delivery unless a delivery of its dedupe key is stored already (a duplicate: no row back).
INSERT INTO inbox (source, installation_id, dedupe_key, topic, headers, body, state, received_at,
                   processed_at)
VALUES (:source, :installation_id, :dedupe_key, :topic, :headers, :body, :state, :received_at,
        :processed_at)
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING id

-- name: list_inbox
-- Inbox entries, newest first, optionally of one installation and one source.
SELECT * FROM inbox
WHERE (CAST(:installation_id AS BIGINT) IS NULL OR installation_id = :installation_id)
  AND (CAST(:source AS TEXT) IS NULL OR source = :source)
ORDER BY id DESC
LIMIT :limit

-- name: count_inbox
-- How many deliveries the inbox holds, optionally of one source.
SELECT COUNT(*) AS n FROM inbox WHERE CAST(:source AS TEXT) IS NULL OR source = :source
