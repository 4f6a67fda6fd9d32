"""Named leases held in the database: a lock that works across processes and machines.

Used where exactly one process may act at a time, such as refreshing one installation's OAuth
token. A lease expires by itself, so a crashed holder cannot block the others for long.
"""

from __future__ import annotations

import datetime as dt

from sync.store.db import Database


class Leases:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def acquire(self, name: str, holder: str, *, ttl: float, now: dt.datetime) -> bool:
        row = await self.db.fetchrow(
            "acquire_lease",
            name=name,
            holder=holder,
            until=now + dt.timedelta(seconds=ttl),
            now=now,
        )
        return row is not None

    async def release(self, name: str, holder: str) -> bool:
        return await self.db.execute("release_lease", name=name, holder=holder) == 1
