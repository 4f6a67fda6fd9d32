-- name: analyze_customers
-- Nothing: SQLite's planner joins customers by their primary key without statistics.
SELECT 1
