-- name: analyze_customers
-- Refresh the customers table's statistics after a scan's customer pages (as analyze_claims).
ANALYZE customers
