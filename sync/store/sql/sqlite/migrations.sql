-- name: lock_migrations
-- Nothing to do: the surrounding BEGIN IMMEDIATE already holds the write lock.
SELECT 1
