"""An installation's webhook secrets, AES-GCM encrypted in its ``installations`` row.

- ``webhook_secret``: the URL secret of every e-conomic webhook URL (e-conomic signs nothing,
  so the URL carries the proof; contracts/economic.md). Set once: `economic_url_secret` makes
  one when none is stored, and of two racing first calls the first write wins and both get it.
- ``collection_webhook_secret`` (migration 0009): the signing secret (``whsec_…``) the
  collection platform answered when our webhook endpoint was created.
- Rotation (migration 0013): each secret can be replaced; the one replaced is kept in
  ``previous_webhook_secret`` / ``previous_collection_webhook_secret`` with the time of the
  rotation, and `url_secrets` / `signing_secrets` list it beside the current one for `OVERLAP`
  (24 h, the collection platform's own overlap) after that time, judged by the business clock
  the caller passes. A second rotation within the overlap drops the oldest secret.

Each ciphertext is bound to its row and column (context ``installation:<id>:<column>``, as in
`sync.store.economic_grants`), so a value copied into another row does not decrypt. Every secret
stored or loaded is remembered for `sync.redaction.scrub`: no log line or error can show it.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sync.crypto import TokenCipher
from sync.redaction import remember_secrets
from sync.store.db import Connection, Row

ECONOMIC_COLUMN = "webhook_secret"
COLLECTION_COLUMN = "collection_webhook_secret"
PREVIOUS_ECONOMIC_COLUMN = "previous_webhook_secret"
PREVIOUS_COLLECTION_COLUMN = "previous_collection_webhook_secret"
ROTATED_AT = {
    ECONOMIC_COLUMN: "webhook_secret_rotated_at",
    COLLECTION_COLUMN: "collection_webhook_secret_rotated_at",
}
PREVIOUS = {
    ECONOMIC_COLUMN: PREVIOUS_ECONOMIC_COLUMN,
    COLLECTION_COLUMN: PREVIOUS_COLLECTION_COLUMN,
}
URL_SECRET_BYTES = 24  # 32 URL-safe characters
OVERLAP = dt.timedelta(hours=24)


class RotationRaced(Exception):
    """Another rotation of the same secret committed first: the caller reads the state again."""


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
        return self._open(row, installation_id, column) if row is not None else None

    def _open(self, row: Row, installation_id: int, column: str) -> str | None:
        sealed = row[column]
        if not sealed:
            return None
        value = self.cipher.decrypt(sealed, context=_context(installation_id, column))
        remember_secrets(value)
        return value

    async def _accepted(self, installation_id: int, column: str, now: dt.datetime) -> list[str]:
        """The current secret, then the previous one while within `OVERLAP` of the rotation."""
        row = await self.db.fetchrow("get_webhook_secrets", id=installation_id)
        if row is None:
            return []
        current = self._open(row, installation_id, column)
        if current is None:
            return []
        rotated_at = row[ROTATED_AT[column]]
        if rotated_at is None or now >= rotated_at + OVERLAP:
            return [current]
        previous = self._open(row, installation_id, PREVIOUS[column])
        return [current, previous] if previous else [current]

    async def url_secrets(self, installation_id: int, *, now: dt.datetime) -> list[str]:
        """The e-conomic URL secrets accepted at ``now``: the current one first."""
        return await self._accepted(installation_id, ECONOMIC_COLUMN, now)

    async def signing_secrets(self, installation_id: int, *, now: dt.datetime) -> list[str]:
        """The collection signing secrets accepted at ``now``: the current one first."""
        return await self._accepted(installation_id, COLLECTION_COLUMN, now)

    async def rotated_at(self, installation_id: int, column: str) -> dt.datetime | None:
        row = await self.db.fetchrow("get_webhook_secrets", id=installation_id)
        value = row[ROTATED_AT[column]] if row is not None else None
        assert value is None or isinstance(value, dt.datetime)
        return value

    async def rotate_url_secret(self, installation_id: int, *, now: dt.datetime) -> str:
        """A new e-conomic URL secret, stored; the one it replaces accepted for `OVERLAP`.

        Raises `RotationRaced` when another rotation (or the first write) got in between."""
        row = await self.db.fetchrow("get_webhook_secrets", id=installation_id)
        if row is None:
            raise LookupError(f"no installation {installation_id}")
        current = self._open(row, installation_id, ECONOMIC_COLUMN)
        if current is None:  # nothing to rotate: the first secret is made as onboarding does
            return await self.economic_url_secret(installation_id, now=now)
        fresh = new_url_secret()
        remember_secrets(fresh)
        changed = await self.db.execute(
            "rotate_webhook_secret",
            id=installation_id,
            webhook_secret=self.cipher.encrypt(
                fresh, context=_context(installation_id, ECONOMIC_COLUMN)
            ),
            previous=self.cipher.encrypt(
                current, context=_context(installation_id, PREVIOUS_ECONOMIC_COLUMN)
            ),
            expected=row[ECONOMIC_COLUMN],
            now=now,
        )
        if changed != 1:
            raise RotationRaced("the URL secret was rotated by another request")
        return fresh

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

    async def rotate_collection_signing_secret(
        self, installation_id: int, secret: str, *, now: dt.datetime
    ) -> None:
        """Store the platform's new signing secret; the one it replaces accepted for `OVERLAP`."""
        remember_secrets(secret)
        previous = await self.collection_signing_secret(installation_id)
        if previous == secret:  # stored already (an idempotent replay of the same rotation)
            return
        await self.db.execute(
            "rotate_collection_webhook_secret",
            id=installation_id,
            secret=self.cipher.encrypt(
                secret, context=_context(installation_id, COLLECTION_COLUMN)
            ),
            previous=self.cipher.encrypt(
                previous, context=_context(installation_id, PREVIOUS_COLLECTION_COLUMN)
            )
            if previous
            else None,
            now=now,
        )
