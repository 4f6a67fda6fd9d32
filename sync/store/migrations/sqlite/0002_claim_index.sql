-- Lets a claim walk the installations with waiting jobs (a loose index scan) and read only the
-- first few due jobs of each, instead of ranking every waiting job on every claim.
CREATE INDEX jobs_waiting_by_installation
    ON jobs (COALESCE(installation_id, 0), priority DESC, run_at, id)
    WHERE state IN ('queued', 'failed');
