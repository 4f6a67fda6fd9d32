"""API budget: calls per installation and platform, counted in the database.

Every process adds to the same minute buckets, so the rolling 24-hour count that keeps an
agreement inside e-conomic's fair-use limit (50,000 calls) is shared by all workers.
"""

from __future__ import annotations

import datetime as dt

from sync.store.db import Database, as_datetime

WINDOW = dt.timedelta(hours=24)


def minute_bucket(at: dt.datetime) -> dt.datetime:
    return at.astimezone(dt.UTC).replace(second=0, microsecond=0)


class ApiUsage:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record_api_call(self, installation_id: int, platform: str, at: dt.datetime) -> None:
        await self.db.execute(
            "record_api_call",
            installation_id=installation_id,
            platform=platform,
            minute=minute_bucket(at),
        )

    async def calls_24h(self, installation_id: int, platform: str, now: dt.datetime) -> int:
        """Calls in the last 24 hours, counting the whole minute at the window's start."""
        return await self.calls_within(installation_id, platform, now, WINDOW)

    async def calls_within(
        self, installation_id: int, platform: str, now: dt.datetime, window: dt.timedelta
    ) -> int:
        row = await self.db.fetchrow(
            "api_calls_since",
            installation_id=installation_id,
            platform=platform,
            since=minute_bucket(now - window),
        )
        return int(row["calls"]) if row else 0

    async def budget_wait(
        self,
        installation_id: int,
        platform: str,
        *,
        limit: int,
        now: dt.datetime,
        window: dt.timedelta = WINDOW,
    ) -> float:
        """Seconds until the rolling count of ``window`` drops below ``limit`` again; 0 when
        it is below now.

        Reads the minute buckets only when the window is full, which is rare.
        """
        since = minute_bucket(now - window)
        if await self.calls_within(installation_id, platform, now, window) < limit:
            return 0.0
        rows = await self.db.fetch(
            "api_call_buckets_since",
            installation_id=installation_id,
            platform=platform,
            since=since,
        )
        left = sum(int(r["calls"]) for r in rows)
        for row in rows:
            left -= int(row["calls"])
            if left < limit:
                # The bucket is counted until the window's start passes the whole minute.
                minute = as_datetime(row["minute"])
                assert minute is not None
                reopens = minute + window + dt.timedelta(minutes=1)
                return max((reopens - now).total_seconds(), 0.0)
        return window.total_seconds()

    async def purge(self, now: dt.datetime) -> int:
        return await self.db.execute("purge_api_usage", before=minute_bucket(now - WINDOW))
