-- name: insert_inbox_entry
-- Store one webhook delivery unless a delivery of its dedupe key is stored already (a duplicate: no row back).
INSERT INTO inbox (source, installation_id, dedupe_key, topic, headers, body, state, received_at,
                   processed_at)
VALUES (:source, :installation_id, :dedupe_key, :topic, :headers, :body, :state, :received_at,
        :processed_at)
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING id

-- name: list_inbox
-- Inbox entries, newest first, optionally of one installation and one source.
SELECT * FROM inbox
WHERE (CAST(:installation_id AS BIGINT) IS NULL OR installation_id = :installation_id)
  AND (CAST(:source AS TEXT) IS NULL OR source = :source)
ORDER BY id DESC
LIMIT :limit

-- name: count_inbox
-- How many deliveries the inbox holds, optionally of one source.
SELECT COUNT(*) AS n FROM inbox WHERE CAST(:source AS TEXT) IS NULL OR source = :source

-- name: get_inbox_entry
-- One inbox entry by id.
SELECT * FROM inbox WHERE id = :id

-- name: take_inbox_entry
-- Mark a collection event processed, if it is new or dead, before its effects in the same transaction (the row stays locked until the commit; a concurrent taker gets no row).
UPDATE inbox SET state = 'processed', processed_at = :now, error = NULL
WHERE id = :id AND source = 'collection' AND state IN ('new', 'dead')
RETURNING id

-- name: set_inbox_outcome
-- Record how a taken entry ended (rejected, or processed with a note) and why.
UPDATE inbox SET state = :state, error = :error, processed_at = :now WHERE id = :id

-- name: bury_inbox_entry
-- A collection event whose processing failed for a bug: dead, with the error, until replayed.
UPDATE inbox SET state = 'dead', error = :error, processed_at = :now
WHERE id = :id AND source = 'collection' AND state IN ('new', 'dead')

-- name: reopen_inbox_entry
-- A dead or rejected collection event made new again, to be processed once more (a replay).
UPDATE inbox SET state = 'new', error = NULL, processed_at = NULL
WHERE id = :id AND source = 'collection' AND state IN ('dead', 'rejected')

-- name: new_collection_entries
-- Collection events not processed yet (of one installation, or all), in id order after a position, with their agreement.
SELECT n.id, n.installation_id, n.dedupe_key, i.agreement_number
FROM inbox n JOIN installations i ON i.id = n.installation_id
WHERE n.state = 'new' AND n.source = 'collection'
  AND (CAST(:installation_id AS BIGINT) IS NULL OR n.installation_id = :installation_id)
  AND n.id > :after
ORDER BY n.id
LIMIT :limit

-- name: inbox_page
-- Inbox entries in id order after a position, with their agreement; optionally of one state, one installation, and only the companies a user is a member of.
SELECT n.id, n.source, n.installation_id, i.agreement_number, n.dedupe_key, n.topic, n.state,
       n.error, n.received_at, n.processed_at
FROM inbox n JOIN installations i ON i.id = n.installation_id
WHERE (CAST(:state AS TEXT) IS NULL OR n.state = :state)
  AND (CAST(:installation_id AS BIGINT) IS NULL OR n.installation_id = :installation_id)
  AND (CAST(:user_id AS BIGINT) IS NULL
       OR EXISTS (SELECT 1 FROM memberships m
                  WHERE m.user_id = :user_id AND m.installation_id = n.installation_id))
  AND n.id > :after
ORDER BY n.id
LIMIT :limit

-- name: oldest_new_inbox_entry
-- When the oldest entry still waiting to be processed was received (the inbox's lag).
SELECT received_at FROM inbox WHERE state = 'new' ORDER BY received_at LIMIT 1

-- name: count_dead_inbox
-- How many inbox entries are dead (failed for a bug, waiting for a replay).
SELECT COUNT(*) AS n FROM inbox WHERE state = 'dead'

-- name: lock_event_stream
-- Lock one installation's events stream (its sync_state row, made when missing) until the transaction ends.
INSERT INTO sync_state (installation_id, stream, checkpoint, updated_at)
VALUES (:installation_id, 'events', :checkpoint, :now)
ON CONFLICT (installation_id, stream) DO UPDATE SET updated_at = excluded.updated_at

-- name: add_timeline_entry
-- Note one event on a case's or a claim's timeline (once per event).
INSERT INTO timeline (installation_id, event_id, case_id, invoice_number, at, kind, detail)
VALUES (:installation_id, :event_id, :case_id, :invoice_number, :at, :kind, :detail)
ON CONFLICT (installation_id, event_id) DO NOTHING

-- name: case_closed_entry
-- The closing of one case, when its event was processed.
SELECT * FROM timeline
WHERE installation_id = :installation_id AND case_id = :case_id AND kind = 'case_closed'
LIMIT 1

-- name: timeline_of_invoice
-- An invoice's timeline: its own entries and those of the case it is in, oldest first.
SELECT * FROM timeline
WHERE installation_id = :installation_id
  AND (invoice_number = :invoice_number
       OR case_id = (SELECT c.case_id FROM claims c
                     WHERE c.installation_id = :installation_id
                       AND c.invoice_number = :invoice_number))
ORDER BY at, id

-- name: open_claim_in_case
-- A claim the platform opened a case for: in that case, from the state it was read in (compare-and-set).
UPDATE claims SET state = :state, case_id = :case_id, updated_at = :now
WHERE installation_id = :installation_id AND invoice_number = :invoice_number AND state = :expected

-- name: waiting_event_bodies
-- The bodies of one installation's collection events stored but not processed (new or dead): their sequences are stored, so no gap.
SELECT body FROM inbox
WHERE installation_id = :installation_id AND source = 'collection' AND state IN ('new', 'dead')
ORDER BY id
LIMIT :limit

-- name: purge_processed_hints
-- Up to :limit processed e-conomic hints received before :before go, oldest first, except each installation's newest of each topic (what `webhooks.economic.last_received` shows).
DELETE FROM inbox WHERE id IN (
    SELECT n.id FROM inbox n
    WHERE n.source = 'economic' AND n.state = 'processed' AND n.received_at < :before
      AND EXISTS (SELECT 1 FROM inbox m
                  WHERE m.installation_id = n.installation_id AND m.source = 'economic'
                    AND m.topic = n.topic
                    AND (m.received_at > n.received_at
                         OR (m.received_at = n.received_at AND m.id > n.id)))
    ORDER BY n.id
    LIMIT :limit)
