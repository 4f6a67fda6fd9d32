-- name: inbox_batch_plan
-- SQLite only (its one-step insert of a batch, `sync.store.inbox.insert_entries`). Spelled so that every name exists for both engines; running it fails loudly.
SELECT 0 AS last_id, '[]' AS stored FROM "inbox_batch_plan is SQLite only"

-- name: seed_inbox_sequence
-- SQLite only (the AUTOINCREMENT's reservation); PostgreSQL's identity needs nothing. Running it does nothing.
SELECT 1

-- name: set_inbox_body
-- SQLite only (a body its JSON cannot carry); PostgreSQL passes bodies as bytea arrays. Running it fails loudly.
SELECT id FROM "set_inbox_body is SQLite only"

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

-- name: reserve_inbox_ids
-- Take :n ids of the inbox's identity (its sequence looked up once) for a batch about to be stored (so that the jobs made from a row's id can go in the statement that stores it); an id of a delivery found to be a duplicate is never used.
SELECT nextval((SELECT CAST(pg_get_serial_sequence('inbox', 'id') AS regclass))) AS id FROM generate_series(1, CAST(:n AS INT))

-- name: store_inbox_batch
-- Store a batch of webhook deliveries and, for each one stored, its jobs, in one statement (one commit). :batch is one JSON array (`sync.store.inbox.store_batch`, one encode on the client where an array a column costs a conversion an element), each element [entry, id, jobs]: the entry's fields as NewEntry has them (keys distinct; the body base64), its id (reserved, or null for the identity's next), its jobs as NewJob has them. Returns the rows stored, with their keys, then :reserve ids reserved for the next batch (rows without a key), as reserve_inbox_ids would, then the status of each installation the jobs are for (rows with a status: id is the installation's). The installations are locked FOR SHARE before any job row is touched (an InitPlan of `fresh`), so a status change waits for this commit and then finds the jobs to park, and one committed before is the status read here. The jobs go in as enqueue_job and absorb_into_failed_twin would put them one by one, in order: jobs of one dedupe key first become one (the first one's kind, installation, serial key and attempts; the earliest run_at, the highest priority, the payloads merged in order); a twin in backoff (the oldest, still failed when its lock is granted) absorbs it keeping its run_at, taking the priority, the payload's keys and a fresh count of attempts; any other is inserted, a queued twin absorbing it (earlier run_at, higher priority, payload merged). Twins are looked up by the batch's keys and updated by their ids (`= ANY`), never found by their state: the session keeps one plan, maybe made while the jobs were few, and a plan that reads every waiting job makes each batch cost what the queue behind it holds. `store_inbox_batch_distinct` is this statement for a batch whose jobs' dedupe keys are distinct.
{{inbox_batch_rows}}
), keyed AS (
    SELECT f.dedupe_key, MIN(f.n) AS first, MIN(f.run_at) AS run_at, MAX(f.priority) AS priority
    FROM fresh f WHERE f.dedupe_key IS NOT NULL
    GROUP BY f.dedupe_key
), payloads AS (
    SELECT f.dedupe_key, jsonb_object_agg(p.key, p.value ORDER BY f.n) AS payload
    FROM fresh f CROSS JOIN LATERAL jsonb_each(f.payload) p
    WHERE f.dedupe_key IS NOT NULL
    GROUP BY f.dedupe_key
), one_each AS (
    SELECT k.first AS n, f.kind, f.installation_id, COALESCE(p.payload, '{}'::jsonb) AS payload,
           k.dedupe_key, f.serial_key, k.priority, k.run_at, f.max_attempts
    FROM keyed k JOIN fresh f ON f.n = k.first LEFT JOIN payloads p ON p.dedupe_key = k.dedupe_key
    UNION ALL
    SELECT f.n, f.kind, f.installation_id, f.payload, NULL, f.serial_key, f.priority,
           f.run_at, f.max_attempts
    FROM fresh f WHERE f.dedupe_key IS NULL
{{inbox_batch_jobs}}

-- name: store_inbox_batch_distinct
-- store_inbox_batch for a batch whose jobs' dedupe keys are distinct (or null), as `sync.store.inbox.store_batch` finds them: each job is its own, so the merge of a key's jobs is left out (its grouping and payload aggregation cost the server about a fifth of the statement's CPU a batch, measured); rows, locks, twins and answer as store_inbox_batch.
{{inbox_batch_rows}}
), one_each AS (
    SELECT f.n, f.kind, f.installation_id, f.payload, f.dedupe_key, f.serial_key, f.priority,
           f.run_at, f.max_attempts
    FROM fresh f
{{inbox_batch_jobs}}
