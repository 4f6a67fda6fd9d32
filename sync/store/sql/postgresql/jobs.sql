-- name: lock_claims
-- Serialise claims for the rest of the transaction, so serial keys and caps hold across workers.
SELECT pg_advisory_xact_lock(727100002)

-- name: claim_jobs
-- Claim up to :limit due jobs: at most :cap running per installation, installations taken in turn, one job per serial key,
-- looking at the first :window due jobs of each installation whose serial key is free (so a busy key
-- with many waiting jobs does not hide the installation's other work).
WITH RECURSIVE installations_waiting(inst) AS (
    SELECT (SELECT COALESCE(installation_id, 0) FROM jobs
            WHERE state IN ('queued', 'failed') ORDER BY COALESCE(installation_id, 0) LIMIT 1)
    UNION ALL
    SELECT (SELECT COALESCE(j.installation_id, 0) FROM jobs j
            WHERE j.state IN ('queued', 'failed') AND COALESCE(j.installation_id, 0) > w.inst
            ORDER BY COALESCE(j.installation_id, 0) LIMIT 1)
    FROM installations_waiting w WHERE w.inst IS NOT NULL
), running AS (
    SELECT COALESCE(installation_id, 0) AS inst, COUNT(*) AS n FROM jobs WHERE state = 'running' GROUP BY 1
), heads AS (
    SELECT d.id, w.inst, d.priority, d.run_at, d.serial_key
    FROM installations_waiting w, LATERAL (
        SELECT j.id, j.priority, j.run_at, j.serial_key FROM jobs j
        WHERE COALESCE(j.installation_id, 0) = w.inst AND j.state IN ('queued', 'failed') AND j.run_at <= :now
          AND (j.serial_key IS NULL OR NOT EXISTS (
                SELECT 1 FROM jobs r WHERE r.state = 'running' AND r.serial_key = j.serial_key))
        ORDER BY COALESCE(j.installation_id, 0), j.priority DESC, j.run_at, j.id
        LIMIT :window) d
    WHERE w.inst IS NOT NULL
), candidates AS (
    SELECT h.id, h.inst, h.priority, h.run_at, h.serial_key,
           ROW_NUMBER() OVER (PARTITION BY h.serial_key ORDER BY h.priority DESC, h.run_at, h.id) AS serial_rank
    FROM heads h
), ranked AS (
    SELECT c.id, c.priority, c.run_at, COALESCE(r.n, 0) AS busy,
           ROW_NUMBER() OVER (PARTITION BY c.inst ORDER BY c.priority DESC, c.run_at, c.id) AS turn
    FROM candidates c LEFT JOIN running r ON r.inst = c.inst
    WHERE c.serial_key IS NULL OR c.serial_rank = 1
), picked AS (
    SELECT id FROM ranked WHERE turn + busy <= :cap
    ORDER BY turn, priority DESC, run_at, id
    LIMIT :limit
), locked AS (
    SELECT id FROM jobs WHERE id = ANY(ARRAY(SELECT id FROM picked))
      AND state IN ('queued', 'failed') AND run_at <= :now
    FOR UPDATE SKIP LOCKED
)
UPDATE jobs SET state = 'running', lease_token = :token, lease_until = :lease_until,
                worker_id = :worker_id, attempts = attempts + 1, started_at = :now, updated_at = :now
WHERE id = ANY(ARRAY(SELECT id FROM locked))
RETURNING *

-- name: complete_jobs
-- Mark running jobs succeeded, each only for its own lease token; returns the ids accepted.
UPDATE jobs SET state = 'succeeded', lease_token = NULL, lease_until = NULL, last_error = NULL,
                error_code = NULL, finished_at = :now, updated_at = :now
FROM unnest(:ids::bigint[], :tokens::text[]) AS done(id, token)
WHERE jobs.state = 'running' AND jobs.id = done.id AND jobs.lease_token = done.token
RETURNING jobs.id

-- name: failed_twin_keys
-- Which of these dedupe keys have a job waiting out a backoff.
SELECT DISTINCT dedupe_key FROM jobs WHERE state = 'failed' AND dedupe_key = ANY(:keys::text[])
