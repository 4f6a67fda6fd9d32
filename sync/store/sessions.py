"""Server-side sessions: the browser holds a random token, the table only its SHA-256.

A stolen copy of the table therefore signs nobody in. Each session carries its own CSRF token
for the forms and cookie-authenticated API calls of the settings pages.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import msgspec

from sync.store.db import Connection, to_struct


class Session(msgspec.Struct, frozen=True, kw_only=True):
    token_hash: str
    user_id: int
    csrf_token: str
    created_at: dt.datetime
    expires_at: dt.datetime
    verified: bool = True
    """False while a sign-in waits for its second factor: such a session signs nobody in."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    def __init__(self, db: Connection) -> None:
        self.db = db

    async def create(
        self,
        *,
        token: str,
        user_id: int,
        csrf_token: str,
        now: dt.datetime,
        expires_at: dt.datetime,
        verified: bool = True,
    ) -> None:
        await self.db.execute(
            "create_session",
            token_hash=token_hash(token),
            user_id=user_id,
            csrf_token=csrf_token,
            now=now,
            expires_at=expires_at,
            verified=verified,
        )

    async def get(self, token: str, *, now: dt.datetime) -> Session | None:
        """The session of this token, or None when unknown or expired."""
        row = await self.db.fetchrow("get_session", token_hash=token_hash(token), now=now)
        return to_struct(row, Session) if row else None

    async def delete(self, token: str) -> bool:
        return await self.db.execute("delete_session", token_hash=token_hash(token)) == 1

    async def end_all(self, user_id: int) -> int:
        """End every session of a user (their password was reset, or they were removed)."""
        return await self.db.execute("delete_sessions_of_user", user_id=user_id)

    async def purge(self, *, before: dt.datetime) -> int:
        return await self.db.execute("purge_sessions", before=before)
