-- A new hint looks for a twin of its dedupe key that is waiting out a backoff (state 'failed').
CREATE INDEX jobs_dedupe_failed ON jobs (dedupe_key) WHERE dedupe_key IS NOT NULL AND state = 'failed';
