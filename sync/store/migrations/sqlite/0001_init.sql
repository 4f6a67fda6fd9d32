-- The first schema: installations, people, webhook inbox, jobs, sync state, links, outbox,
-- approvals, problems, audit log, API budget and database leases. Timestamps are fixed-width
-- UTC text (see sync/store/sqlite.py); JSON is text.
CREATE TABLE installations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    agreement_number INTEGER NOT NULL UNIQUE,
    installation_key TEXT NOT NULL UNIQUE,
    company_name TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'active', 'paused', 'revoked', 'deleted')),
    economic_token TEXT,
    webhook_secret TEXT,
    collection_state TEXT NOT NULL DEFAULT 'none' CHECK (collection_state IN ('none', 'ok', 'lost')),
    collection_account_id TEXT,
    collection_access_token TEXT,
    collection_refresh_token TEXT,
    collection_previous_refresh_token TEXT,
    collection_token_expires_at TIMESTAMPTZ,
    collection_tokens_rotated_at TIMESTAMPTZ,
    settings JSON NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ,
    deleted_at TIMESTAMPTZ
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE memberships (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    installation_id INTEGER NOT NULL REFERENCES installations(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('guest', 'caseworker', 'admin')),
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, installation_id)
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ
);

CREATE TABLE inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL CHECK (source IN ('economic', 'collection')),
    installation_id INTEGER REFERENCES installations(id) ON DELETE CASCADE,
    dedupe_key TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    headers JSON NOT NULL DEFAULT '{}',
    body BLOB,
    state TEXT NOT NULL DEFAULT 'new' CHECK (state IN ('new', 'processed', 'rejected')),
    received_at TIMESTAMPTZ NOT NULL,
    processed_at TIMESTAMPTZ
);
CREATE INDEX inbox_new ON inbox (received_at) WHERE state = 'new';

CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    installation_id INTEGER REFERENCES installations(id) ON DELETE CASCADE,
    payload JSON NOT NULL DEFAULT '{}',
    dedupe_key TEXT,
    serial_key TEXT,
    priority INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'parked', 'dead')),
    run_at TIMESTAMPTZ NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 10,
    lease_token TEXT,
    lease_until TIMESTAMPTZ,
    worker_id TEXT,
    last_error TEXT,
    error_code TEXT,
    progress_done INTEGER NOT NULL DEFAULT 0,
    progress_total INTEGER,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX jobs_dedupe ON jobs (dedupe_key) WHERE dedupe_key IS NOT NULL AND state = 'queued';
CREATE INDEX jobs_waiting ON jobs (run_at) WHERE state IN ('queued', 'failed');
CREATE INDEX jobs_running ON jobs (lease_until) WHERE state = 'running';
CREATE INDEX jobs_running_serial ON jobs (serial_key) WHERE state = 'running';
CREATE INDEX jobs_installation ON jobs (installation_id, state);
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state IN ('succeeded', 'dead');

CREATE TABLE sync_state (
    installation_id INTEGER NOT NULL REFERENCES installations(id) ON DELETE CASCADE,
    stream TEXT NOT NULL,
    cursor TEXT,
    checkpoint JSON NOT NULL DEFAULT '{}',
    last_success_at TIMESTAMPTZ,
    last_complete_scan_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (installation_id, stream)
);

CREATE TABLE links (
    installation_id INTEGER NOT NULL REFERENCES installations(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    ledger_id TEXT NOT NULL,
    collection_id TEXT,
    fingerprint TEXT,
    pushed_version INTEGER,
    state JSON NOT NULL DEFAULT '{}',
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (installation_id, kind, ledger_id)
);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    installation_id INTEGER NOT NULL REFERENCES installations(id) ON DELETE CASCADE,
    platform TEXT NOT NULL CHECK (platform IN ('economic', 'collection')),
    operation TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    request JSON NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    response JSON,
    last_error TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    sent_at TIMESTAMPTZ
);

CREATE TABLE approvals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    installation_id INTEGER NOT NULL REFERENCES installations(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    payload JSON NOT NULL DEFAULT '{}',
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'rejected')),
    requested_by INTEGER REFERENCES users(id),
    decided_by INTEGER REFERENCES users(id),
    created_at TIMESTAMPTZ NOT NULL,
    decided_at TIMESTAMPTZ,
    UNIQUE (installation_id, kind, subject)
);

CREATE TABLE problems (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    installation_id INTEGER REFERENCES installations(id) ON DELETE CASCADE,
    category TEXT NOT NULL
        CHECK (category IN ('missing_data', 'rejected_by_collector', 'ledger_refused', 'auth_lost', 'bug')),
    code TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL,
    detail JSON NOT NULL DEFAULT '{}',
    occurrences INTEGER NOT NULL DEFAULT 1,
    first_seen_at TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    resolved_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX problems_open ON problems (installation_id, code, subject) WHERE resolved_at IS NULL;

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    installation_id INTEGER REFERENCES installations(id) ON DELETE SET NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail JSON NOT NULL DEFAULT '{}',
    at TIMESTAMPTZ NOT NULL
);

CREATE TABLE api_usage (
    installation_id INTEGER NOT NULL REFERENCES installations(id) ON DELETE CASCADE,
    platform TEXT NOT NULL,
    minute TIMESTAMPTZ NOT NULL,
    calls INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (installation_id, platform, minute)
);

CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until TIMESTAMPTZ NOT NULL
);
