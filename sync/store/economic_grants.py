"""The e-conomic grant token of an installation, AES-GCM encrypted in ``installations``.

The ciphertext is bound to its row and column (context ``installation:<id>:economic_token``),
so a value copied into another installation's row does not decrypt. Every token stored or
loaded is remembered for `sync.redaction.scrub`: no error text or log line can show it.
"""

from __future__ import annotations

import datetime as dt

from sync.crypto import TokenCipher
from sync.redaction import remember_secrets
from sync.store.db import Connection

COLUMN = "economic_token"


def _context(installation_id: int) -> bytes:
    return f"installation:{installation_id}:{COLUMN}".encode()


class EconomicGrants:
    def __init__(self, db: Connection, cipher: TokenCipher) -> None:
        self.db = db
        self.cipher = cipher

    async def save(self, installation_id: int, token: str, *, now: dt.datetime) -> None:
        remember_secrets(token)
        sealed = self.cipher.encrypt(token, context=_context(installation_id))
        await self.db.execute(
            "set_economic_token", id=installation_id, economic_token=sealed, now=now
        )

    async def load(self, installation_id: int) -> str | None:
        row = await self.db.fetchrow("get_economic_token", id=installation_id)
        if row is None or not row["economic_token"]:
            return None
        token = self.cipher.decrypt(row["economic_token"], context=_context(installation_id))
        remember_secrets(token)
        return token
