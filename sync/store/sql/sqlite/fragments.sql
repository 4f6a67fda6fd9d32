-- fragment: lease_now
-- The clock that judges leases: every worker of a SQLite file is on one machine, whose clock serves.
:now

-- fragment: lease_until
-- When a lease taken or renewed now runs out, computed by the caller from the same clock.
:lease_until

-- fragment: try_lock_installation
-- Nothing to take: the claim's BEGIN IMMEDIATE already holds the one write lock.
1

-- fragment: chosen_installations
-- The installation ids a claim picked, passed as a JSON array.
SELECT value FROM json_each(:installations)

-- fragment: skip_locked
-- Nothing: SQLite has no row locks, and the write lock is already held.
