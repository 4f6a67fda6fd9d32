-- name: acquire_lease
-- Take a named lease if it is free, expired or ours, by the server's clock; a row only when taken.
INSERT INTO leases (name, holder, until)
VALUES (:name, :holder, clock_timestamp() + make_interval(secs => :ttl))
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
WHERE leases.until < clock_timestamp() OR leases.holder = excluded.holder
RETURNING holder

-- name: holds_lease
-- Whether the holder still has the named lease by the server's clock; locks its row till commit.
SELECT holder FROM leases
WHERE name = :name AND holder = :holder AND until > clock_timestamp()
FOR UPDATE

-- name: renew_lease
-- Extend a named lease its holder still has, by the server's clock; a row only when renewed. Never takes a lease back that expired or passed to another holder.
UPDATE leases SET until = clock_timestamp() + make_interval(secs => :ttl)
WHERE name = :name AND holder = :holder AND until > clock_timestamp()
RETURNING holder
