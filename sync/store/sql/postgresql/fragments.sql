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
