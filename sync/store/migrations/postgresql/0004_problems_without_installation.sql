-- Problems that belong to no installation (maintenance jobs, our own set-up) are deduplicated
-- too: NULL never equals NULL in a unique index, so the open-problem key uses 0 for "none".
-- Open duplicates recorded before this index existed are closed first, keeping the newest open
-- with the occurrences of all of them.
UPDATE problems SET occurrences = (
        SELECT SUM(d.occurrences) FROM problems d
        WHERE d.installation_id IS NULL AND d.resolved_at IS NULL
          AND d.code = problems.code AND d.subject = problems.subject)
WHERE id IN (
        SELECT MAX(k.id) FROM problems k
        WHERE k.installation_id IS NULL AND k.resolved_at IS NULL
        GROUP BY k.code, k.subject);
UPDATE problems SET resolved_at = last_seen_at
WHERE installation_id IS NULL AND resolved_at IS NULL AND id NOT IN (
        SELECT MAX(k.id) FROM problems k
        WHERE k.installation_id IS NULL AND k.resolved_at IS NULL
        GROUP BY k.code, k.subject);
DROP INDEX problems_open;
CREATE UNIQUE INDEX problems_open ON problems (COALESCE(installation_id, 0), code, subject)
    WHERE resolved_at IS NULL;
