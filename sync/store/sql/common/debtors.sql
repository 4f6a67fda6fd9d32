-- name: debtor_customer
-- What is kept of one customer of an installation (export of a debtor's data).
SELECT * FROM customers WHERE installation_id = :installation_id AND customer_number = :customer_number

-- name: debtor_outbox
-- The writes about one customer: vouchers that pay or write off its invoices, and its barred flag.
SELECT o.* FROM outbox o
WHERE o.installation_id = :installation_id
  AND (o.id IN (SELECT p.outbox_id FROM own_payments p JOIN claims c
                  ON c.installation_id = p.installation_id AND c.invoice_number = p.invoice_number
                WHERE p.installation_id = :installation_id AND c.customer_number = :customer_number)
       OR o.idempotency_key LIKE :barred_keys)
ORDER BY o.id

-- name: debtor_writeoffs
-- The write-off proposals of the cases one customer's claims are in.
SELECT a.* FROM approvals a
WHERE a.installation_id = :installation_id AND a.kind = 'writeoff'
  AND a.subject IN (SELECT c.case_id FROM claims c
                    WHERE c.installation_id = :installation_id
                      AND c.customer_number = :customer_number AND c.case_id IS NOT NULL)
ORDER BY a.id

-- name: debtor_problems
-- The problems about one customer, as debtor or through its claims, oldest first.
SELECT * FROM problems p
WHERE p.installation_id = :installation_id
  AND (p.subject IN (:customer_subject, :debtor_subject)
       OR EXISTS (SELECT 1 FROM claims c
                  WHERE c.installation_id = p.installation_id
                    AND c.customer_number = :customer_number
                    AND p.subject IN ('invoice:' || CAST(c.invoice_number AS TEXT),
                                      'claim:' || CAST(c.invoice_number AS TEXT),
                                      'handover:' || CAST(c.invoice_number AS TEXT))))
ORDER BY p.id

-- name: erase_debtor_claim_document
-- One claim's document pseudonymised: amounts, dates and references stay, descriptions and lines go.
UPDATE claims SET document = :document, updated_at = :now
WHERE installation_id = :installation_id AND invoice_number = :invoice_number

-- name: erase_debtor_customer
-- What was kept of one customer's debtor document goes (its fingerprints); what the policy needs (group, barred) stays.
UPDATE customers SET fingerprint = NULL, pushed_fingerprint = NULL, last_updated = NULL, updated_at = :now
WHERE installation_id = :installation_id AND customer_number = :customer_number

-- name: erase_debtor_problems
-- The texts of the problems about one customer go (a platform's reason may quote the debtor); code and times stay.
UPDATE problems SET message = :message, detail = :detail
WHERE installation_id = :installation_id
  AND (subject IN (:customer_subject, :debtor_subject)
       OR EXISTS (SELECT 1 FROM claims c
                  WHERE c.installation_id = problems.installation_id
                    AND c.customer_number = :customer_number
                    AND problems.subject IN ('invoice:' || CAST(c.invoice_number AS TEXT),
                                             'claim:' || CAST(c.invoice_number AS TEXT),
                                             'handover:' || CAST(c.invoice_number AS TEXT))))
