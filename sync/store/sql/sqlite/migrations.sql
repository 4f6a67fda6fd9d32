-- name: lock_migrations
-- Nothing to do: the surrounding BEGIN IMMEDIATE already holds the write lock.
SELECT 1

-- name: schema_migrations_exists
-- Whether the table of applied migrations is there yet (a read, no lock taken).
SELECT COUNT(*) AS present FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'
