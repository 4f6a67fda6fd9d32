-- One running job per serial key, held by the database itself: the claim already never starts a
-- busy key, and this index turns any slip (a key shared across installations, say) into a refused
-- claim instead of two writers at once. A sweep runs before a claim, so rows left running by dead
-- workers never block it for longer than their lease.
DROP INDEX jobs_running_serial;
CREATE UNIQUE INDEX jobs_running_serial ON jobs (serial_key) WHERE state = 'running' AND serial_key IS NOT NULL;
