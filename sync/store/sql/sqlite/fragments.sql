-- fragment: lease_now
-- The clock that judges leases: every worker of a SQLite file is on one machine, whose clock serves.
:now

-- fragment: lease_until
-- When a lease taken or renewed now runs out, computed by the caller from the same clock.
:lease_until

-- fragment: pick_installations
-- The candidates in order until their room reaches :limit; nothing to lock (BEGIN IMMEDIATE holds the one write lock).
SELECT inst, room, 1 AS locked FROM (
    SELECT inst, room, pos, SUM(room) OVER (ORDER BY pos ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
    FROM ordered)
WHERE COALESCE(before, 0) < :limit
ORDER BY pos

-- fragment: chosen_installations
-- The installation ids a claim picked, passed as a JSON array.
SELECT value FROM json_each(:installations)

-- fragment: skip_locked
-- Nothing: SQLite has no row locks, and the write lock is already held.

-- fragment: window_of_chosen
-- The first :window due jobs of each chosen installation whose serial key is free and that the claiming
-- worker does not still hold (:held); SQLite has no LATERAL.
SELECT j.id, w.inst, j.priority, j.run_at, j.serial_key
FROM chosen w JOIN jobs j ON j.id IN (
    SELECT d.id FROM jobs d
    WHERE COALESCE(d.installation_id, 0) = w.inst AND d.state IN ('queued', 'failed') AND d.run_at <= :now
      AND d.id NOT IN (SELECT value FROM json_each(:held))
      AND (d.serial_key IS NULL OR NOT EXISTS (
            SELECT 1 FROM jobs r WHERE r.state = 'running' AND r.serial_key = d.serial_key))
    ORDER BY COALESCE(d.installation_id, 0), d.priority DESC, d.run_at, d.id
    LIMIT :window)

-- fragment: merged_payload
-- A queued twin absorbing a job takes the new job's payload keys over its own (a flag asked for once is kept).
json_patch(jobs.payload, excluded.payload)

-- fragment: payload_with_new
-- A twin in backoff absorbing a job takes the new job's payload keys over its own.
json_patch(payload, :payload)
