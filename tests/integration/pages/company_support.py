"""A company onboarded and bootstrapped behind the settings pages, and people of each role
signed in to it with their own browsers."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from plugin.bootstrap import build_worker
from plugin.credentials import hash_password
from plugin.keys import SERVICES
from sandbox.clock import SimClock
from sync.store.accounts import Accounts
from sync.store.installations import Installation
from sync.store.users import Role, Users
from tests.fixtures.collection import running_collection_sandbox
from tests.fixtures.economic import START_DATE, start_economic_sandbox
from tests.integration.pages.support import sign_in
from tests.integration.test_onboarding import Bridge, run_bridge

PASSWORD = "a long enough password"


@asynccontextmanager
async def company_bridge(database_url: str, *, invoices: int = 60) -> AsyncIterator[Bridge]:
    """The app against both simulators on one shared date, the app's clock on it too (the
    simulators decide what is overdue by their date, the app by its clock), one company
    installed by its admin, onboarded with the defaults and bootstrapped."""
    shared = SimClock(START_DATE)
    async with (
        start_economic_sandbox(clock=shared, invoices=invoices) as economic,
        running_collection_sandbox(clock=shared) as collection,
        run_bridge(database_url, economic, collection) as bridge,
    ):
        bridge.clock.now = dt.datetime.combine(START_DATE, dt.time(9), dt.UTC)
        await bootstrapped(bridge)
        yield bridge


async def bootstrapped(bridge: Bridge) -> None:
    """Onboarding with the defaults, then the worker drains the bootstrap."""
    answer = await bridge.onboard()
    assert answer.status == 200, answer
    await drain(bridge)


async def drain(bridge: Bridge) -> int:
    return await build_worker(bridge.app[SERVICES]).run_burst()


@asynccontextmanager
async def person(
    bridge: Any, role: Role, email: str | None = None, installation: Installation | None = None
) -> AsyncIterator[aiohttp.ClientSession]:
    """A member of the bridge's company (or ``installation``) with ``role``, signed in with a
    browser of their own."""
    email = email or f"{role}@example.test"
    installation = installation or await bridge.installation()
    users = Users(bridge.db)
    user_id = await users.find_or_create(email=email, name=role, now=bridge.clock())
    await users.grant(user_id, installation.id, role, now=bridge.clock())
    await Accounts(bridge.db).set_password_hash(user_id, hash_password(PASSWORD))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        signed = await sign_in(browser, bridge.url, email, PASSWORD)
        assert signed.url.path == "/settings", signed.text
        yield browser
