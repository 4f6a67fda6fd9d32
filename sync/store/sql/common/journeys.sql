-- name: claims_matching
-- A company's claims whose invoice or customer number is :number (the claims page's search).
SELECT c.*, cu.customer_group, cu.barred AS customer_barred FROM claims c
LEFT JOIN customers cu ON cu.installation_id = c.installation_id AND cu.customer_number = c.customer_number
WHERE c.installation_id = :installation_id AND (c.invoice_number = :number OR c.customer_number = :number)
ORDER BY c.invoice_number
LIMIT :limit

-- name: handover_jobs_of_invoice
-- The handover jobs of one claim (by their dedupe key), oldest first.
SELECT id, state, created_at, finished_at FROM jobs
WHERE installation_id = :installation_id AND kind = 'handover.claim' AND dedupe_key = :dedupe_key
ORDER BY id

-- name: own_payments_of_invoice
-- Our vouchers that pay towards one invoice: the principal, the voucher and when it was sent and booked.
SELECT p.outbox_id, p.amount, p.journal_number, p.voucher_number, p.booked_at,
       o.state, o.created_at, o.sent_at, o.idempotency_key
FROM own_payments p JOIN outbox o ON o.id = p.outbox_id
WHERE p.installation_id = :installation_id AND p.invoice_number = :invoice_number
ORDER BY p.outbox_id
