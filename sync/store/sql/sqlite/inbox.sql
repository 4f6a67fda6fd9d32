-- name: stored_inbox_keys
-- Which of these dedupe keys are stored already.
SELECT dedupe_key FROM inbox WHERE dedupe_key IN (SELECT value FROM json_each(:keys))

-- name: inbox_ids_of_keys
-- The ids of the rows of these dedupe keys.
SELECT id, dedupe_key FROM inbox WHERE dedupe_key IN (SELECT value FROM json_each(:keys))

-- name: inbox_batch_plan
-- For insert_inbox_entries, in one row (the caller holds the write lock): the last inbox id given out, and which of :keys are stored already (a JSON array).
SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'inbox'), 0) AS last_id,
       (SELECT json_group_array(dedupe_key) FROM inbox
        WHERE dedupe_key IN (SELECT value FROM json_each(:keys))) AS stored

-- name: insert_inbox_entries
-- Store a batch of new deliveries received at :received_at in one step, :rows a JSON array of [id, source, installation_id, dedupe_key, topic, headers, body as text, state] (`json_rows`; ids after inbox_batch_plan's last id, keys not stored).
INSERT INTO inbox (id, source, installation_id, dedupe_key, topic, headers, body, state,
                   received_at, processed_at)
SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value -> 5,
       CAST(value ->> 6 AS BLOB), value ->> 7, :received_at,
       CASE WHEN value ->> 7 = 'processed' THEN :received_at END
FROM json_each(:rows)

-- name: reserve_inbox_ids
-- PostgreSQL only (the writer's one-statement batch, `sync.store.inbox.store_batch`); SQLite's writer stores a batch in its transaction instead. Spelled so that every name exists for both engines; running it fails loudly.
SELECT id FROM "reserve_inbox_ids is PostgreSQL only"

-- name: store_inbox_batch
-- PostgreSQL only (see reserve_inbox_ids). Running it fails loudly.
SELECT id, dedupe_key FROM "store_inbox_batch is PostgreSQL only"
