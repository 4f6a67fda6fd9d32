"""`TokenStore` over the database: the collection grant in the installation's row, encrypted.

Columns (migration 0001): ``collection_access_token`` and ``collection_refresh_token`` hold the
current pair, ``collection_previous_refresh_token`` the refresh token of a refresh in flight
(set before it is presented, cleared when the new pair is stored), ``collection_token_expires_at``
and ``collection_state``. Every token is AES-GCM encrypted with its installation and column as
context. The refresh lock is the store's named lease ``collection-refresh:<installation id>``.
"""

from __future__ import annotations

import datetime as dt

from sync.clients.collection_auth import StoredTokens
from sync.crypto import TokenCipher
from sync.store.db import Database
from sync.store.leases import Leases


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
        return StoredTokens(
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

    async def save_tokens(
        self, installation_id: int, tokens: StoredTokens, *, now: dt.datetime
    ) -> None:
        await self.db.execute(
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

    async def mark_refreshing(
        self, installation_id: int, refresh_token: str, *, now: dt.datetime
    ) -> None:
        sealed = self._seal(installation_id, "collection_previous_refresh_token", refresh_token)
        await self.db.execute(
            "mark_collection_refreshing", id=installation_id, refresh_token=sealed, now=now
        )

    async def acquire_refresh_lock(
        self, installation_id: int, holder: str, *, now: dt.datetime, ttl: float
    ) -> bool:
        return await self.leases.acquire(_lease(installation_id), holder, ttl=ttl, now=now)

    async def release_refresh_lock(self, installation_id: int, holder: str) -> None:
        await self.leases.release(_lease(installation_id), holder)

    async def mark_collection_lost(self, installation_id: int, *, now: dt.datetime) -> None:
        await self.db.execute("mark_collection_lost", id=installation_id, now=now)


def _lease(installation_id: int) -> str:
    return f"collection-refresh:{installation_id}"
