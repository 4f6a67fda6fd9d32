-- name: lock_migrations
-- Serialise migrations across processes for the rest of this transaction.
SELECT pg_advisory_xact_lock(727100001)

-- name: schema_migrations_exists
-- Whether the table of applied migrations is there yet (a read, no lock taken).
SELECT COUNT(*) AS present FROM pg_catalog.pg_tables
WHERE tablename = 'schema_migrations' AND schemaname = ANY(current_schemas(false))
