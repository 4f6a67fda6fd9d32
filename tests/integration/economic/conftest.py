"""Client tests: an `EconomicClient` against the live simulator, counting calls in SQLite."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sync.clients.economic import EconomicClient
from sync.store.db import Database, open_database
from sync.store.installations import Installations
from sync.store.migrate import migrate
from sync.store.usage import ApiUsage
from tests.fixtures.economic import EconomicSandbox

FAST = {"backoff": 0.01, "backoff_max": 0.05}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_database(f"sqlite:///{tmp_path}/store.db")
    await migrate(database, dt.datetime.now(dt.UTC))
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
async def installation_id(store: Database) -> int:
    created = await Installations(store).create(
        agreement_number=1, company_name="Test ApS", now=dt.datetime.now(dt.UTC)
    )
    return created.id


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


ClientFactory = Callable[..., EconomicClient]


@pytest.fixture
def make_client(
    economic_sandbox: EconomicSandbox,
    http: aiohttp.ClientSession,
    store: Database,
    installation_id: int,
) -> ClientFactory:
    """Build a client for a seeded company (``index``) with fast backoff unless told otherwise."""

    def build(index: int = 0, grant: str | None = None, **options: Any) -> EconomicClient:
        return EconomicClient(
            http,
            base_url=economic_sandbox.url,
            app_secret_token=economic_sandbox.app_secret_token,
            grant_token=grant or economic_sandbox.grant(index),
            installation_id=installation_id,
            recorder=ApiUsage(store),
            **(FAST | options),
        )

    return build
