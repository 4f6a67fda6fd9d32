-- name: record_audit
-- Append one entry to the audit log: who did what, to which installation, when.
INSERT INTO audit_log (installation_id, actor, action, detail, at)
VALUES (:installation_id, :actor, :action, :detail, :at)
RETURNING id

-- name: list_audit
-- One installation's audit log, oldest first.
SELECT * FROM audit_log WHERE installation_id = :installation_id ORDER BY at, id

-- name: search_audit
-- A page of one installation's audit log, newest first, below the id :before (0: from the newest), of one :action ('' any) and matching :pattern ('' any: a lower-case LIKE pattern over actor, action and the detail's JSON text).
SELECT * FROM audit_log
WHERE installation_id = :installation_id
  AND (CAST(:before AS BIGINT) = 0 OR id < CAST(:before AS BIGINT))
  AND (:action = '' OR action = :action)
  AND (:pattern = ''
       OR LOWER(actor) LIKE :pattern ESCAPE '\'
       OR LOWER(action) LIKE :pattern ESCAPE '\'
       OR LOWER(CAST(detail AS TEXT)) LIKE :pattern ESCAPE '\')
ORDER BY id DESC
LIMIT :limit

-- name: audit_actions
-- The actions one installation's audit log holds, for a filter to offer.
SELECT DISTINCT action FROM audit_log WHERE installation_id = :installation_id ORDER BY action
