-- name: open_problem_counts
-- Open problems per company of a member.
SELECT p.installation_id, COUNT(*) AS problems FROM problems p
JOIN memberships m ON m.installation_id = p.installation_id AND m.user_id = :user_id
WHERE p.resolved_at IS NULL
GROUP BY p.installation_id

-- name: amounts_in_collection
-- What is in collection per company of a member and currency (never summed across currencies).
SELECT c.installation_id, c.currency, SUM(c.remaining) AS remaining, COUNT(*) AS claims FROM claims c
JOIN memberships m ON m.installation_id = c.installation_id AND m.user_id = :user_id
WHERE c.state = 'in_collection'
GROUP BY c.installation_id, c.currency

-- name: claim_state_counts
-- How many claims of a company are in each state.
SELECT state, COUNT(*) AS claims FROM claims WHERE installation_id = :installation_id GROUP BY state

-- name: overdue_aging
-- Overdue invoices still owed and not closed, per currency and age bucket (0: 0–30 days overdue,
-- 1: 31–60, 2: 61–90, 3: more); the bucket edges are due dates computed by the caller.
SELECT currency,
       CASE WHEN due_date >= :edge_30 THEN 0 WHEN due_date >= :edge_60 THEN 1
            WHEN due_date >= :edge_90 THEN 2 ELSE 3 END AS bucket,
       SUM(remaining) AS remaining, COUNT(*) AS claims
FROM claims
WHERE installation_id = :installation_id AND kind = 'invoice' AND remaining > 0
  AND due_date < :today AND state NOT IN ('closed', 'withdrawn')
GROUP BY currency, bucket
