"""Personal API tokens: a script presents the token, the table holds only its SHA-256.

A token is 32 random bytes (256 bits), so a plain, fast hash is enough: slow password hashes
(bcrypt, scrypt, Argon2) and salts exist to make guessing a low-entropy secret from a stolen
hash expensive, and nobody can enumerate 2^256 candidates however cheap each is. An unsalted
hash also lets a request find its token by an indexed equality look-up, with no per-user
comparison loop; the look-up leaks nothing by its timing, since a caller cannot choose the
hash it probes. A stolen copy of the table therefore signs nobody in, as for sessions.
"""

from __future__ import annotations

import datetime as dt
import secrets

import msgspec

from sync.store.db import Connection, to_struct
from sync.store.sessions import token_hash
from sync.store.users import User

# Lets secret scanners (and people) tell a collectbridge token at a glance.
TOKEN_PREFIX = "cbt_"  # noqa: S105 (a prefix, not a secret)
TOKEN_BYTES = 32
TOUCH_EVERY = dt.timedelta(minutes=1)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


class ApiToken(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    user: User
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None


class ApiTokens:
    def __init__(self, db: Connection) -> None:
        self.db = db

    async def create(self, *, user_id: int, token: str, name: str, now: dt.datetime) -> int:
        """Record ``token`` (made by `new_token`) for ``user_id``; its id."""
        row = await self.db.fetchrow(
            "create_api_token", user_id=user_id, token_hash=token_hash(token), name=name, now=now
        )
        assert row is not None
        return int(row["id"])

    async def find(self, token: str) -> ApiToken | None:
        """The token presented, with its owner; None when it is not one of ours."""
        row = await self.db.fetchrow("find_api_token", token_hash=token_hash(token))
        if row is None:
            return None
        user = {"id": row["user_id"], "email": row["user_email"], "name": row["user_name"]}
        user["created_at"] = row["user_created_at"]
        return to_struct({**row, "user": user}, ApiToken)

    async def touch(self, token_id: int, *, now: dt.datetime) -> None:
        """Set ``last_used_at``, unless it was set less than `TOUCH_EVERY` ago."""
        await self.db.execute(
            "touch_api_token", id=token_id, now=now, stale_before=now - TOUCH_EVERY
        )


class TokenListing(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None


async def tokens_of(db: Connection, user_id: int) -> list[TokenListing]:
    rows = await db.fetch("list_api_tokens_of_user", user_id=user_id)
    return [to_struct(r, TokenListing) for r in rows]


async def may_revoke(db: Connection, caller_id: int, token_id: int) -> bool:
    """A caller may revoke their own tokens, and, as an admin of a company, those of its
    members."""
    row = await db.fetchrow("api_token_owner", id=token_id)
    if row is None:
        return False
    owner = int(row["user_id"])
    if owner == caller_id:
        return True
    return await db.fetchrow("admin_over", admin_id=caller_id, user_id=owner) is not None


async def revoke(db: Connection, token_id: int) -> bool:
    return await db.execute("delete_api_token", id=token_id) == 1
