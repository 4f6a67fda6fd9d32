-- name: acquire_lease
-- Take a named lease if it is free, expired or already ours; returns a row only when taken.
INSERT INTO leases (name, holder, until) VALUES (:name, :holder, :until)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
WHERE leases.until < :now OR leases.holder = excluded.holder
RETURNING holder

-- name: holds_lease
-- Whether the holder still has the named lease (not expired); a row only when it does.
SELECT holder FROM leases WHERE name = :name AND holder = :holder AND until > :now

-- name: release_lease
-- Give a named lease back, only if we still hold it.
DELETE FROM leases WHERE name = :name AND holder = :holder

-- name: renew_lease
-- Extend a named lease its holder still has (not expired); a row only when renewed. Never takes a lease back that expired or passed to another holder.
UPDATE leases SET until = :until WHERE name = :name AND holder = :holder AND until > :now
RETURNING holder
