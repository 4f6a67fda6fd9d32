"""Link states: the server-side half of "link an existing collection account" (OAuth 2.0
authorization code with PKCE S256, contracts/collection-api.md).

When a link begins, the random ``state`` sent through the platform is recorded here by its
SHA-256 (the value itself is only in the browser's URL), with the PKCE ``code_verifier``
AES-GCM encrypted (context ``link_state:<state hash>``), the ``redirect_uri`` the code will be
bound to, who began it and the onboarding choices to continue with. The callback uses the state
up once (`LinkStates.use`), so a state we never issued (forged), one used before (a replay) or
one older than the caller's cut-off (expired) gets nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import msgspec

from sync.crypto import TokenCipher
from sync.redaction import redacted, remember_secrets
from sync.store.db import Connection


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


@redacted("code_verifier")
class LinkState(msgspec.Struct, frozen=True, kw_only=True):
    installation_id: int
    code_verifier: str
    redirect_uri: str
    actor: str
    choices: dict[str, Any]
    created_at: dt.datetime
    used_at: dt.datetime | None = None


class LinkStates:
    def __init__(self, db: Connection, cipher: TokenCipher) -> None:
        self.db = db
        self.cipher = cipher

    async def create(
        self,
        state: str,
        *,
        installation_id: int,
        code_verifier: str,
        redirect_uri: str,
        actor: str,
        choices: dict[str, Any],
        now: dt.datetime,
    ) -> None:
        hashed = state_hash(state)
        remember_secrets(state, code_verifier)
        await self.db.execute(
            "create_link_state",
            state_hash=hashed,
            installation_id=installation_id,
            code_verifier=self.cipher.encrypt(code_verifier, context=_context(hashed)),
            redirect_uri=redirect_uri,
            actor=actor,
            choices=choices,
            now=now,
        )

    async def get(self, state: str) -> LinkState | None:
        """The state as recorded, used or not; None for one we never issued."""
        hashed = state_hash(state)
        row = await self.db.fetchrow("get_link_state", state_hash=hashed)
        return self._opened(hashed, row) if row else None

    async def use(self, state: str, *, now: dt.datetime, since: dt.datetime) -> LinkState | None:
        """Use the state up if it is open and begun at or after ``since``: the state for the
        one caller that did, None for everyone else (unknown, used, expired, a racing replay)."""
        hashed = state_hash(state)
        row = await self.db.fetchrow("use_link_state", state_hash=hashed, now=now, since=since)
        return self._opened(hashed, row) if row else None

    async def purge(self, *, before: dt.datetime) -> int:
        return await self.db.execute("purge_link_states", before=before)

    def _opened(self, hashed: str, row: dict[str, Any]) -> LinkState:
        verifier = self.cipher.decrypt(row["code_verifier"], context=_context(hashed))
        remember_secrets(verifier)
        return LinkState(
            installation_id=int(row["installation_id"]),
            code_verifier=verifier,
            redirect_uri=row["redirect_uri"],
            actor=row["actor"],
            choices=dict(row["choices"] or {}),
            created_at=row["created_at"],
            used_at=row["used_at"],
        )


def _context(hashed: str) -> bytes:
    return f"link_state:{hashed}".encode()
