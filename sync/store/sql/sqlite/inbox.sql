-- name: inbox_batch_plan
-- For insert_inbox_entries, in one row (the caller holds the write lock): the last inbox id given out, and which of :keys are stored already (a JSON array).
SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'inbox'), 0) AS last_id,
       (SELECT json_group_array(dedupe_key) FROM inbox
        WHERE dedupe_key IN (SELECT value FROM json_each(:keys))) AS stored

-- name: insert_inbox_entries
-- Store a batch of new deliveries received at :received_at in one step, :rows a JSON array of [id, source, installation_id, dedupe_key, topic, headers, body as text, state] (`json_rows`; keys not stored; ids reserved, or after inbox_batch_plan's last id).
INSERT INTO inbox (id, source, installation_id, dedupe_key, topic, headers, body, state,
                   received_at, processed_at)
SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value -> 5,
       CAST(value ->> 6 AS BLOB), value ->> 7, :received_at,
       CASE WHEN value ->> 7 = 'processed' THEN :received_at END
FROM json_each(:rows)

-- name: seed_inbox_sequence
-- The inbox's row in sqlite_sequence, made if the table never had a row (for reserve_inbox_ids).
INSERT INTO sqlite_sequence (name, seq)
SELECT 'inbox', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'inbox')

-- name: reserve_inbox_ids
-- Move the inbox's AUTOINCREMENT on by :n (inside the caller's transaction): the last of the ids reserved back, the n before it reserved with it (the inbox process's `store_batch`).
UPDATE sqlite_sequence SET seq = seq + :n WHERE name = 'inbox' RETURNING seq AS id

-- name: set_inbox_body
-- The body of a row just inserted, one that SQLite's JSON cannot carry (not UTF-8, or holding a NUL).
UPDATE inbox SET body = :body WHERE id = :id

-- name: store_inbox_batch
-- PostgreSQL only (its one-statement batch); SQLite's writer stores a batch in a transaction (`webhooks.inbox`). Running it fails loudly.
SELECT id, dedupe_key FROM "store_inbox_batch is PostgreSQL only"

-- name: store_inbox_batch_distinct
-- PostgreSQL only, as store_inbox_batch is. Running it fails loudly.
SELECT id, dedupe_key FROM "store_inbox_batch_distinct is PostgreSQL only"
