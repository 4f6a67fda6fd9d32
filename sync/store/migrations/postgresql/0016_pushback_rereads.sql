-- Push-back re-reads (issue 12, item 1): after one of our vouchers is booked, its invoices'
-- remainders are re-read (coalesced per installation, 200 invoices a call) and a voucher whose
-- principal did not lower the remainder becomes a problem. `checked_at` says when a booked drop
-- was checked so; drops a reconciliation already subtracted before this column existed count as
-- checked.
ALTER TABLE own_payments ADD COLUMN checked_at TIMESTAMPTZ;
UPDATE own_payments SET checked_at = booked_at WHERE booked_at IS NOT NULL AND counted_from IS NOT NULL;
CREATE INDEX own_payments_to_check ON own_payments (installation_id, invoice_number)
    WHERE booked_at IS NOT NULL AND checked_at IS NULL;
