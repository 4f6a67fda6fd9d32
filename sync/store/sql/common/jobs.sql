-- name: enqueue_job
-- Add a job; a waiting job with the same dedupe key absorbs it (keeping the earlier run_at, merging the payload).
INSERT INTO jobs (kind, installation_id, payload, dedupe_key, serial_key, priority, state, run_at,
                  max_attempts, created_at, updated_at)
VALUES (:kind, :installation_id, :payload, :dedupe_key, :serial_key, :priority, 'queued', :run_at,
        :max_attempts, :now, :now)
ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL AND state = 'queued'
DO UPDATE SET run_at = CASE WHEN excluded.run_at < jobs.run_at THEN excluded.run_at ELSE jobs.run_at END,
              priority = CASE WHEN excluded.priority > jobs.priority THEN excluded.priority ELSE jobs.priority END,
              payload = {{merged_payload}},
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

-- name: heartbeat_job
-- Extend the lease of one running job, only for its current lease holder; a row back means still held.
UPDATE jobs SET lease_until = {{lease_until}}, updated_at = :now
WHERE id = :id AND state = 'running' AND lease_token = :token
RETURNING id

-- name: set_job_progress
-- Record progress of a running job, only for the current lease holder.
UPDATE jobs SET progress_done = :done, progress_total = :total, updated_at = :now
WHERE id = :id AND lease_token = :token AND state = 'running'

-- name: fail_job
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
-- Return jobs whose lease expired (their worker died or lost touch) to the waiting state, or dead when
-- out of attempts. The lease token stays, so that a run which succeeded but could not record it in
-- time may still do so while nobody has claimed the job since (see succeed_jobs).
UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'failed' END,
                lease_until = NULL, worker_id = NULL,
                last_error = 'lease expired: the worker stopped answering', error_code = 'lease_expired',
                run_at = :now, updated_at = :now,
                finished_at = CASE WHEN attempts >= max_attempts THEN :now ELSE finished_at END
WHERE state = 'running' AND lease_until < {{lease_now}}
RETURNING id, kind, state

-- name: absorb_into_failed_twin
-- A job of this dedupe key waiting out a backoff absorbs a new hint: it keeps its run_at (the wait a
-- platform asked for), takes the higher priority and a fresh count of attempts (the hint is new work);
-- the lease token of a swept run is dropped, so that run's late success cannot swallow the hint.
-- The state is tested again in the outer WHERE, which PostgreSQL re-checks on the row after waiting
-- for its lock: a twin that a concurrent claim just made running is not absorbed into (no row back).
UPDATE jobs SET attempts = 0, updated_at = :now, lease_token = NULL, payload = {{payload_with_new}},
                priority = CASE WHEN :priority > priority THEN :priority ELSE priority END
WHERE id = (SELECT id FROM jobs WHERE dedupe_key = :dedupe_key AND state = 'failed' ORDER BY id LIMIT 1)
  AND state = 'failed'
RETURNING id

-- name: retry_job
-- Run a dead, parked or failed job again now with a fresh attempt count. A job with a dedupe key
-- waits as 'failed' (due now), outside the unique index of queued twins, so no retry can collide
-- with a twin being enqueued at the same moment; new hints join it.
UPDATE jobs SET state = CASE WHEN dedupe_key IS NULL THEN 'queued' ELSE 'failed' END,
                run_at = :now, attempts = 0, last_error = NULL, error_code = NULL, lease_token = NULL,
                finished_at = NULL, updated_at = :now
WHERE id = :id AND state IN ('dead', 'parked', 'failed')

-- name: retry_dead_jobs
-- Run every dead job (optionally of one kind) again now, as retry_job does.
UPDATE jobs SET state = CASE WHEN dedupe_key IS NULL THEN 'queued' ELSE 'failed' END,
                run_at = :now, attempts = 0, last_error = NULL, error_code = NULL, lease_token = NULL,
                finished_at = NULL, updated_at = :now
WHERE state = 'dead' AND (CAST(:kind AS TEXT) IS NULL OR kind = :kind)

-- name: park_installation_jobs
-- Hold every waiting job of an installation until a person acts (access lost, paused, disconnected),
-- only while the installation is held (paused, revoked, deleted, or its collection link lost): a park
-- that lost a race with a resume or a reinstall parks nothing.
UPDATE jobs SET state = 'parked', lease_token = NULL, updated_at = :now
WHERE installation_id = :installation_id AND state IN ('queued', 'failed')
  AND EXISTS (SELECT 1 FROM installations i WHERE i.id = :installation_id
              AND (i.status IN ('paused', 'revoked', 'deleted') OR i.collection_state = 'lost'))

-- name: unpark_installation_jobs
-- Release the parked jobs of an installation to run now, only while it runs (pending or active): an
-- unpark that lost a race with a pause or a disconnect releases nothing.
UPDATE jobs SET state = 'failed', run_at = :now, updated_at = :now
WHERE installation_id = :installation_id AND state = 'parked'
  AND EXISTS (SELECT 1 FROM installations i WHERE i.id = :installation_id
              AND i.status IN ('pending', 'active'))

-- name: purge_jobs
-- Delete finished jobs (succeeded, and dead unless kept) that ended before a time.
DELETE FROM jobs
WHERE finished_at < :before AND (state = 'succeeded' OR (state = 'dead' AND :include_dead = 1))

-- name: next_run_at
-- When the next waiting job becomes due (so an idle worker knows how long it may sleep).
SELECT MIN(run_at) AS run_at FROM jobs WHERE state IN ('queued', 'failed')

-- name: claim_installations
-- Pick and lock, for one claim, running (pending or active) installations with due work and room under :cap, the one waiting
-- longest first, until their room adds up to :limit (room: free places under the cap, at most the
-- due jobs and a fair share of the batch, :limit over the installations waiting, rounded up). On PostgreSQL each is taken with a try-lock held to the end of the claim's transaction:
-- an installation another claim holds is passed over, not waited for, so claims for different
-- installations never wait for each other, and a claim locks no more installations than it can fill
-- from. The lock is taken here, in a statement of its own, so that claim_jobs reads the running jobs
-- with a snapshot taken after it.
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
    -- The head's priority and run_at by two probes of the ordered index (not a join to the head's
    -- row, which the planner may turn into a scan of the whole table while its statistics lag).
    SELECT w.inst, COALESCE(r.n, 0) AS busy,
           (SELECT d.priority FROM jobs d
            WHERE COALESCE(d.installation_id, 0) = w.inst AND d.state IN ('queued', 'failed')
              AND d.run_at <= :now
            ORDER BY COALESCE(d.installation_id, 0), d.priority DESC, d.run_at, d.id
            LIMIT 1) AS priority,
           (SELECT d.run_at FROM jobs d
            WHERE COALESCE(d.installation_id, 0) = w.inst AND d.state IN ('queued', 'failed')
              AND d.run_at <= :now
            ORDER BY COALESCE(d.installation_id, 0), d.priority DESC, d.run_at, d.id
            LIMIT 1) AS run_at,
           (SELECT COUNT(*) FROM (
                SELECT 1 FROM jobs d
                WHERE COALESCE(d.installation_id, 0) = w.inst AND d.state IN ('queued', 'failed')
                  AND d.run_at <= :now
                LIMIT :room) due_jobs) AS due
    FROM installations_waiting w LEFT JOIN running r ON r.inst = w.inst
         LEFT JOIN installations i ON i.id = w.inst
    WHERE w.inst IS NOT NULL AND COALESCE(r.n, 0) < :cap
      -- a paused, revoked or deleted installation's jobs wait, whatever state they are in
      AND (i.status IS NULL OR i.status IN ('pending', 'active'))
), rooms AS (
    SELECT h.inst, h.priority, h.run_at,
           CASE WHEN h.due < :cap - h.busy THEN h.due ELSE :cap - h.busy END AS room,
           COUNT(*) OVER () AS waiting
    FROM heads h WHERE h.due > 0
), ordered AS MATERIALIZED (
    -- Room is also held to a fair share of the batch, so that a batch takes installations in turn.
    SELECT inst, CASE WHEN room < (:limit + waiting - 1) / waiting THEN room
                      ELSE (:limit + waiting - 1) / waiting END AS room,
           ROW_NUMBER() OVER (ORDER BY priority DESC, run_at, inst) AS pos
    FROM rooms
    ORDER BY priority DESC, run_at, inst
    LIMIT :candidates
){{pick_installations}}

-- name: claim_jobs
-- Claim up to :limit due jobs of the installations claim_installations locked: at most :cap running
-- per installation, installations taken in turn, one job per serial key, looking at the first :window
-- due jobs of each installation whose serial key is free (so a busy key with many waiting jobs does not
-- hide the installation's other work). The pick is fixed first, then its rows are locked (skipping any
-- another transaction holds), so locking can only shrink it, never slide past the cap.
WITH chosen(inst) AS (
    {{chosen_installations}}
), running AS (
    SELECT COALESCE(installation_id, 0) AS inst, COUNT(*) AS n FROM jobs
    WHERE state = 'running' AND COALESCE(installation_id, 0) IN (SELECT inst FROM chosen) GROUP BY 1
), heads AS (
    {{window_of_chosen}}
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
    SELECT id AS locked_id FROM jobs WHERE id IN (SELECT id FROM picked) AND state IN ('queued', 'failed')
    {{skip_locked}}
)
UPDATE jobs SET state = 'running', lease_token = :token, lease_until = {{lease_until}},
                worker_id = :worker_id, attempts = attempts + 1, started_at = :now, updated_at = :now
FROM locked WHERE jobs.id = locked.locked_id
RETURNING *
