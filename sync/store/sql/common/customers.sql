-- name: upsert_customer
-- Record what the policy needs of a customer with claims, and the fingerprint of its debtor.
INSERT INTO customers (installation_id, customer_number, customer_group, barred, fingerprint,
                       last_updated, problem, updated_at)
VALUES (:installation_id, :customer_number, :customer_group, :barred, :fingerprint,
        :last_updated, :problem, :now)
ON CONFLICT (installation_id, customer_number) DO UPDATE SET
    customer_group = excluded.customer_group, barred = excluded.barred,
    fingerprint = excluded.fingerprint, last_updated = excluded.last_updated,
    problem = excluded.problem, updated_at = excluded.updated_at

-- name: customer_fingerprints
-- What the collection account holds of each customer of an installation.
SELECT customer_number, pushed_fingerprint FROM customers WHERE installation_id = :installation_id

-- name: mark_customer_pushed
-- Remember what the collection account now holds for a debtor (unless it changed meanwhile).
UPDATE customers SET pushed_fingerprint = :fingerprint, collection_id = :collection_id, problem = NULL,
       updated_at = :now
WHERE installation_id = :installation_id AND customer_number = :customer_number
  AND fingerprint = :fingerprint

-- name: forget_customer
-- A customer renumbered or deleted in the ledger: its row goes (its claims keep their own).
DELETE FROM customers WHERE installation_id = :installation_id AND customer_number = :customer_number
