-- name: analyze_claims
-- Refresh the claims table's statistics after a scan's invoice pages: a bootstrap fills it within
-- seconds, and until autovacuum gets to it a planner that still believes it empty reads every claim
-- (hash-joined to every customer) for each page of 1000 the policy and the sends read.
ANALYZE claims
