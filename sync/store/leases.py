"""Named leases held in the database: a lock that works across processes and machines.

Used where exactly one process may act at a time, such as refreshing one installation's OAuth
token. A lease expires by itself, so a crashed holder cannot block the others for long; and
because it expires, a holder that stalled past it (an event-loop stall, a database blip) may
find it taken: whatever it writes under the lease must first check, in the same transaction,
that it `holds` it still. That check fences the stale holder.

Which clock judges expiry: on PostgreSQL the database server's (``clock_timestamp()``), the one
clock that workers on many machines share, so a worker whose clock runs ahead can neither take
a live lease nor keep a dead one; the ``now`` passed in is then unused. On SQLite every worker
is on one machine and the ``now`` passed in serves.
"""

from __future__ import annotations

import datetime as dt

from sync.store.db import Connection


class Leases:
    def __init__(self, db: Connection) -> None:
        self.db = db

    async def acquire(self, name: str, holder: str, *, ttl: float, now: dt.datetime) -> bool:
        """Take the lease for ``ttl`` seconds if it is free, expired or already ``holder``'s."""
        row = await self.db.fetchrow(
            "acquire_lease",
            name=name,
            holder=holder,
            ttl=float(ttl),
            until=now + dt.timedelta(seconds=ttl),
            now=now,
        )
        return row is not None

    async def holds(self, name: str, holder: str, *, now: dt.datetime) -> bool:
        """Whether ``holder`` still has the lease. Run it in the transaction that writes under
        the lease: on PostgreSQL it locks the lease's row until that transaction ends, so
        nobody can take the lease between the check and the write; SQLite's write transaction
        holds the whole database."""
        return await self.db.fetchrow("holds_lease", name=name, holder=holder, now=now) is not None

    async def release(self, name: str, holder: str) -> bool:
        """Give the lease back, only if ``holder`` still has it."""
        return await self.db.execute("release_lease", name=name, holder=holder) == 1
