"""A company installed and linked on both simulators, with our app and its worker, for the sync
engine's tests: real HTTP to both platforms, a real database, jobs run by the real worker in burst.

The app's clock starts on the simulators' shared date (2026-11-23) and moves with them
(`Company.advance`), never by reading the simulators.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import msgspec

from plugin.bootstrap import Services, build_worker
from plugin.connections import Connections
from plugin.keys import SERVICES
from plugin.settings import Secret
from sandbox.clock import SimClock
from sync.backfill import reference_data
from sync.clients.collection import CollectionClient, create_account
from sync.clients.collection_auth import save_created_grant
from sync.clients.collection_tokens import DatabaseTokenStore
from sync.clients.collection_types import NewAccount
from sync.clients.economic import EconomicClient
from sync.company_settings import company_settings
from sync.engine import Engine
from sync.jobs import Job, NewJob
from sync.store.claims import Claims, StoredClaim
from sync.store.economic_grants import EconomicGrants
from sync.store.installations import Installation, Installations
from sync.store.sync_state import SyncState
from tests.fixtures.collection import CollectionSandbox, running_collection_sandbox
from tests.fixtures.economic import START_DATE, EconomicSandbox, start_economic_sandbox
from tests.integration import test_api
from tests.integration.test_api import Bridge

_NUMBERS = msgspec.json.Encoder(decimal_format="number")


@dataclass
class Company:
    bridge: Bridge
    economic: EconomicSandbox
    collection: CollectionSandbox
    installation: Installation
    account_id: str

    @property
    def services(self) -> Services:
        return self.bridge.app[SERVICES]

    @property
    def agreement(self) -> int:
        return self.installation.agreement_number

    @property
    def ledger(self) -> Any:
        """The simulator's own record of the company (to compare against)."""
        return self.economic.state.companies[self.agreement]

    def platform_claims(self) -> dict[str, Any]:
        """The collection simulator's claims of the account, by external ref."""
        return {
            ref: claim
            for (account, ref), claim in self.collection.state.claims.items()
            if account == self.account_id
        }

    def platform_debtors(self) -> dict[str, Any]:
        return {
            ref: debtor
            for (account, ref), debtor in self.collection.state.debtors.items()
            if account == self.account_id
        }

    async def settle(self, *, concurrency: int = 2) -> int:
        """Run the worker until no job is due; how many runs it made."""
        worker = build_worker(self.services, concurrency=concurrency)
        return await worker.run_burst()

    async def enqueue(self, kind: str, dedupe_key: str, **payload: Any) -> int:
        return await self.services.queue.enqueue(
            NewJob(
                kind=kind,
                installation_id=self.installation.id,
                payload=payload,
                dedupe_key=dedupe_key,
            ),
            now=self.bridge.clock(),
        )

    async def job(self, job_id: int) -> Job:
        found = await self.services.queue.get(job_id)
        assert found is not None
        return found

    async def claims(self) -> list[StoredClaim]:
        return await Claims(self.bridge.db).after(self.installation.id, limit=1_000_000)

    async def set_settings(self, **values: Any) -> None:
        installation = await Installations(self.bridge.db).get(self.installation.id)
        assert installation is not None
        await self.bridge.db.execute(
            "save_installation_settings",
            id=installation.id,
            settings={**installation.settings, **values},
            now=self.bridge.clock(),
        )

    async def parts(self, *, attempts: int = 2) -> tuple[Engine, EconomicClient, CollectionClient]:
        """The engine and clients a job of this company gets (few, quick retries)."""
        installation = await Installations(self.bridge.db).get(self.installation.id)
        assert installation is not None
        connections = Connections(self.services)
        economic = await connections.economic(installation)
        economic.attempts, economic.backoff, economic.backoff_max = attempts, 0.01, 0.05
        reference = await reference_data(
            economic, SyncState(self.bridge.db), installation.id, now=self.bridge.clock()
        )
        collection = connections.collection(installation)
        engine = Engine(
            self.bridge.db,
            installation,
            company_settings(installation.settings),
            collection=collection,
            queue=self.services.queue,
            clock=self.bridge.clock,
            base_currency=reference.base_currency,
        )
        return engine, economic, collection

    async def economic_call(self, method: str, path: str, body: Any = None) -> Any:
        """A call to the e-conomic simulator (its controls); Decimals in ``body`` go out as
        JSON numbers, as e-conomic wants amounts."""
        data = _NUMBERS.encode(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        async with self.services.http.request(
            method, self.economic.url + path, data=data, headers=headers
        ) as r:
            assert r.status < 300, await r.text()
            return await r.json() if r.content_type.endswith("json") else None

    async def advance(self, days: int) -> None:
        """Move the simulators' shared date and the app's clock by ``days``."""
        await self.economic.clock.advance(days)
        self.bridge.clock.now += dt.timedelta(days=days)


@asynccontextmanager
async def running_company(
    database_url: str,
    *,
    invoices: int = 120,
    companies: int = 1,
    index: int = 0,
    settings: dict[str, Any] | None = None,
    app: dict[str, Any] | None = None,
    start: dt.date = START_DATE,
    **sandbox: Any,
) -> AsyncIterator[Company]:
    """``settings``: the company's settings document; ``app``: more of the app's Settings;
    ``start``: the simulators' date; ``sandbox``: more of the e-conomic simulator's
    ``create_app`` options."""
    shared = SimClock(start)
    async with (
        start_economic_sandbox(
            clock=shared, companies=companies, invoices=invoices, **sandbox
        ) as economic,
        running_collection_sandbox(clock=shared) as collection,
        test_api.run_bridge(
            database_url,
            economic_api_url=economic.url,
            economic_openapi_url=economic.url,
            economic_app_secret_token=Secret(economic.app_secret_token),
            economic_app_public_token=Secret(economic.app_public_token),
            collection_api_url=collection.url,
            collection_client_id=collection.client_id,
            collection_client_secret=Secret(collection.client_secret),
            **(app or {}),
        ) as bridge,
    ):
        yield await install(
            bridge, economic, collection, economic.agreement(index), settings=settings
        )


async def install(
    bridge: Bridge,
    economic: EconomicSandbox,
    collection: CollectionSandbox,
    agreement: int,
    *,
    settings: dict[str, Any] | None = None,
) -> Company:
    """``agreement`` installed (its grant stored) and linked to a new collection account."""
    services: Services = bridge.app[SERVICES]
    assert services.cipher is not None
    now = bridge.clock()
    installation = await Installations(bridge.db).activate(
        agreement_number=agreement, company_name=f"Company {agreement}", now=now
    )
    grant = economic.state.issue_grant(agreement)
    await EconomicGrants(bridge.db, services.cipher).save(installation.id, grant, now=now)
    created = await create_account(
        services.http,
        base_url=collection.url,
        client_id=collection.client_id,
        client_secret=collection.client_secret,
        account=NewAccount(
            name=f"Company {agreement}",
            country="DK",
            email=f"bogholder@{agreement}.example",
            base_currency="DKK",
            external_ref=f"economic:{agreement}",
        ),
        idempotency_key=f"account:{agreement}",
    )
    store = DatabaseTokenStore(bridge.db, services.cipher)
    await save_created_grant(store, installation.id, created, now=now)
    company = Company(bridge, economic, collection, installation, created.account.id)
    # PDFs only where a test is about them: each costs a call and a rendered document.
    await company.set_settings(**{"send_documents": False, **(settings or {})})
    found = await Installations(bridge.db).get(installation.id)
    assert found is not None
    company.installation = found
    return company


async def control(company: Company, base: str, method: str, path: str, body: Any = None) -> Any:
    """A call to either simulator at ``base`` (its controls); Decimals go out as JSON numbers."""
    data = _NUMBERS.encode(body) if body is not None else None
    headers = {"Content-Type": "application/json"} if data else {}
    async with company.services.http.request(method, base + path, data=data, headers=headers) as r:
        assert r.status < 300, await r.text()
        return await r.json() if r.content_type.endswith("json") else None


def a_customer(company: Company) -> int:
    """A seeded customer the collector can reach (address and e-mail), in DKK."""
    for number, customer in sorted(company.ledger.customers.items()):
        if customer.address and customer.email and customer.currency == "DKK":
            return int(number)
    raise AssertionError("no reachable customer in the seed")
