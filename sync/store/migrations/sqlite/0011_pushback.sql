-- Push-back (issue 12). The outbox learns when a write was first and last attempted (a retry
-- later than the platform keeps idempotency keys reads back before it sends again), the job
-- that sends it (for a person's retry), and the `generation` of its key: a person's retry of a
-- refused write sends it under a new one (e-conomic would replay the refusal for an hour).
-- `own_payments`: what each of our vouchers lowers an invoice's remainder by once booked, so
-- that reconciliation never reports our own money back to the collection platform as a
-- creditor payment (no echo). `approvals` (write-off proposals among them) gains an index to
-- list one kind in order.
ALTER TABLE outbox ADD COLUMN first_attempt_at TIMESTAMPTZ;
ALTER TABLE outbox ADD COLUMN last_attempt_at TIMESTAMPTZ;
ALTER TABLE outbox ADD COLUMN job JSON;
ALTER TABLE outbox ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
CREATE INDEX outbox_by_installation ON outbox (installation_id, state, id);

CREATE TABLE own_payments (
    outbox_id INTEGER NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
    installation_id INTEGER NOT NULL REFERENCES installations(id) ON DELETE CASCADE,
    invoice_number INTEGER NOT NULL,
    -- minor units of the invoice's currency: how much the remainder drops once booked
    amount INTEGER NOT NULL,
    journal_number INTEGER NOT NULL,
    accounting_year TEXT,
    voucher_number INTEGER,
    booked_at TIMESTAMPTZ,
    -- the claim's stored remaining when a reconciliation first subtracted this drop
    counted_from INTEGER,
    PRIMARY KEY (outbox_id, invoice_number)
);
CREATE INDEX own_payments_by_invoice ON own_payments (installation_id, invoice_number);
CREATE INDEX approvals_by_kind ON approvals (installation_id, kind, id);
-- The claims of one case (case.closed names the case, not its claims).
CREATE INDEX claims_by_case ON claims (installation_id, case_id) WHERE case_id IS NOT NULL;
