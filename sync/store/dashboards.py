"""What the settings pages summarise: open problems and money in collection per company, claims
per state, and the aging of overdue amounts. Amounts stay per currency: a sum across
currencies means nothing, so no query here makes one."""

from __future__ import annotations

import datetime as dt

import msgspec

from sync.store.db import Connection

AGING_BUCKETS = ("0–30", "31–60", "61–90", "90+")


class Amount(msgspec.Struct, frozen=True, kw_only=True):
    currency: str
    remaining: int
    claims: int


class Dashboards:
    def __init__(self, db: Connection) -> None:
        self.db = db

    async def open_problems(self, user_id: int) -> dict[int, int]:
        """Open problems per installation the user is a member of."""
        rows = await self.db.fetch("open_problem_counts", user_id=user_id)
        return {int(r["installation_id"]): int(r["problems"]) for r in rows}

    async def in_collection(self, user_id: int) -> dict[int, list[Amount]]:
        """The claims in collection per installation the user is a member of, per currency."""
        found: dict[int, list[Amount]] = {}
        for r in await self.db.fetch("amounts_in_collection", user_id=user_id):
            amount = Amount(
                currency=r["currency"], remaining=int(r["remaining"]), claims=int(r["claims"])
            )
            found.setdefault(int(r["installation_id"]), []).append(amount)
        return {k: sorted(v, key=lambda a: a.currency) for k, v in found.items()}

    async def claim_states(self, installation_id: int) -> dict[str, int]:
        rows = await self.db.fetch("claim_state_counts", installation_id=installation_id)
        return {str(r["state"]): int(r["claims"]) for r in rows}

    async def aging(self, installation_id: int, *, today: dt.date) -> dict[str, list[int]]:
        """Per currency, the remaining overdue amounts in the four `AGING_BUCKETS`."""
        rows = await self.db.fetch(
            "overdue_aging",
            installation_id=installation_id,
            today=today,
            edge_30=today - dt.timedelta(days=30),
            edge_60=today - dt.timedelta(days=60),
            edge_90=today - dt.timedelta(days=90),
        )
        found: dict[str, list[int]] = {}
        for r in rows:
            found.setdefault(r["currency"], [0] * len(AGING_BUCKETS))[int(r["bucket"])] = int(
                r["remaining"]
            )
        return dict(sorted(found.items()))
