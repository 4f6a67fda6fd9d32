-- fragment: lease_now
-- The clock that judges leases: the database server's, the one clock workers on many machines share.
clock_timestamp()

-- fragment: lease_until
-- When a lease taken or renewed now runs out, by the server's clock.
clock_timestamp() + make_interval(secs => :lease_seconds)

-- fragment: pick_installations
-- Walk the candidates in order, try-locking each (keyed by schema and installation, held to the end of
-- the transaction), until the locked ones' room reaches :limit; one lock attempt a step, no waiting.
-- Every candidate walked comes back, with whether it was locked (the others were being served).
, walk(pos, inst, locked, got) AS (
    SELECT CAST(0 AS BIGINT), CAST(NULL AS BIGINT), FALSE, CAST(0 AS BIGINT)
    UNION ALL
    SELECT o.pos, o.inst, l.locked, w.got + CASE WHEN l.locked THEN o.room ELSE 0 END
    FROM walk w JOIN ordered o ON o.pos = w.pos + 1,
         LATERAL (SELECT pg_try_advisory_xact_lock(
                      (CAST(hashtext(current_schema() || '.jobs.claim') AS BIGINT) << 32) # o.inst
                  ) AS locked) l
    WHERE w.got < :limit
)
SELECT inst, room, locked FROM walk JOIN ordered USING (inst)

-- fragment: chosen_installations
-- The installation ids a claim locked, passed as an array.
SELECT unnest(CAST(:installations AS BIGINT[]))

-- fragment: skip_locked
-- Lock the picked rows, passing over any another transaction holds.
FOR UPDATE SKIP LOCKED

-- fragment: window_of_chosen
-- The first :window due jobs of each chosen installation whose serial key is free and that the claiming
-- worker does not still hold (:held), by LATERAL: one index scan each.
SELECT d.id, w.inst, d.priority, d.run_at, d.serial_key
FROM chosen w, LATERAL (
    SELECT j.id, j.priority, j.run_at, j.serial_key FROM jobs j
    WHERE COALESCE(j.installation_id, 0) = w.inst AND j.state IN ('queued', 'failed') AND j.run_at <= :now
      AND NOT (j.id = ANY(CAST(:held AS BIGINT[])))
      AND (j.serial_key IS NULL OR NOT EXISTS (
            SELECT 1 FROM jobs r WHERE r.state = 'running' AND r.serial_key = j.serial_key))
    ORDER BY COALESCE(j.installation_id, 0), j.priority DESC, j.run_at, j.id
    LIMIT :window) d

-- fragment: merged_payload
-- A queued twin absorbing a job takes the new job's payload keys over its own (a flag asked for once is kept).
jobs.payload || excluded.payload

-- fragment: payload_with_new
-- A twin in backoff absorbing a job takes the new job's payload keys over its own.
payload || CAST(:payload AS jsonb)

-- fragment: inbox_batch_rows
-- The inbox batch statements' first part (store_inbox_batch, store_inbox_batch_distinct): the batch read, its rows stored, the installations locked, the jobs of the rows stored (`fresh`); the statement goes on with its `one_each`. The identity's sequence is looked up once a statement (a scalar subquery, so an InitPlan), not once a row: 10 % of the server's CPU a batch, measured.
WITH batch AS (
    SELECT b.value AS x, b.n
    FROM jsonb_array_elements(CAST(CAST(:batch AS text) AS jsonb)) WITH ORDINALITY AS b(value, n)
), entries AS (
    SELECT CAST(b.x ->> 1 AS bigint) AS id, e.source, e.installation_id, e.dedupe_key, e.topic,
           e.headers, decode(e.body, 'base64') AS body, e.state, b.n
    FROM batch b CROSS JOIN LATERAL jsonb_to_record(b.x -> 0)
        AS e(source text, installation_id bigint, dedupe_key text, topic text, headers jsonb,
             body text, state text)
), wanted AS (
    SELECT b.x -> 0 ->> 'dedupe_key' AS entry, j.kind, j.installation_id,
           COALESCE(j.payload, '{}'::jsonb) AS payload, j.dedupe_key, j.serial_key, j.priority,
           COALESCE(j.run_at, :received_at::timestamptz) AS run_at, j.max_attempts,
           ROW_NUMBER() OVER (ORDER BY b.n, k.n) AS n
    FROM batch b CROSS JOIN LATERAL jsonb_array_elements(b.x -> 2) WITH ORDINALITY AS k(value, n)
        CROSS JOIN LATERAL jsonb_to_record(k.value)
        AS j(kind text, installation_id bigint, payload jsonb, dedupe_key text, serial_key text,
             priority int, run_at timestamptz, max_attempts int)
), held AS (
    SELECT i.id, i.status FROM installations i
    WHERE i.id IN (SELECT w.installation_id FROM wanted w)
    ORDER BY i.id
    FOR SHARE
), stored AS (
    INSERT INTO inbox (id, source, installation_id, dedupe_key, topic, headers, body, state,
                       received_at, processed_at)
    SELECT COALESCE(e.id, nextval((SELECT CAST(pg_get_serial_sequence('inbox', 'id') AS regclass)))),
           e.source,
           e.installation_id, e.dedupe_key, e.topic, e.headers, e.body, e.state,
           :received_at::timestamptz,
           CASE WHEN e.state = 'processed' THEN :received_at::timestamptz END
    FROM entries e
    ORDER BY e.n
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING id, dedupe_key
), fresh AS (
    SELECT w.* FROM wanted w
    WHERE w.entry IN (SELECT dedupe_key FROM stored) AND (SELECT COUNT(*) FROM held) >= 0

-- fragment: inbox_batch_jobs
-- The inbox batch statements' last part, after their `one_each` (a row for each job to enqueue): failed twins absorbing, the jobs inserted, and the answer.
), twins AS (
    SELECT DISTINCT ON (t.dedupe_key) t.id, t.state, o.payload, o.priority
    FROM jobs t JOIN one_each o ON o.dedupe_key = t.dedupe_key
    WHERE t.state = 'failed'
      AND t.dedupe_key = ANY(ARRAY(SELECT dedupe_key FROM one_each WHERE dedupe_key IS NOT NULL))
    ORDER BY t.dedupe_key, t.id
), absorbed AS (
    UPDATE jobs SET attempts = 0, updated_at = :received_at::timestamptz, lease_token = NULL,
                    payload = jobs.payload || w.payload,
                    priority = CASE WHEN w.priority > jobs.priority THEN w.priority ELSE jobs.priority END
    FROM twins w
    WHERE jobs.id = ANY(ARRAY(SELECT id FROM twins)) AND jobs.id = w.id AND jobs.state = w.state
    RETURNING jobs.dedupe_key
), enqueued AS (
    INSERT INTO jobs (kind, installation_id, payload, dedupe_key, serial_key, priority, state, run_at,
                      max_attempts, created_at, updated_at)
    SELECT o.kind, o.installation_id, o.payload, o.dedupe_key, o.serial_key, o.priority, 'queued',
           o.run_at, o.max_attempts, :received_at::timestamptz, :received_at::timestamptz
    FROM one_each o
    WHERE o.dedupe_key IS NULL OR o.dedupe_key NOT IN (SELECT dedupe_key FROM absorbed)
    ORDER BY o.n
    ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL AND state = 'queued'
    DO UPDATE SET run_at = CASE WHEN excluded.run_at < jobs.run_at THEN excluded.run_at ELSE jobs.run_at END,
                  priority = CASE WHEN excluded.priority > jobs.priority THEN excluded.priority ELSE jobs.priority END,
                  payload = jobs.payload || excluded.payload,
                  updated_at = excluded.updated_at
    RETURNING jobs.id
)
SELECT id, dedupe_key, NULL::text AS status FROM stored
UNION ALL
SELECT nextval((SELECT CAST(pg_get_serial_sequence('inbox', 'id') AS regclass))), NULL, NULL
FROM generate_series(1, CAST(:reserve AS INT))
UNION ALL
SELECT id, NULL, status FROM held
