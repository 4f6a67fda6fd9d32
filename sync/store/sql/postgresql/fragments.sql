-- fragment: lease_now
-- The clock that judges leases: the database server's, the one clock workers on many machines share.
clock_timestamp()

-- fragment: lease_until
-- When a lease taken or renewed now runs out, by the server's clock.
clock_timestamp() + make_interval(secs => :lease_seconds)

-- fragment: try_lock_installation
-- Take the installation's claim lock if free (held to the end of the transaction), keyed by schema too.
pg_try_advisory_xact_lock(hashtext(current_schema() || '.jobs.claim'), CAST(inst AS INTEGER))

-- fragment: chosen_installations
-- The installation ids a claim locked, passed as an array.
SELECT unnest(CAST(:installations AS BIGINT[]))

-- fragment: skip_locked
-- Lock the picked rows, passing over any another transaction holds.
FOR UPDATE SKIP LOCKED
