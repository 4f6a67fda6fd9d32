-- name: analyze_claims
-- Nothing: SQLite's planner reads the claims' pages by their index without statistics.
SELECT 1
