-- name: get_sync_state
-- One stream's cursor, checkpoint and last successes.
SELECT * FROM sync_state WHERE installation_id = :installation_id AND stream = :stream

-- name: save_sync_checkpoint
-- Store a stream's cursor and checkpoint (after a page, in the page's transaction).
INSERT INTO sync_state (installation_id, stream, cursor, checkpoint, updated_at)
VALUES (:installation_id, :stream, :cursor, :checkpoint, :now)
ON CONFLICT (installation_id, stream) DO UPDATE SET
    cursor = excluded.cursor, checkpoint = excluded.checkpoint, updated_at = excluded.updated_at

-- name: mark_sync_success
-- A stream ran to its end: its last success, and (when :complete_at is set) its last complete scan.
INSERT INTO sync_state (installation_id, stream, last_success_at, last_complete_scan_at, updated_at)
VALUES (:installation_id, :stream, :now, :complete_at, :now)
ON CONFLICT (installation_id, stream) DO UPDATE SET
    last_success_at = excluded.last_success_at,
    last_complete_scan_at = COALESCE(excluded.last_complete_scan_at, sync_state.last_complete_scan_at),
    updated_at = excluded.updated_at

-- name: count_economic_hints_since
-- How many e-conomic webhook hints for an installation the inbox received at or after :since (by the inbox's installation and topic index).
SELECT COUNT(*) AS hints FROM inbox
WHERE installation_id = :installation_id AND source = 'economic' AND received_at >= :since
