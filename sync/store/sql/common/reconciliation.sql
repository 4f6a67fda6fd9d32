-- name: reconciliation_payment_events
-- An installation's stored payment.received events (bodies kept), the report's payments as delivered.
SELECT id, body FROM inbox
WHERE installation_id = :installation_id AND source = 'collection'
  AND topic = 'payment.received' AND body IS NOT NULL
ORDER BY id

-- name: reconciliation_payment_vouchers
-- An installation's payment vouchers in the outbox, with how many of their invoice drops are booked.
SELECT o.id, o.state, o.request, o.response, o.job, o.last_error,
    (SELECT COUNT(*) FROM own_payments p WHERE p.outbox_id = o.id) AS drops,
    (SELECT COUNT(*) FROM own_payments p
     WHERE p.outbox_id = o.id AND p.booked_at IS NOT NULL) AS drops_booked
FROM outbox o
WHERE o.installation_id = :installation_id AND o.operation = 'voucher.payment'
ORDER BY o.id

-- name: reconciliation_writeoffs
-- An installation's write-off proposals with the state of their voucher in the outbox (if any).
SELECT a.id, a.subject, a.state, a.payload, o.state AS outbox_state, o.last_error
FROM approvals a
LEFT JOIN outbox o ON o.installation_id = a.installation_id
    AND o.operation = 'voucher.writeoff'
    AND o.idempotency_key = CAST(:key_prefix AS TEXT) || a.subject
WHERE a.installation_id = :installation_id AND a.kind = 'writeoff'
ORDER BY a.id

-- name: reconciliation_bookings
-- An installation's journal bookings the ledger accepted: their answers list the vouchers booked.
SELECT response FROM outbox
WHERE installation_id = :installation_id AND operation = 'journal.book' AND state = 'sent'
ORDER BY id
