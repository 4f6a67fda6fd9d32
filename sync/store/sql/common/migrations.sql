-- name: create_schema_migrations
-- Create the table of applied migrations if it is missing.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL
)

-- name: list_schema_migrations
-- Versions already applied.
SELECT version, name, applied_at FROM schema_migrations ORDER BY version

-- name: record_schema_migration
-- Mark one migration as applied.
INSERT INTO schema_migrations (version, name, applied_at) VALUES (:version, :name, :now)
