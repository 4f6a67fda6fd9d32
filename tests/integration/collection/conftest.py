"""Fixtures for the collection client: a migrated database and a linked installation.

``linked`` uses a SQLite file; ``linked_any`` runs the test once per engine (SQLite and
PostgreSQL, see ``database_url``), for the tests whose subject is the token store itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest_asyncio

from sync.clients.collection import CollectionClient
from sync.clients.collection_tokens import DatabaseTokenStore
from sync.store.db import Database, open_database
from sync.store.migrate import migrate
from tests.fixtures.collection import CollectionSandbox
from tests.integration.collection.support import linked_installation, make_client


@dataclass
class Linked:
    db_url: str
    db: Database
    installation_id: int
    store: DatabaseTokenStore
    client: CollectionClient
    grant: dict[str, object]


@asynccontextmanager
async def linked_on(sandbox: CollectionSandbox, db_url: str) -> AsyncIterator[Linked]:
    """A migrated database at ``db_url`` holding one installation linked to the simulator."""
    db = await open_database(db_url)
    try:
        await migrate(db, dt.datetime.now(dt.UTC))
        grant = await sandbox.link()
        installation_id, store = await linked_installation(db, grant)
        client = make_client(
            sandbox.session,
            sandbox.url,
            store,
            installation_id,
            client_id=sandbox.client_id,
            client_secret=sandbox.client_secret,
        )
        yield Linked(db_url, db, installation_id, store, client, grant)
    finally:
        await db.close()


@pytest_asyncio.fixture
async def linked(collection_sandbox: CollectionSandbox, sqlite_url: str) -> AsyncIterator[Linked]:
    async with linked_on(collection_sandbox, sqlite_url) as value:
        yield value


@pytest_asyncio.fixture
async def linked_any(
    collection_sandbox: CollectionSandbox, database_url: str
) -> AsyncIterator[Linked]:
    async with linked_on(collection_sandbox, database_url) as value:
        yield value
