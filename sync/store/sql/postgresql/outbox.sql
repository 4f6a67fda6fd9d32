-- name: own_payments_of_invoices
-- Our vouchers' drops of these invoices' remainders, as own_payments_of_invoice reads one invoice's.
SELECT p.*, o.state AS outbox_state FROM own_payments p JOIN outbox o ON o.id = p.outbox_id
WHERE p.installation_id = :installation_id AND p.invoice_number = ANY(:invoice_numbers::bigint[])
  AND (o.state = 'sent' OR (o.state IN ('pending', 'failed') AND o.first_attempt_at IS NOT NULL))
ORDER BY p.invoice_number, p.outbox_id
