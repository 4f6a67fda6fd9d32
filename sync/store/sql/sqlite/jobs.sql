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
