-- name: succeed_jobs
-- Mark jobs succeeded, each only for its own lease token: running, or swept since (its lease ran out
-- while the success was being recorded) and claimed by nobody after; returns the ids accepted.
UPDATE jobs SET state = 'succeeded', lease_token = NULL, lease_until = NULL, last_error = NULL,
                error_code = NULL, finished_at = :now, updated_at = :now
FROM unnest(:ids::bigint[], :tokens::text[]) AS done(id, token)
WHERE jobs.id = done.id AND jobs.lease_token = done.token
  AND (jobs.state = 'running' OR (jobs.state IN ('failed', 'dead') AND jobs.error_code = 'lease_expired'))
RETURNING jobs.id

-- name: failed_twin_keys
-- Which of these dedupe keys have a job waiting out a backoff.
SELECT DISTINCT dedupe_key FROM jobs WHERE state = 'failed' AND dedupe_key = ANY(:keys::text[])

-- name: claim_plans
-- Use the cached generic plans for the rest of the claim's transaction: planning the claim's statements
-- afresh each time costs more than running them (measured: 2.0 ms against 0.8 ms a claim).
SET LOCAL plan_cache_mode = force_generic_plan

-- name: analyze_jobs
-- Refresh the jobs table's statistics after a bulk enqueue: until autovacuum gets to it, a planner that
-- still believes the table small reads every due job to find one installation's head.
ANALYZE jobs

-- name: enqueue_jobs
-- SQLite only (its one-step form of enqueue_job for a batch); PostgreSQL enqueues a batch with enqueue_job's prepared statement. Spelled so that every name exists for both engines; running it fails loudly.
SELECT id FROM "enqueue_jobs is SQLite only"
