"""A bookkeeper's day in a real browser (Playwright, Debian's Chromium) against the app and
both simulators on loopback: install → onboarding → dashboard → resync with the progress bar
reaching 100 % → approve a handover → the invoice's journey shows it; add a client company and
switch between the two; Danish and English; axe-core finds no serious or critical violation on
the main pages; each role is held to what it may do. Screenshots go to ``tests/artifacts/``.

The worker is drained by the test (``run_burst``) at the moments a person would wait for it,
so every step is deterministic; the resync's progress bar is the page's own script following
``GET /api/v1/jobs/{id}``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, expect

from plugin.app import create_app
from plugin.bootstrap import build_worker
from plugin.keys import SERVICES
from sandbox.clock import SimClock
from tests.fixtures.collection import running_collection_sandbox
from tests.fixtures.conditions import Clock
from tests.fixtures.economic import START_DATE, start_economic_sandbox
from tests.fixtures.served import loopback_socket, served
from tests.integration.pages.company_support import PASSWORD
from tests.integration.test_onboarding import bridge_settings, control

pytestmark = pytest.mark.slow
SERIOUS = {"serious", "critical"}


@dataclass
class Served:
    url: str
    app: web.Application

    async def drain(self) -> int:
        return await build_worker(self.app[SERVICES]).run_burst()


@pytest.fixture
async def served_app(sqlite_url: str) -> AsyncIterator[Served]:
    async with serve(sqlite_url) as running:
        yield running


@asynccontextmanager
async def serve(database_url: str) -> AsyncIterator[Served]:
    shared = SimClock(START_DATE)
    async with (
        start_economic_sandbox(clock=shared, companies=2, invoices=40) as economic,
        running_collection_sandbox(clock=shared) as collection,
    ):
        await control(economic.url, "PUT", "/_sandbox/install", {"auto_approve": True})
        sock, url = loopback_socket()
        settings = bridge_settings(database_url, url, economic, collection)
        clock = Clock(dt.datetime.combine(START_DATE, dt.time(9), dt.UTC))
        async with served(create_app(settings, run_worker=False, clock=clock), sock) as app:
            yield Served(url=url, app=app)


async def axe_clean(page: Page, name: str) -> None:
    results = await Axe().run(page)
    bad = [v for v in results.response["violations"] if v.get("impact") in SERIOUS]
    assert not bad, f"{name}: " + "; ".join(f"{v['id']}: {v['help']}" for v in bad)


async def shot(page: Page, artifacts: Path, name: str) -> None:
    await page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)


async def install_and_onboard(page: Page, served_app: Served) -> int:
    """Through our start page, e-conomic's (auto-approved) grant page, the confirmation and
    the onboarding form with its defaults; the agreement installed."""
    await page.click("#confirm button")
    await expect(page.locator("#onboarding")).to_be_visible()
    agreement = int(page.url.rsplit("/", 1)[1])
    await page.click("#submit")
    await expect(page.locator("#onboarding-done")).to_be_visible()
    await served_app.drain()  # the bootstrap
    return agreement


async def test_install_onboard_resync_approve_and_follow_the_journey(
    chromium: Browser, served_app: Served, artifacts: Path
) -> None:
    context = await chromium.new_context(locale="en-GB")
    page = await context.new_page()
    await page.goto(served_app.url + "/")
    await page.click("#install")
    agreement = await install_and_onboard(page, served_app)
    base = f"{served_app.url}/settings/{agreement}"

    await page.goto(base)
    await expect(page.locator("#company-in-view")).to_contain_text(str(agreement))
    await expect(page.locator("svg.chart").first).to_be_visible()
    await shot(page, artifacts, "dashboard")
    await axe_clean(page, "dashboard")

    await page.goto(f"{base}/resync")
    await page.select_option("#scope", "invoices")
    await page.click("#resync")
    await expect(page).to_have_url(re.compile(r"\?job=\d+$"))
    job = page.url.rsplit("=", 1)[1]
    await served_app.drain()
    await expect(page.locator(f"#progress-label-{job}")).to_contain_text("100 %", timeout=10_000)
    assert await page.locator(f"#progress-{job}").evaluate("bar => bar.value === bar.max")
    await shot(page, artifacts, "resync")
    await axe_clean(page, "resync")

    await page.goto(f"{base}/approvals")
    await axe_clean(page, "approvals")
    first = page.locator("input[name=invoice]").first
    invoice = await first.get_attribute("value")
    await first.check()
    await page.click("#approve-selected")
    await expect(page.locator("#results")).to_contain_text(f"{invoice}")
    await served_app.drain()  # the handover

    await page.goto(f"{base}/claims/{invoice}")
    await expect(page.locator("#journey")).to_contain_text("Handover approved")
    await expect(page.locator("#journey")).to_contain_text("Handed over to collection")
    await expect(page.locator("#claim-state")).to_have_text("In collection")
    await shot(page, artifacts, "journey")
    await axe_clean(page, "journey")

    for path, name in [
        ("/claims", "claims"),
        ("/bookkeeping", "bookkeeping"),
        ("/settings", "settings"),
        ("/users", "users"),
        ("/audit", "audit"),
    ]:
        await page.goto(base + path)
        await shot(page, artifacts, name)
        await axe_clean(page, name)
    await page.goto(served_app.url + "/settings")
    await axe_clean(page, "overview")
    await context.close()


async def test_add_a_client_company_switch_between_them_in_danish_and_english(
    chromium: Browser, served_app: Served, artifacts: Path
) -> None:
    context = await chromium.new_context(locale="en-GB")
    page = await context.new_page()
    await page.goto(served_app.url + "/install/economic")
    first = await install_and_onboard(page, served_app)
    await page.goto(served_app.url + "/settings")
    await page.click("#add-company")  # a form: the install it starts is recorded as ours
    second = await install_and_onboard(page, served_app)
    assert second != first

    await page.goto(served_app.url + "/settings")
    await expect(page.locator(f'tr[data-agreement="{first}"]')).to_be_visible()
    await expect(page.locator(f'tr[data-agreement="{second}"]')).to_be_visible()
    await shot(page, artifacts, "overview")

    await page.goto(f"{served_app.url}/settings/{first}")
    await page.fill("#switch-company", str(second))
    await page.press("#switch-company", "Enter")
    await expect(page).to_have_url(f"{served_app.url}/settings/{second}")
    await expect(page.locator("#company-in-view")).to_contain_text(str(second))

    await page.click("a[lang=da]")
    await expect(page.locator("html")).to_have_attribute("lang", "da")
    await expect(page.locator("h1")).to_have_text("Overblik")
    await shot(page, artifacts, "dashboard-da")
    await axe_clean(page, "dashboard (da)")
    await page.click("a[lang=en]")
    await expect(page.locator("h1")).to_have_text("Dashboard")
    await context.close()


async def test_roles_csrf_and_other_companies_in_the_browser(
    chromium: Browser, served_app: Served
) -> None:
    admin = await chromium.new_context()
    page = await admin.new_page()
    await page.goto(served_app.url + "/install/economic")
    agreement = await install_and_onboard(page, served_app)
    base = f"{served_app.url}/settings/{agreement}"
    people = {}
    for role in ("guest", "caseworker"):
        await page.goto(f"{base}/users")
        await page.fill("#invite-email", f"{role}@example.test")
        await page.select_option("#invite-role", role)
        await page.click("#invite")
        people[role] = (await page.locator("#link").inner_text()).strip()

    async def signed_up(role: str) -> Page:
        context = await chromium.new_context()
        them = await context.new_page()
        await them.goto(people[role])
        await them.fill("#password", PASSWORD)
        await them.fill("#repeat", PASSWORD)
        await them.click("button[type=submit]")
        # The account is made; the link signs nobody in: sign in with the new password.
        await expect(them.locator("#done")).to_be_visible()
        await them.fill("#email", f"{role}@example.test")
        await them.fill("#password", PASSWORD)
        await them.click("button[type=submit]")
        await expect(them).to_have_url(base)
        return them

    guest = await signed_up("guest")
    await guest.goto(f"{base}/resync")
    await expect(guest.locator("#resync")).to_have_count(0)
    refused = await guest.evaluate(_post_with_csrf, f"{base}/resync")
    assert refused == 403

    caseworker = await signed_up("caseworker")
    await caseworker.goto(f"{base}/settings")
    await expect(caseworker.locator("#save-policy")).to_have_count(0)
    assert await caseworker.evaluate(_post_with_csrf, f"{base}/settings/policy") == 403
    # A form without its CSRF token is refused, even for the admin.
    assert await page.evaluate(_post_without_csrf, f"{base}/settings/policy") == 403
    # Another company's pages: URL tampering finds nothing.
    answer = await caseworker.goto(f"{served_app.url}/settings/{agreement + 1}/claims")
    assert answer is not None and answer.status == 404


_post_with_csrf = """async (url) => {
  const token = document.querySelector('input[name=csrf_token]').value;
  const body = new URLSearchParams({csrf_token: token, scope: 'all', mode: 'automatic'});
  return (await fetch(url, {method: 'POST', body})).status;
}"""
_post_without_csrf = """async (url) => {
  const body = new URLSearchParams({mode: 'automatic', min_days_overdue: '1', min_amount: '0'});
  return (await fetch(url, {method: 'POST', body})).status;
}"""
