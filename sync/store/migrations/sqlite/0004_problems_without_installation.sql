-- Problems that belong to no installation (maintenance jobs, our own set-up) are deduplicated
-- too: NULL never equals NULL in a unique index, so the open-problem key uses 0 for "none".
DROP INDEX problems_open;
CREATE UNIQUE INDEX problems_open ON problems (COALESCE(installation_id, 0), code, subject)
    WHERE resolved_at IS NULL;
