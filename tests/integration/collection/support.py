"""Shared set-up for the collection client tests: a linked installation in a migrated database."""

from __future__ import annotations

import datetime as dt
import os

import aiohttp

from sync.clients.collection import CollectionClient
from sync.clients.collection_auth import StoredTokens, TokenKeeper, stored_from_response
from sync.clients.collection_tokens import DatabaseTokenStore
from sync.clients.collection_types import TokenResponse
from sync.crypto import TokenCipher
from sync.store.db import Database
from sync.store.installations import Installations

SECRET_KEY = "collectbridge-test-secret-key-0123456789"
CIPHER = TokenCipher([SECRET_KEY])


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def linked_installation(
    db: Database, grant: dict[str, object], *, expired: bool = False
) -> tuple[int, DatabaseTokenStore]:
    """An installation holding ``grant`` (optionally already past its expiry in our books)."""
    installation = await Installations(db).create(
        agreement_number=7001, company_name="Kunde ApS", now=utcnow(), status="active"
    )
    store = DatabaseTokenStore(db, CIPHER)
    tokens = stored_from_response(TokenResponse(**grant), utcnow())  # type: ignore[arg-type]
    if expired:
        tokens = StoredTokens(
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            expires_at=utcnow() - dt.timedelta(seconds=1),
            account_id=tokens.account_id,
        )
    await store.save_tokens(installation.id, tokens, now=utcnow())
    return installation.id, store


def make_client(
    session: aiohttp.ClientSession,
    api_url: str,
    store: DatabaseTokenStore,
    installation_id: int,
    *,
    client_id: str,
    client_secret: str,
    timeout: float = 5.0,
    attempts: int = 4,
    after_token_answer: object = None,
    lock_ttl: float | None = None,
) -> CollectionClient:
    limits = aiohttp.ClientTimeout(total=timeout)
    keeper = TokenKeeper(
        session,
        token_url=api_url + "/oauth/token",
        client_id=client_id,
        client_secret=client_secret,
        installation_id=installation_id,
        store=store,
        holder=f"pid-{os.getpid()}-{id(session)}",
        now=utcnow,
        timeout=aiohttp.ClientTimeout(total=1.5),
        lock_ttl=lock_ttl,
        after_token_answer=after_token_answer,  # type: ignore[arg-type]
    )
    return CollectionClient(
        session, base_url=api_url, tokens=keeper, timeout=limits, attempts=attempts, backoff=0.01
    )
