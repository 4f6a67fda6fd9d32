-- Collection events (issue 11, inbox processing). An inbox row gains the state `dead` (processing
-- failed for a bug: kept, listed and replayable) and the `error` that put it there (or why a row
-- was rejected or skipped). SQLite cannot change a CHECK constraint: the table is rebuilt with
-- its rows, ids and indexes (nothing references it). `timeline`: what happened in a case or to
-- one claim, one row per event (a case's events show on every invoice of that case).
CREATE TABLE inbox_rebuilt (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL CHECK (source IN ('economic', 'collection')),
    installation_id INTEGER REFERENCES installations(id) ON DELETE CASCADE,
    dedupe_key TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    headers JSON NOT NULL DEFAULT '{}',
    body BLOB,
    state TEXT NOT NULL DEFAULT 'new' CHECK (state IN ('new', 'processed', 'rejected', 'dead')),
    received_at TIMESTAMPTZ NOT NULL,
    processed_at TIMESTAMPTZ,
    error TEXT
);
INSERT INTO inbox_rebuilt (id, source, installation_id, dedupe_key, topic, headers, body, state,
                           received_at, processed_at)
SELECT id, source, installation_id, dedupe_key, topic, headers, body, state, received_at,
       processed_at
FROM inbox;
DROP TABLE inbox;
ALTER TABLE inbox_rebuilt RENAME TO inbox;
CREATE INDEX inbox_new ON inbox (received_at) WHERE state = 'new';
CREATE INDEX inbox_installation_topic ON inbox (installation_id, source, topic, received_at);
CREATE INDEX inbox_by_state ON inbox (state, id) WHERE state IN ('dead', 'rejected');

CREATE TABLE timeline (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    installation_id INTEGER NOT NULL REFERENCES installations(id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    case_id TEXT,
    invoice_number INTEGER,
    at TIMESTAMPTZ NOT NULL,
    kind TEXT NOT NULL,
    detail JSON NOT NULL DEFAULT '{}',
    UNIQUE (installation_id, event_id)
);
CREATE INDEX timeline_by_case ON timeline (installation_id, case_id, at) WHERE case_id IS NOT NULL;
CREATE INDEX timeline_by_invoice ON timeline (installation_id, invoice_number, at)
    WHERE invoice_number IS NOT NULL;
