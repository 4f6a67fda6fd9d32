-- name: record_api_call
-- Count one call to a platform in the installation's minute bucket.
INSERT INTO api_usage (installation_id, platform, minute, calls)
VALUES (:installation_id, :platform, :minute, 1)
ON CONFLICT (installation_id, platform, minute) DO UPDATE SET calls = api_usage.calls + 1

-- name: api_calls_since
-- Calls to a platform in the buckets from :since on (the rolling window).
SELECT COALESCE(SUM(calls), 0) AS calls FROM api_usage
WHERE installation_id = :installation_id AND platform = :platform AND minute >= :since

-- name: purge_api_usage
-- Forget buckets older than the window.
DELETE FROM api_usage WHERE minute < :before

-- name: api_call_buckets_since
-- The minute buckets of the rolling window, oldest first (to tell when room opens up again).
SELECT minute, calls FROM api_usage
WHERE installation_id = :installation_id AND platform = :platform AND minute >= :since
ORDER BY minute
