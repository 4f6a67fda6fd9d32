"""`TokenStore` over the database: the collection grant in the installation's row, encrypted.

Columns (migration 0001): ``collection_access_token`` and ``collection_refresh_token`` hold the
current pair, ``collection_previous_refresh_token`` the refresh token of a refresh in flight
(set before it is presented, cleared when the new pair is stored), ``collection_token_expires_at``
and ``collection_state``. Every token is AES-GCM encrypted with its installation and column as
context. The refresh lock is the store's named lease ``collection-refresh:<installation id>``,
and it fences: given the ``holder``, recording a refresh and storing its pair happen only while
that holder still has the lease, checked in the writing transaction (`Leases.holds`), so a
holder that stalled past its lease cannot overwrite what the next holder stored. A new grant
(link, partner flow) is no refresh and is stored without a lease. Every token decrypted or
stored is remembered for `sync.redaction.scrub`, so no error text or log line can show it.

A lost link (``collection_state = 'lost'``) is recorded together with an open problem
(category ``auth_lost``, code ``collection_auth_lost``, one per installation while open) in one
transaction, so the settings pages say what happened and what to do; storing a new grant (a
relink) sets the state back to ``ok`` and resolves that problem in the same way. A write that
meets `DatabaseUnavailable` raises `TransientError`, as the `TokenStore` port asks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sync.clients.collection_auth import StoredTokens
from sync.crypto import TokenCipher
from sync.errors import TransientError
from sync.redaction import remember_secrets
from sync.store.db import Connection, Database, DatabaseUnavailable
from sync.store.leases import Leases
from sync.store.problems import Problems

AUTH_LOST = "collection_auth_lost"
AUTH_LOST_SUBJECT = "collection:grant"
AUTH_LOST_MESSAGE = (
    "The collection platform no longer accepts this company's grant (revoked, or its refresh "
    "token expired or was reused). Sync with the collection account is paused: an admin must "
    "link the collection account again from the settings page."
)


class DatabaseTokenStore:
    def __init__(self, db: Database, cipher: TokenCipher) -> None:
        self.db = db
        self.cipher = cipher
        self.leases = Leases(db)

    def _seal(self, installation_id: int, column: str, value: str) -> str:
        return self.cipher.encrypt(
            value, context=f"installation:{installation_id}:{column}".encode()
        )

    def _open(self, installation_id: int, column: str, value: str) -> str:
        return self.cipher.decrypt(
            value, context=f"installation:{installation_id}:{column}".encode()
        )

    async def load_tokens(self, installation_id: int) -> StoredTokens | None:
        row = await self.db.fetchrow("load_collection_tokens", id=installation_id)
        if row is None or not row["collection_access_token"] or not row["collection_refresh_token"]:
            return None
        refreshing = row["collection_previous_refresh_token"]
        tokens = StoredTokens(
            access_token=self._open(
                installation_id, "collection_access_token", row["collection_access_token"]
            ),
            refresh_token=self._open(
                installation_id, "collection_refresh_token", row["collection_refresh_token"]
            ),
            expires_at=row["collection_token_expires_at"],
            account_id=row["collection_account_id"],
            refreshing=(
                self._open(installation_id, "collection_previous_refresh_token", refreshing)
                if refreshing
                else None
            ),
            lost=row["collection_state"] == "lost",
        )
        remember_secrets(tokens.access_token, tokens.refresh_token, tokens.refreshing)
        return tokens

    async def save_tokens(
        self,
        installation_id: int,
        tokens: StoredTokens,
        *,
        now: dt.datetime,
        holder: str | None = None,
    ) -> bool:
        """Store a pair; with ``holder`` (a refresh) only while it has the refresh lease.
        False when refused: nothing was written."""
        remember_secrets(tokens.access_token, tokens.refresh_token)
        async with self._writing() as tx:
            if holder is not None and not await self._holds(tx, installation_id, holder, now):
                return False
            await tx.execute(
                "save_collection_tokens",
                id=installation_id,
                access_token=self._seal(
                    installation_id, "collection_access_token", tokens.access_token
                ),
                refresh_token=self._seal(
                    installation_id, "collection_refresh_token", tokens.refresh_token
                ),
                expires_at=tokens.expires_at,
                account_id=tokens.account_id,
                now=now,
            )
            await Problems(tx).resolve_open(installation_id, AUTH_LOST, now=now)
        return True

    async def mark_refreshing(
        self, installation_id: int, refresh_token: str, *, now: dt.datetime, holder: str
    ) -> bool:
        """Record the refresh token about to be presented, only while ``holder`` has the
        refresh lease; False when refused (nothing written: do not present it)."""
        sealed = self._seal(installation_id, "collection_previous_refresh_token", refresh_token)
        async with self._writing() as tx:
            if not await self._holds(tx, installation_id, holder, now):
                return False
            await tx.execute(
                "mark_collection_refreshing", id=installation_id, refresh_token=sealed, now=now
            )
        return True

    async def _holds(
        self, tx: Connection, installation_id: int, holder: str, now: dt.datetime
    ) -> bool:
        return await Leases(tx).holds(_lease(installation_id), holder, now=now)

    async def acquire_refresh_lock(
        self, installation_id: int, holder: str, *, now: dt.datetime, ttl: float
    ) -> bool:
        return await self.leases.acquire(_lease(installation_id), holder, ttl=ttl, now=now)

    async def release_refresh_lock(self, installation_id: int, holder: str) -> None:
        await self.leases.release(_lease(installation_id), holder)

    async def mark_collection_lost(
        self, installation_id: int, *, now: dt.datetime, detail: dict[str, Any] | None = None
    ) -> None:
        async with self._writing() as tx:
            await tx.execute("mark_collection_lost", id=installation_id, now=now)
            await Problems(tx).record(
                installation_id=installation_id,
                category="auth_lost",
                code=AUTH_LOST,
                subject=AUTH_LOST_SUBJECT,
                message=AUTH_LOST_MESSAGE,
                detail={"platform": detail} if detail else {},
                now=now,
            )

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[Connection]:
        """One transaction; the database briefly unavailable → `TransientError` (retryable)."""
        try:
            async with self.db.transaction() as tx:
                yield tx
        except DatabaseUnavailable as exc:
            raise TransientError("the database is unavailable", detail={"code": exc.code}) from exc


def _lease(installation_id: int) -> str:
    return f"collection-refresh:{installation_id}"
