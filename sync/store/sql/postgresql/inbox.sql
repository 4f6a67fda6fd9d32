-- name: stored_inbox_keys
-- Which of these dedupe keys are stored already.
SELECT dedupe_key FROM inbox WHERE dedupe_key = ANY(:keys::text[])

-- name: inbox_ids_of_keys
-- The ids of the rows of these dedupe keys.
SELECT id, dedupe_key FROM inbox WHERE dedupe_key = ANY(:keys::text[])

-- name: insert_inbox_entries
-- Store a batch of webhook deliveries (one array element each, keys distinct), each unless a delivery of its dedupe key is stored already: the rows stored, with their keys.
INSERT INTO inbox (source, installation_id, dedupe_key, topic, headers, body, state, received_at,
                   processed_at)
SELECT e.source, e.installation_id, e.dedupe_key, e.topic, e.headers::jsonb, e.body, e.state,
       :received_at, CASE WHEN e.state = 'processed' THEN :received_at::timestamptz END
FROM unnest(:sources::text[], :installation_ids::bigint[], :dedupe_keys::text[], :topics::text[],
            :headers::text[], :bodies::bytea[], :states::text[])
     WITH ORDINALITY AS e(source, installation_id, dedupe_key, topic, headers, body, state, n)
ORDER BY e.n
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING id, dedupe_key
