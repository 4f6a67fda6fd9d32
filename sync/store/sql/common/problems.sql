-- name: record_problem
-- Record an actionable problem, or count one more occurrence of the same open problem.
INSERT INTO problems (installation_id, category, code, subject, message, detail, first_seen_at, last_seen_at)
VALUES (:installation_id, :category, :code, :subject, :message, :detail, :now, :now)
ON CONFLICT (COALESCE(installation_id, 0), code, subject) WHERE resolved_at IS NULL
DO UPDATE SET occurrences = problems.occurrences + 1, last_seen_at = excluded.last_seen_at,
              message = excluded.message, detail = excluded.detail
RETURNING id

-- name: list_open_problems
-- Open problems of one installation, newest first.
SELECT * FROM problems WHERE installation_id = :installation_id AND resolved_at IS NULL
ORDER BY last_seen_at DESC, id DESC

-- name: resolve_problem
-- Close a problem.
UPDATE problems SET resolved_at = :now WHERE id = :id AND resolved_at IS NULL

-- name: resolve_open_problems
-- Close an installation's open problems of one code, once their cause is gone.
UPDATE problems SET resolved_at = :now
WHERE installation_id = :installation_id AND code = :code AND resolved_at IS NULL

-- name: open_problems_without_installation
-- Open problems of the service itself (no installation), newest first.
SELECT * FROM problems WHERE installation_id IS NULL AND resolved_at IS NULL
ORDER BY last_seen_at DESC, id DESC

-- name: open_problem_subjects
-- The subjects of an installation's open problems (to clear those whose cause is gone).
SELECT DISTINCT subject FROM problems WHERE installation_id = :installation_id AND resolved_at IS NULL

-- name: resolve_problems_of_subject
-- Close an installation's open problems about one record, once it went through.
UPDATE problems SET resolved_at = :now
WHERE installation_id = :installation_id AND subject = :subject AND resolved_at IS NULL
