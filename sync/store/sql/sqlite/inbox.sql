-- name: stored_inbox_keys
-- Which of these dedupe keys are stored already.
SELECT dedupe_key FROM inbox WHERE dedupe_key IN (SELECT value FROM json_each(:keys))

-- name: inbox_ids_of_keys
-- The ids of the rows of these dedupe keys.
SELECT id, dedupe_key FROM inbox WHERE dedupe_key IN (SELECT value FROM json_each(:keys))

-- name: insert_inbox_entries
-- PostgreSQL's one-statement insert of a batch has no SQLite form (a BLOB cannot pass through json_each): here `insert_entries` uses stored_inbox_keys, insert_inbox_entry and inbox_ids_of_keys instead. Spelled so that every name exists for both engines; running it fails loudly.
SELECT id, dedupe_key FROM "insert_inbox_entries is PostgreSQL only"

-- name: reserve_inbox_ids
-- PostgreSQL only (the writer's one-statement batch, `sync.store.inbox.store_batch`); SQLite's writer stores a batch in its transaction instead. Spelled so that every name exists for both engines; running it fails loudly.
SELECT id FROM "reserve_inbox_ids is PostgreSQL only"

-- name: store_inbox_batch
-- PostgreSQL only (see reserve_inbox_ids). Running it fails loudly.
SELECT id, dedupe_key FROM "store_inbox_batch is PostgreSQL only"
