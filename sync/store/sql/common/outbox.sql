-- name: add_outbox_item
-- Store a write before it is sent; a write with the same idempotency key is kept as it is.
INSERT INTO outbox (installation_id, platform, operation, idempotency_key, request, job, created_at)
VALUES (:installation_id, :platform, :operation, :idempotency_key, :request, :job, :now)
ON CONFLICT (idempotency_key) DO NOTHING

-- name: add_outbox_item_attempted
-- Store a write with its first attempt under way, in the commit before the call; nothing when its key is stored.
INSERT INTO outbox (installation_id, platform, operation, idempotency_key, request, job, created_at,
                    state, attempts, first_attempt_at, last_attempt_at)
VALUES (:installation_id, :platform, :operation, :idempotency_key, :request, :job, :now,
        'pending', 1, :now, :now)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING *

-- name: outbox_item_by_key
-- One write by its idempotency key.
SELECT * FROM outbox WHERE idempotency_key = :idempotency_key

-- name: outbox_item
-- One write by its id.
SELECT * FROM outbox WHERE id = :id

-- name: start_outbox_attempt
-- A write about to be sent (pending until its answer is stored; a crash leaves it so).
UPDATE outbox SET state = 'pending', attempts = attempts + 1,
    first_attempt_at = COALESCE(first_attempt_at, :now), last_attempt_at = :now
WHERE id = :id AND state IN ('pending', 'failed')

-- name: outbox_sent
-- The platform accepted a write: its answer is kept, and the row is returned (nothing when it was sent already).
UPDATE outbox SET state = 'sent', response = :response, sent_at = :now, last_error = NULL
WHERE id = :id AND state <> 'sent'
RETURNING *

-- name: outbox_not_sent
-- A write that failed (failed: tried again; dead: refused, waits for a person), with the error.
UPDATE outbox SET state = :state, last_error = :error WHERE id = :id AND state <> 'sent'

-- name: retry_outbox_item
-- A person sends a failed or dead write again: pending once more (a refused one under a new key).
-- A dead row was refused, or a person checked that it did not land: its attempts are forgotten.
UPDATE outbox SET state = 'pending',
    generation = generation + CASE WHEN state = 'dead' THEN 1 ELSE 0 END,
    first_attempt_at = CASE WHEN state = 'dead' THEN NULL ELSE first_attempt_at END
WHERE id = :id AND state IN ('failed', 'dead')

-- name: list_outbox
-- Writes in id order after a position, optionally of one installation and one state.
SELECT * FROM outbox
WHERE (CAST(:installation_id AS BIGINT) IS NULL OR installation_id = :installation_id)
  AND (CAST(:state AS TEXT) IS NULL OR state = :state)
  AND id > :after
ORDER BY id
LIMIT :limit

-- name: sent_since
-- An installation's writes of one operation the platform accepted since a time.
SELECT * FROM outbox
WHERE installation_id = :installation_id AND operation = :operation AND state = 'sent'
  AND sent_at >= :since
ORDER BY id

-- name: vouchers_in_flight
-- An installation's vouchers sent at least once whose answer we do not hold (they may be there).
SELECT * FROM outbox
WHERE installation_id = :installation_id AND operation IN ('voucher.payment', 'voucher.writeoff')
  AND state IN ('pending', 'failed') AND first_attempt_at IS NOT NULL
ORDER BY id

-- name: add_own_payment
-- What one of our vouchers will lower an invoice's remainder by, stored with the write.
INSERT INTO own_payments (outbox_id, installation_id, invoice_number, amount, journal_number)
VALUES (:outbox_id, :installation_id, :invoice_number, :amount, :journal_number)
ON CONFLICT (outbox_id, invoice_number) DO NOTHING

-- name: set_own_payment_voucher
-- The voucher e-conomic created for a write (to tell later whether it was booked).
UPDATE own_payments SET accounting_year = :accounting_year, voucher_number = :voucher_number
WHERE outbox_id = :outbox_id

-- name: own_payments_of_invoice
-- Our vouchers' drops of one invoice's remainder, sent or sent at least once (``outbox_state``).
SELECT p.*, o.state AS outbox_state FROM own_payments p JOIN outbox o ON o.id = p.outbox_id
WHERE p.installation_id = :installation_id AND p.invoice_number = :invoice_number
  AND (o.state = 'sent' OR (o.state IN ('pending', 'failed') AND o.first_attempt_at IS NOT NULL))
ORDER BY p.outbox_id

-- name: own_payment_booked
-- One of our vouchers was booked: its drop is in the invoice's remainder from now on.
UPDATE own_payments SET booked_at = :now
WHERE installation_id = :installation_id AND accounting_year = :accounting_year
  AND voucher_number = :voucher_number AND booked_at IS NULL

-- name: count_own_payment
-- A reconciliation subtracted this drop from the claim's remaining of :since.
UPDATE own_payments SET counted_from = :since
WHERE outbox_id = :outbox_id AND invoice_number = :invoice_number AND counted_from IS NULL

-- name: last_voucher_sent
-- The newest of an installation's vouchers the ledger accepted (a booking books up to it).
SELECT MAX(id) AS id FROM outbox
WHERE installation_id = :installation_id AND operation IN ('voucher.payment', 'voucher.writeoff')
  AND state = 'sent'

-- name: invoices_to_check
-- Invoices (after a number) with a drop of ours booked but not yet checked against the ledger.
SELECT DISTINCT invoice_number FROM own_payments
WHERE installation_id = :installation_id AND booked_at IS NOT NULL AND checked_at IS NULL
  AND invoice_number > :after
ORDER BY invoice_number
LIMIT :limit

-- name: own_payments_unbooked
-- An installation's drops of vouchers of ours that e-conomic holds, not known to be booked.
SELECT p.*, o.state AS outbox_state FROM own_payments p JOIN outbox o ON o.id = p.outbox_id
WHERE p.installation_id = :installation_id AND p.booked_at IS NULL
  AND p.voucher_number IS NOT NULL AND o.state = 'sent'
ORDER BY p.outbox_id

-- name: own_payment_checked
-- A booked drop was checked against the invoice's remainder in the ledger.
UPDATE own_payments SET checked_at = :now
WHERE outbox_id = :outbox_id AND invoice_number = :invoice_number AND checked_at IS NULL
