-- The sync engine's own records. `claims`: every overdue invoice and open credit note we keep
-- in the collection account, with what we last sent (fingerprints) and where it stands in the
-- handover (DESIGN.md's claim states). `customers`: the ledger customers that have claims, with
-- only what the policy needs (group, barred) and what we last sent; names, addresses and e-mails
-- are never kept here, they are re-read from the ledger when sent. Amounts are integer minor
-- units of the claim's currency (`remaining_base`: of the company's base currency).
CREATE TABLE claims (
    installation_id INTEGER NOT NULL REFERENCES installations(id) ON DELETE CASCADE,
    invoice_number INTEGER NOT NULL,
    customer_number INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('invoice', 'credit_note')),
    currency TEXT NOT NULL,
    gross_amount INTEGER NOT NULL,
    remaining INTEGER NOT NULL,
    remaining_base INTEGER NOT NULL,
    issued_on DATE NOT NULL,
    due_date DATE NOT NULL,
    document JSON NOT NULL,
    fingerprint TEXT NOT NULL,
    pushed_fingerprint TEXT,
    collection_id TEXT,
    state TEXT NOT NULL DEFAULT 'monitoring'
        CHECK (state IN ('monitoring', 'awaiting_approval', 'scheduled', 'held', 'in_collection', 'closed', 'withdrawn')),
    disputed BOOLEAN NOT NULL DEFAULT 0,
    held BOOLEAN NOT NULL DEFAULT 0,
    proposed BOOLEAN NOT NULL DEFAULT 0,
    announced_on DATE,
    handover_on DATE,
    case_id TEXT,
    seen_scan INTEGER NOT NULL DEFAULT 0,
    problem TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (installation_id, invoice_number)
);
CREATE INDEX claims_by_state ON claims (installation_id, state, invoice_number);
CREATE INDEX claims_by_customer ON claims (installation_id, customer_number);
CREATE INDEX claims_unpushed ON claims (installation_id, invoice_number) WHERE pushed_fingerprint IS NULL OR pushed_fingerprint <> fingerprint;

CREATE TABLE customers (
    installation_id INTEGER NOT NULL REFERENCES installations(id) ON DELETE CASCADE,
    customer_number INTEGER NOT NULL,
    customer_group INTEGER,
    barred BOOLEAN NOT NULL DEFAULT 0,
    fingerprint TEXT,
    pushed_fingerprint TEXT,
    collection_id TEXT,
    last_updated TIMESTAMPTZ,
    problem TEXT,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (installation_id, customer_number)
);
