-- name: succeed_jobs
-- Mark jobs succeeded, each only for its own lease token: running, or swept since (its lease ran out
-- while the success was being recorded) and claimed by nobody after; returns the ids accepted.
UPDATE jobs SET state = 'succeeded', lease_token = NULL, lease_until = NULL, last_error = NULL,
                error_code = NULL, finished_at = :now, updated_at = :now
WHERE (state = 'running' OR (state IN ('failed', 'dead') AND error_code = 'lease_expired'))
  AND id IN (SELECT value FROM json_each(:ids))
  AND lease_token = json_extract(:tokens, '$[' || (SELECT key FROM json_each(:ids) WHERE value = jobs.id) || ']')
RETURNING id

-- name: failed_twin_keys
-- Which of these dedupe keys have a job waiting out a backoff.
SELECT DISTINCT dedupe_key FROM jobs WHERE state = 'failed' AND dedupe_key IN (SELECT value FROM json_each(:keys))

-- name: claim_plans
-- Nothing to set: SQLite plans each statement once per prepared statement anyway.
SELECT 1

-- name: analyze_jobs
-- Nothing: SQLite's planner uses the indexes without statistics here.
SELECT 1

-- name: enqueue_jobs
-- enqueue_job for a batch in one step, :jobs a JSON array of [kind, installation_id, payload, dedupe_key, serial_key, priority, run_at, max_attempts] (`json_rows`), in order: each as if enqueued alone after the ones before it (a queued twin, even one inserted just before, absorbs it).
INSERT INTO jobs (kind, installation_id, payload, dedupe_key, serial_key, priority, state, run_at,
                  max_attempts, created_at, updated_at)
SELECT value ->> 0, value ->> 1, value -> 2, value ->> 3, value ->> 4, value ->> 5, 'queued',
       value ->> 6, value ->> 7, :now, :now
FROM json_each(:jobs) WHERE true
ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL AND state = 'queued'
DO UPDATE SET run_at = CASE WHEN excluded.run_at < jobs.run_at THEN excluded.run_at ELSE jobs.run_at END,
              priority = CASE WHEN excluded.priority > jobs.priority THEN excluded.priority ELSE jobs.priority END,
              payload = {{merged_payload}},
              updated_at = excluded.updated_at
