"""Install states: the server-side half of the state cookie of an e-conomic install.

e-conomic's grant page echoes no ``state`` parameter, so `plugin.install` binds the flow to a
signed cookie holding a random nonce; this table records each nonce when the install begins and
marks it used when the callback completes, so a callback whose nonce we never issued is foreign
and a second one with the same nonce is a replay.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from sync.store.db import Connection, to_struct


class InstallState(msgspec.Struct, frozen=True, kw_only=True):
    nonce: str
    created_at: dt.datetime
    used_at: dt.datetime | None = None
    linking_user_id: int | None = None
    """Who asked for this install with "add a client company" (its callback links the new
    company to them when they are still the one signed in); None: an install like any other."""


class InstallStates:
    def __init__(self, db: Connection) -> None:
        self.db = db

    async def create(
        self, nonce: str, *, now: dt.datetime, linking_user_id: int | None = None
    ) -> None:
        await self.db.execute(
            "create_install_state", nonce=nonce, now=now, linking_user_id=linking_user_id
        )

    async def get(self, nonce: str) -> InstallState | None:
        row = await self.db.fetchrow("get_install_state", nonce=nonce)
        return to_struct(row, InstallState) if row else None

    async def use(self, nonce: str, *, now: dt.datetime, since: dt.datetime) -> bool:
        """Mark the nonce used if it is open and begun at or after ``since``; True only for the
        one caller that did (a concurrent replay gets False)."""
        return await self.db.execute("use_install_state", nonce=nonce, now=now, since=since) == 1

    async def purge(self, *, before: dt.datetime) -> int:
        return await self.db.execute("purge_install_states", before=before)
