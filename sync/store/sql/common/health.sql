-- name: ping
-- Cheapest possible round trip.
SELECT 1 AS ok
