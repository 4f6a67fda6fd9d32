-- name: add_writeoff
-- Store a written-off case's proposal for approval; a case proposed before keeps its proposal.
INSERT INTO approvals (installation_id, kind, subject, payload, created_at)
VALUES (:installation_id, 'writeoff', :case_id, :payload, :now)
ON CONFLICT (installation_id, kind, subject) DO NOTHING

-- name: writeoff_of_case
-- The write-off proposal of one case.
SELECT * FROM approvals
WHERE installation_id = :installation_id AND kind = 'writeoff' AND subject = :case_id

-- name: writeoff
-- One write-off proposal of an installation by id.
SELECT * FROM approvals WHERE id = :id AND installation_id = :installation_id AND kind = 'writeoff'

-- name: list_writeoffs
-- An installation's write-off proposals in id order after a position, optionally of one state.
SELECT * FROM approvals
WHERE installation_id = :installation_id AND kind = 'writeoff'
  AND (CAST(:state AS TEXT) IS NULL OR state = :state)
  AND id > :after
ORDER BY id
LIMIT :limit

-- name: approve_writeoff
-- An admin approves a pending write-off.
UPDATE approvals SET state = 'approved', decided_by = :user_id, decided_at = :now
WHERE id = :id AND installation_id = :installation_id AND kind = 'writeoff' AND state = 'pending'

-- name: claims_of_case
-- The invoice numbers of an installation's claims handed over into one case.
SELECT invoice_number FROM claims
WHERE installation_id = :installation_id AND case_id = :case_id
ORDER BY invoice_number
