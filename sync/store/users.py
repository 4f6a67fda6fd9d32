"""Users and their memberships: a person (by e-mail) with a role in each company they may see.

E-mail addresses are the natural key and are stored lower-case, so the same person arriving
from e-conomic with different capitals is found again rather than created twice.
"""

from __future__ import annotations

import builtins
import datetime as dt
from typing import Literal, cast

import msgspec

from sync.store.db import Connection, to_struct

Role = Literal["guest", "caseworker", "admin"]


class User(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    email: str
    name: str
    created_at: dt.datetime
    language: str | None = None
    """``da`` or ``en`` once the person chose; None: the browser's preference decides."""


class Member(msgspec.Struct, frozen=True, kw_only=True):
    user_id: int
    email: str
    role: Role


def normal_email(email: str) -> str:
    return email.strip().lower()


class Users:
    def __init__(self, db: Connection) -> None:
        self.db = db

    async def find_or_create(self, *, email: str, name: str, now: dt.datetime) -> int:
        """The id of the user with this e-mail, created when new."""
        row = await self.db.fetchrow(
            "find_or_create_user", email=normal_email(email), name=name.strip(), now=now
        )
        assert row is not None
        return int(row["id"])

    async def get(self, user_id: int) -> User | None:
        row = await self.db.fetchrow("get_user", id=user_id)
        return to_struct(row, User) if row else None

    async def get_by_email(self, email: str) -> User | None:
        row = await self.db.fetchrow("get_user_by_email", email=normal_email(email))
        return to_struct(row, User) if row else None

    async def grant(
        self, user_id: int, installation_id: int, role: Role, *, now: dt.datetime
    ) -> None:
        await self.db.execute(
            "grant_membership",
            user_id=user_id,
            installation_id=installation_id,
            role=role,
            now=now,
        )

    async def role_in(self, user_id: int, installation_id: int) -> Role | None:
        row = await self.db.fetchrow(
            "get_membership_role", user_id=user_id, installation_id=installation_id
        )
        return cast(Role, row["role"]) if row else None

    async def members(self, installation_id: int) -> builtins.list[Member]:
        rows = await self.db.fetch("list_memberships", installation_id=installation_id)
        return [to_struct(r, Member) for r in rows]
