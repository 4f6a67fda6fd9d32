-- name: record_audit
-- Append one entry to the audit log: who did what, to which installation, when.
INSERT INTO audit_log (installation_id, actor, action, detail, at)
VALUES (:installation_id, :actor, :action, :detail, :at)
RETURNING id

-- name: list_audit
-- One installation's audit log, oldest first.
SELECT * FROM audit_log WHERE installation_id = :installation_id ORDER BY at, id
