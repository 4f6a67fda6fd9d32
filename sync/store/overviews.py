"""Installation overviews: what a member sees of each company, read for a page at a time.

An overview joins an installation with the reader's role in it, the last success of each sync
stream, when each e-conomic webhook topic last arrived and the e-conomic calls of the rolling
24 hours (the window of `sync.store.usage`). A page costs four queries, whatever its size:
each of the last three reads the page's id range, joined with the reader's memberships, so the
installations of other companies in that range are never read.
"""

from __future__ import annotations

import builtins
import datetime as dt
from typing import Any, cast

import msgspec

from sync.store.db import Connection, as_datetime, to_struct
from sync.store.installations import Installation
from sync.store.usage import WINDOW, minute_bucket
from sync.store.users import Role

ECONOMIC_TOPICS = ("invoice", "customer", "daybook")


class InstallationOverview(msgspec.Struct, frozen=True, kw_only=True):
    installation: Installation
    role: Role
    streams: dict[str, dt.datetime]
    """Last success per sync stream (``customers``, ``invoices``, ``events``); absent: never."""
    last_received: dict[str, dt.datetime | None]
    """When each e-conomic webhook topic (`ECONOMIC_TOPICS`) last arrived."""
    economic_calls_24h: int


class Overviews:
    def __init__(self, db: Connection) -> None:
        self.db = db

    async def page(
        self, user_id: int, *, after: int, limit: int, now: dt.datetime
    ) -> tuple[builtins.list[InstallationOverview], bool]:
        """Up to ``limit`` installations the user is a member of, with ids above ``after``;
        and whether more follow."""
        rows = await self.db.fetch(
            "member_installations", user_id=user_id, after=after, limit=limit + 1
        )
        members = [(to_struct(r, Installation), cast(Role, r["member_role"])) for r in rows]
        return await self._complete(user_id, members[:limit], now=now), len(members) > limit

    async def one(
        self, user_id: int, installation: Installation, role: Role, *, now: dt.datetime
    ) -> InstallationOverview:
        """The overview of one installation the user is known to be a member of."""
        (found,) = await self._complete(user_id, [(installation, role)], now=now)
        return found

    async def _complete(
        self, user_id: int, members: builtins.list[tuple[Installation, Role]], *, now: dt.datetime
    ) -> builtins.list[InstallationOverview]:
        if not members:
            return []
        ids = {"user_id": user_id, "first": members[0][0].id, "last": members[-1][0].id}
        streams: dict[int, dict[str, dt.datetime]] = {}
        for row in await self.db.fetch("stream_successes", **ids):
            if (at := as_datetime(row["last_success_at"])) is not None:
                streams.setdefault(int(row["installation_id"]), {})[row["stream"]] = at
        received = {
            int(row["installation_id"]): _received(row)
            for row in await self.db.fetch("economic_hints_received", **ids)
        }
        calls = {
            int(row["installation_id"]): int(row["calls"])
            for row in await self.db.fetch(
                "platform_calls_since",
                **ids,
                platform="economic",
                since=minute_bucket(now - WINDOW),
            )
        }
        return [
            InstallationOverview(
                installation=installation,
                role=role,
                streams=streams.get(installation.id, {}),
                last_received=received.get(installation.id, dict.fromkeys(ECONOMIC_TOPICS)),
                economic_calls_24h=calls.get(installation.id, 0),
            )
            for installation, role in members
        ]


def _received(row: dict[str, Any]) -> dict[str, dt.datetime | None]:
    return {topic: as_datetime(row[topic]) for topic in ECONOMIC_TOPICS}
