-- name: upsert_claim
-- Record an overdue invoice or open credit note as read from the ledger; a new claim with the policy's first decision, an existing one's state and handover untouched.
INSERT INTO claims (installation_id, invoice_number, customer_number, kind, currency, gross_amount,
                    remaining, remaining_base, issued_on, due_date, document, fingerprint, seen_scan,
                    state, announced_on, handover_on, created_at, updated_at)
VALUES (:installation_id, :invoice_number, :customer_number, :kind, :currency, :gross_amount,
        :remaining, :remaining_base, :issued_on, :due_date, :document, :fingerprint, :seen_scan,
        :state, :announced_on, :handover_on, :now, :now)
ON CONFLICT (installation_id, invoice_number) DO UPDATE SET
    customer_number = excluded.customer_number, kind = excluded.kind, currency = excluded.currency,
    gross_amount = excluded.gross_amount, remaining = excluded.remaining,
    remaining_base = excluded.remaining_base, issued_on = excluded.issued_on,
    due_date = excluded.due_date, document = excluded.document, fingerprint = excluded.fingerprint,
    seen_scan = CASE WHEN excluded.seen_scan > claims.seen_scan THEN excluded.seen_scan ELSE claims.seen_scan END,
    updated_at = excluded.updated_at

-- name: get_claim
-- One claim by invoice number, with the policy's facts about its customer.
SELECT c.*, u.customer_group, COALESCE(u.barred, false) AS customer_barred
FROM claims c LEFT JOIN customers u
  ON u.installation_id = c.installation_id AND u.customer_number = c.customer_number
WHERE c.installation_id = :installation_id AND c.invoice_number = :invoice_number

-- name: claims_after
-- A page of an installation's claims by invoice number, with the policy's facts about their customers.
SELECT c.*, u.customer_group, COALESCE(u.barred, false) AS customer_barred
FROM claims c LEFT JOIN customers u
  ON u.installation_id = c.installation_id AND u.customer_number = c.customer_number
WHERE c.installation_id = :installation_id AND c.invoice_number > :after
ORDER BY c.invoice_number LIMIT :limit

-- name: claim_standings_after
-- A page of an installation's claims by invoice number with what the handover policy weighs (no documents).
SELECT c.invoice_number, c.kind, c.state, c.due_date, c.remaining, c.remaining_base, c.disputed,
       c.held, c.proposed, c.announced_on, c.handover_on,
       u.customer_group, COALESCE(u.barred, false) AS customer_barred
FROM claims c LEFT JOIN customers u
  ON u.installation_id = c.installation_id AND u.customer_number = c.customer_number
WHERE c.installation_id = :installation_id AND c.invoice_number > :after
ORDER BY c.invoice_number LIMIT :limit

-- name: claims_in_state_after
-- A page of an installation's claims in one state, by invoice number.
SELECT c.*, u.customer_group, COALESCE(u.barred, false) AS customer_barred
FROM claims c LEFT JOIN customers u
  ON u.installation_id = c.installation_id AND u.customer_number = c.customer_number
WHERE c.installation_id = :installation_id AND c.state = :state AND c.invoice_number > :after
ORDER BY c.invoice_number LIMIT :limit

-- name: claims_to_push
-- Claims not yet handed over whose content changed since last sent, whose debtor is in the collection account: invoices, and credit notes of customers that have invoice claims.
-- The credit notes' test is a scalar subquery, looked up by index for each credit note met: an
-- EXISTS under the OR is planned by PostgreSQL as a hashed subplan that reads every invoice claim
-- of the installation for each batch of 500 (measured: 50 ms a batch at 37,000 claims, 4 ms so).
SELECT c.invoice_number, c.customer_number, c.kind, c.document, c.fingerprint, c.document_at,
       c.pushed_fingerprint, c.updated_at
FROM claims c JOIN customers u
  ON u.installation_id = c.installation_id AND u.customer_number = c.customer_number
WHERE c.installation_id = :installation_id AND c.invoice_number > :after
  AND (c.pushed_fingerprint IS NULL OR c.pushed_fingerprint <> c.fingerprint)
  AND c.state NOT IN ('closed', 'withdrawn', 'in_collection')
  AND u.pushed_fingerprint IS NOT NULL
  AND (c.kind = 'invoice' OR (
        SELECT 1 FROM claims i WHERE i.installation_id = c.installation_id
           AND i.customer_number = c.customer_number AND i.kind = 'invoice'
           AND i.state NOT IN ('closed', 'withdrawn') LIMIT 1) IS NOT NULL)
ORDER BY c.invoice_number LIMIT :limit

-- name: mark_claim_pushed
-- Remember what the collection account now holds for a claim (unless the claim changed meanwhile).
UPDATE claims SET pushed_fingerprint = :fingerprint, collection_id = :collection_id, problem = NULL,
       updated_at = :now
WHERE installation_id = :installation_id AND invoice_number = :invoice_number
  AND fingerprint = :fingerprint

-- name: mark_claim_unsure
-- What the collection account holds for a claim is not known (a send whose lease passed to another sender may have landed after that sender's): sent again by the next send, and taken to be in the account (not NULL, which says it never reached it; no fingerprint is 'unsure').
UPDATE claims SET pushed_fingerprint = 'unsure', updated_at = :now
WHERE installation_id = :installation_id AND invoice_number = :invoice_number

-- name: set_claim_problem
-- Note why a claim could not be sent (the problems table says what to do).
UPDATE claims SET problem = :problem, updated_at = :now
WHERE installation_id = :installation_id AND invoice_number = :invoice_number

-- name: claim_customers
-- The customers that have open invoice claims.
SELECT DISTINCT customer_number FROM claims
WHERE installation_id = :installation_id AND kind = 'invoice' AND state NOT IN ('closed', 'withdrawn')

-- name: set_claim_state
-- Move a claim to the state the policy or an action decided.
UPDATE claims SET state = :state, announced_on = :announced_on, handover_on = :handover_on,
       updated_at = :now
WHERE installation_id = :installation_id AND invoice_number = :invoice_number

-- name: change_claim_state
-- Move a claim from the state it was read in (compare-and-set); with its flags.
UPDATE claims SET state = :state, held = :held, disputed = :disputed, proposed = :proposed,
       announced_on = :announced_on, handover_on = :handover_on, updated_at = :now
WHERE installation_id = :installation_id AND invoice_number = :invoice_number AND state = :expected

-- name: set_claim_handed_over
-- The claim is in collection, in this case (unless the case's events already ended it: a case.closed processed before the handover recorded its answer is not undone).
UPDATE claims SET state = 'in_collection', case_id = COALESCE(:case_id, case_id), updated_at = :now
WHERE installation_id = :installation_id AND invoice_number = :invoice_number
  AND state NOT IN ('closed', 'withdrawn')

-- name: unseen_claims
-- Open claims a complete scan did not meet: paid, credited or gone from the ledger since.
SELECT invoice_number FROM claims
WHERE installation_id = :installation_id AND seen_scan < :scan AND kind = 'invoice'
  AND state NOT IN ('closed', 'withdrawn')
ORDER BY invoice_number

-- name: count_claims_by_state
-- How many claims an installation has in each state.
SELECT state, COUNT(*) AS claims FROM claims WHERE installation_id = :installation_id GROUP BY state

-- name: claims_of_customer
-- Every claim of one customer.
SELECT c.*, u.customer_group, COALESCE(u.barred, false) AS customer_barred
FROM claims c LEFT JOIN customers u
  ON u.installation_id = c.installation_id AND u.customer_number = c.customer_number
WHERE c.installation_id = :installation_id AND c.customer_number = :customer_number
ORDER BY c.invoice_number

-- name: claim_prints_between
-- The claims with invoice numbers from :low to :high as stored: fingerprint, state and the remainder last seen.
SELECT invoice_number, fingerprint, state, remaining FROM claims
WHERE installation_id = :installation_id AND invoice_number BETWEEN :low AND :high

-- name: claims_without_document
-- Open invoice claims in the collection account whose PDF has not been sent and whose sync.document job is not waiting (queued, or failed and due again), by invoice number.
-- The job is found by its dedupe key (`sync.schedules.document`), through the jobs' partial
-- indexes on queued and on failed keys: one look-up per claim.
SELECT c.invoice_number FROM claims c JOIN installations i ON i.id = c.installation_id
WHERE c.installation_id = :installation_id AND c.invoice_number > :after AND c.document_at IS NULL
  AND c.kind = 'invoice' AND c.pushed_fingerprint IS NOT NULL
  AND c.state NOT IN ('closed', 'withdrawn')
  AND NOT EXISTS (
        SELECT 1 FROM jobs j
        WHERE j.dedupe_key = 'document:' || i.agreement_number || ':' || c.invoice_number
          AND j.state = 'queued')
  AND NOT EXISTS (
        SELECT 1 FROM jobs j
        WHERE j.dedupe_key = 'document:' || i.agreement_number || ':' || c.invoice_number
          AND j.state = 'failed')
ORDER BY c.invoice_number LIMIT :limit

-- name: set_claim_document_sent
-- The claim's PDF is in the collection account.
UPDATE claims SET document_at = :now, updated_at = :now
WHERE installation_id = :installation_id AND invoice_number = :invoice_number
