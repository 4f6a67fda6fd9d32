-- name: lock_migrations
-- Serialise migrations across processes for the rest of this transaction.
SELECT pg_advisory_xact_lock(727100001)
