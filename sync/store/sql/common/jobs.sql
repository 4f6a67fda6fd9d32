-- name: enqueue_job
-- Add a job; a waiting job with the same dedupe key absorbs it (keeping the earlier run_at).
INSERT INTO jobs (kind, installation_id, payload, dedupe_key, serial_key, priority, state, run_at,
                  max_attempts, created_at, updated_at)
VALUES (:kind, :installation_id, :payload, :dedupe_key, :serial_key, :priority, 'queued', :run_at,
        :max_attempts, :now, :now)
ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL AND state = 'queued'
DO UPDATE SET run_at = CASE WHEN excluded.run_at < jobs.run_at THEN excluded.run_at ELSE jobs.run_at END,
              priority = CASE WHEN excluded.priority > jobs.priority THEN excluded.priority ELSE jobs.priority END,
              updated_at = excluded.updated_at
RETURNING id

-- name: get_job
-- One job by id.
SELECT * FROM jobs WHERE id = :id

-- name: list_jobs
-- Jobs, newest first, optionally of one state and one installation.
SELECT * FROM jobs
WHERE (CAST(:state AS TEXT) IS NULL OR state = :state)
  AND (CAST(:installation_id AS BIGINT) IS NULL OR installation_id = :installation_id)
ORDER BY id DESC
LIMIT :limit

-- name: count_jobs
-- How many jobs there are of each kind and state (for /metrics).
SELECT kind, state, COUNT(*) AS n FROM jobs GROUP BY kind, state

-- name: heartbeat_jobs
-- Extend the lease of the running jobs held under one lease token; returns the ids still held.
UPDATE jobs SET lease_until = :lease_until, updated_at = :now
WHERE state = 'running' AND lease_token = :token
RETURNING id

-- name: set_job_progress
-- Record progress of a running job, only for the current lease holder.
UPDATE jobs SET progress_done = :done, progress_total = :total, updated_at = :now
WHERE id = :id AND lease_token = :token AND state = 'running'

-- name: finish_job
-- Move a running job to failed (with its next run_at), parked or dead, only for the lease holder;
-- :refund is 1 when the run did not count as an attempt (a pause, not the job's failure).
UPDATE jobs SET state = :state, run_at = :run_at, last_error = :error, error_code = :code,
                lease_token = NULL, lease_until = NULL, updated_at = :now,
                finished_at = :finished_at, attempts = attempts - :refund
WHERE id = :id AND lease_token = :token AND state = 'running'

-- name: release_job
-- Give a running job back unharmed (graceful shutdown): it runs again at once, the attempt not counted.
UPDATE jobs SET state = 'failed', run_at = :now, attempts = attempts - 1, lease_token = NULL,
                lease_until = NULL, worker_id = NULL, last_error = 'released at shutdown',
                error_code = 'released', updated_at = :now
WHERE id = :id AND lease_token = :token AND state = 'running'

-- name: sweep_expired_leases
-- Return jobs whose lease expired (their worker died) to the waiting state, or dead when out of attempts.
UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'failed' END,
                lease_token = NULL, lease_until = NULL, worker_id = NULL,
                last_error = 'lease expired: the worker stopped answering', error_code = 'lease_expired',
                run_at = :now, updated_at = :now,
                finished_at = CASE WHEN attempts >= max_attempts THEN :now ELSE NULL END
WHERE state = 'running' AND lease_until < :now
RETURNING id, kind, state

-- name: absorb_into_failed_twin
-- A job of this dedupe key waiting out a backoff absorbs a new hint: it keeps its run_at (the wait a
-- platform asked for), takes the higher priority and a fresh count of attempts (the hint is new work).
UPDATE jobs SET attempts = 0, updated_at = :now,
                priority = CASE WHEN :priority > priority THEN :priority ELSE priority END
WHERE id = (SELECT id FROM jobs WHERE dedupe_key = :dedupe_key AND state = 'failed' ORDER BY id LIMIT 1)
RETURNING id

-- name: retry_job
-- Run a dead, parked or failed job again now with a fresh attempt count. A job with a dedupe key
-- waits as 'failed' (due now), outside the unique index of queued twins, so no retry can collide
-- with a twin being enqueued at the same moment; new hints join it.
UPDATE jobs SET state = CASE WHEN dedupe_key IS NULL THEN 'queued' ELSE 'failed' END,
                run_at = :now, attempts = 0, last_error = NULL, error_code = NULL,
                finished_at = NULL, updated_at = :now
WHERE id = :id AND state IN ('dead', 'parked', 'failed')

-- name: retry_dead_jobs
-- Run every dead job (optionally of one kind) again now, as retry_job does.
UPDATE jobs SET state = CASE WHEN dedupe_key IS NULL THEN 'queued' ELSE 'failed' END,
                run_at = :now, attempts = 0, last_error = NULL, error_code = NULL,
                finished_at = NULL, updated_at = :now
WHERE state = 'dead' AND (CAST(:kind AS TEXT) IS NULL OR kind = :kind)

-- name: park_installation_jobs
-- Hold every waiting job of an installation until a person acts (access lost).
UPDATE jobs SET state = 'parked', updated_at = :now
WHERE installation_id = :installation_id AND state IN ('queued', 'failed')

-- name: unpark_installation_jobs
-- Release the parked jobs of an installation to run now.
UPDATE jobs SET state = 'failed', run_at = :now, updated_at = :now
WHERE installation_id = :installation_id AND state = 'parked'

-- name: purge_jobs
-- Delete finished jobs (succeeded, and dead unless kept) that ended before a time.
DELETE FROM jobs
WHERE finished_at < :before AND (state = 'succeeded' OR (state = 'dead' AND :include_dead = 1))

-- name: next_run_at
-- When the next waiting job becomes due (so an idle worker knows how long it may sleep).
SELECT MIN(run_at) AS run_at FROM jobs WHERE state IN ('queued', 'failed')
