"""An installation's webhook secrets, AES-GCM encrypted in its ``installations`` row.

- ``webhook_secret``: the URL secret of every e-conomic webhook URL (e-conomic signs nothing,
  so the URL carries the proof; contracts/economic.md). Set once: `economic_url_secret` makes
  one when none is stored, and of two racing first calls the first write wins and both get it.
- ``collection_webhook_secret`` (migration 0009): the signing secret (``whsec_…``) the
  collection platform answered when our webhook endpoint was created.

Each ciphertext is bound to its row and column (context ``installation:<id>:<column>``, as in
`sync.store.economic_grants`), so a value copied into another row does not decrypt. Every secret
stored or loaded is remembered for `sync.redaction.scrub`: no log line or error can show it.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sync.crypto import TokenCipher
from sync.redaction import remember_secrets
from sync.store.db import Connection

ECONOMIC_COLUMN = "webhook_secret"
COLLECTION_COLUMN = "collection_webhook_secret"
URL_SECRET_BYTES = 24  # 32 URL-safe characters


def _context(installation_id: int, column: str) -> bytes:
    return f"installation:{installation_id}:{column}".encode()


def new_url_secret() -> str:
    return secrets.token_urlsafe(URL_SECRET_BYTES)


class WebhookSecrets:
    def __init__(self, db: Connection, cipher: TokenCipher) -> None:
        self.db = db
        self.cipher = cipher

    async def _load(self, installation_id: int, column: str) -> str | None:
        row = await self.db.fetchrow("get_webhook_secrets", id=installation_id)
        if row is None or not row[column]:
            return None
        value = self.cipher.decrypt(row[column], context=_context(installation_id, column))
        remember_secrets(value)
        return value

    async def stored_url_secret(self, installation_id: int) -> str | None:
        """The e-conomic URL secret, or None while none is stored."""
        return await self._load(installation_id, ECONOMIC_COLUMN)

    async def economic_url_secret(self, installation_id: int, *, now: dt.datetime) -> str:
        """The e-conomic URL secret, made and stored first when there is none."""
        found = await self.stored_url_secret(installation_id)
        if found is not None:
            return found
        fresh = new_url_secret()
        remember_secrets(fresh)
        sealed = self.cipher.encrypt(fresh, context=_context(installation_id, ECONOMIC_COLUMN))
        await self.db.execute(
            "set_webhook_secret_once", id=installation_id, webhook_secret=sealed, now=now
        )
        stored = await self.stored_url_secret(installation_id)
        assert stored is not None
        return stored

    async def collection_signing_secret(self, installation_id: int) -> str | None:
        return await self._load(installation_id, COLLECTION_COLUMN)

    async def save_collection_signing_secret(
        self, installation_id: int, secret: str, *, now: dt.datetime
    ) -> None:
        remember_secrets(secret)
        sealed = self.cipher.encrypt(secret, context=_context(installation_id, COLLECTION_COLUMN))
        await self.db.execute(
            "set_collection_webhook_secret", id=installation_id, secret=sealed, now=now
        )
