-- name: audit_of_invoice
-- What people did to one claim: the audit entries naming the invoice, oldest first.
SELECT * FROM audit_log
WHERE installation_id = :installation_id AND action LIKE 'claim.%'
  AND json_extract(detail, '$.invoice') = :invoice_number
ORDER BY at, id
