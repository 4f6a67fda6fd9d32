-- name: audit_of_invoice
-- What people did to one claim: the audit entries naming the invoice, oldest first.
SELECT * FROM audit_log
WHERE installation_id = :installation_id AND action LIKE 'claim.%'
  AND detail->'invoice' = to_jsonb(:invoice_number::bigint)
ORDER BY at, id
