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

`Leases.hold` waits for a lease and keeps it renewed while its block runs (a heartbeat every
third of its length), for work whose length is not known in advance, such as sending a
company's claims.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sync.errors import LeaseBusyError
from sync.store.db import Connection, DatabaseError

log = logging.getLogger(__name__)


@dataclass
class Held:
    """A lease `Leases.hold` took; ``lost`` once a renewal found it taken by another holder
    (the holder stalled past it): from then on nothing may be written as if it were held."""

    name: str
    holder: str
    lost: bool = False


class Leases:
    def __init__(self, db: Connection) -> None:
        self.db = db

    async def acquire(self, name: str, holder: str, *, ttl: float, now: dt.datetime) -> bool:
        """Take the lease for ``ttl`` seconds if it is free, expired or already ``holder``'s."""
        return await self._until("acquire_lease", name, holder, ttl=ttl, now=now)

    async def holds(self, name: str, holder: str, *, now: dt.datetime) -> bool:
        """Whether ``holder`` still has the lease. Run it in the transaction that writes under
        the lease: on PostgreSQL it locks the lease's row until that transaction ends, so
        nobody can take the lease between the check and the write; SQLite's write transaction
        holds the whole database."""
        return await self.db.fetchrow("holds_lease", name=name, holder=holder, now=now) is not None

    async def release(self, name: str, holder: str) -> bool:
        """Give the lease back, only if ``holder`` still has it."""
        return await self.db.execute("release_lease", name=name, holder=holder) == 1

    async def renew(self, name: str, holder: str, *, ttl: float, now: dt.datetime) -> bool:
        """Extend the lease for ``ttl`` seconds while ``holder`` still has it; False once it
        expired or passed on (never taken back, unlike `acquire`)."""
        return await self._until("renew_lease", name, holder, ttl=ttl, now=now)

    async def _until(
        self, query: str, name: str, holder: str, *, ttl: float, now: dt.datetime
    ) -> bool:
        """``query`` (acquire or renew) setting the lease's end ``ttl`` seconds on."""
        until = now + dt.timedelta(seconds=ttl)
        row = await self.db.fetchrow(
            query, name=name, holder=holder, ttl=float(ttl), until=until, now=now
        )
        return row is not None

    @asynccontextmanager
    async def hold(
        self,
        name: str,
        *,
        ttl: float,
        wait: float,
        clock: Callable[[], dt.datetime],
        renewals: Connection | None = None,
    ) -> AsyncIterator[Held]:
        """Wait for the lease (at most ``wait`` seconds by the monotonic clock, else a
        `LeaseBusyError`: the job waits and tries again, without spending an attempt), hold it
        renewed while the block runs (on ``renewals``, say `Database.reserved()`; by default
        where it was taken), give it back after. A holder that dies leaves it to expire after
        ``ttl`` seconds; one that stalled past it finds ``lost`` set at its next renewal."""
        held = Held(name, secrets.token_hex(8))
        deadline = time.monotonic() + wait
        pause = 0.005
        while not await self.acquire(name, held.holder, ttl=ttl, now=clock()):
            if time.monotonic() > deadline:
                raise LeaseBusyError(f"the lease {name} stayed busy for {wait:.0f} s")
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.5)
        keeper = Leases(renewals) if renewals is not None else self
        renewing = asyncio.create_task(keeper._renew(held, ttl=ttl, clock=clock))
        try:
            yield held
        finally:
            renewing.cancel()
            await asyncio.gather(renewing, return_exceptions=True)
            if not held.lost:
                try:
                    await self.release(name, held.holder)
                except DatabaseError:  # it expires by itself
                    log.warning("the lease %s could not be given back; it expires by itself", name)

    async def _renew(self, held: Held, *, ttl: float, clock: Callable[[], dt.datetime]) -> None:
        while not held.lost:
            await asyncio.sleep(ttl / 3)
            try:
                renewed = await self.renew(held.name, held.holder, ttl=ttl, now=clock())
            except DatabaseError:  # an outage: the next beat tries again; writes are fenced
                continue
            held.lost = not renewed
