"""Installing from e-conomic end to end, over real HTTP: our app and the e-conomic simulator on
loopback, a browser-like client with a cookie jar following the redirects.

Every bad-input case answers 400 with a page that says what happened, and stores nothing.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http.cookies import SimpleCookie

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from plugin.app import create_app
from plugin.install import CONFIRM_PATH, PENDING_COOKIE, STATE_COOKIE
from plugin.install_flow import new_nonce, sign_state, state_keys
from plugin.keys import DATABASE, QUEUE, SERVICES
from plugin.logs import ContextFilter, TextFormatter
from plugin.sessions import SESSION_COOKIE
from plugin.settings import Secret, Settings
from sandbox.economic.install import PATH as GRANT_PAGE
from sync.jobs import NewJob
from sync.store.audit import AuditLog
from sync.store.db import Database
from sync.store.economic_grants import EconomicGrants
from sync.store.install_states import InstallStates
from sync.store.installations import Installation, Installations
from sync.store.sessions import Sessions
from sync.store.usage import ApiUsage
from sync.store.users import Users
from tests.fixtures.conditions import Clock
from tests.fixtures.economic import EconomicSandbox, start_economic_sandbox
from tests.fixtures.served import loopback_socket, served

SECRET_KEY = "install-test-secret-key-0123456789abcdef"


@dataclass
class Bridge:
    """Our app, served on loopback, configured against the simulator."""

    url: str
    app: web.Application
    clock: Clock
    settings: Settings

    @property
    def db(self) -> Database:
        return self.app[DATABASE]

    async def installation(self, agreement: int) -> Installation:
        found = await Installations(self.db).get_by_agreement(agreement)
        assert found is not None
        return found

    async def assert_nothing_installed(self, sandbox: EconomicSandbox) -> None:
        assert await Installations(self.db).list() == []
        for company in sandbox.state.companies.values():
            assert await Users(self.db).get_by_email(company.email) is None


@asynccontextmanager
async def run_bridge(
    database_url: str, sandbox: EconomicSandbox, *, public_url: str | None = None
) -> AsyncIterator[Bridge]:
    sock, url = loopback_socket()
    settings = Settings(
        database_url=database_url,
        public_url=public_url or url,
        secret_keys=(Secret(SECRET_KEY),),
        economic_app_secret_token=Secret(sandbox.app_secret_token),
        economic_app_public_token=Secret(sandbox.app_public_token),
        economic_api_url=sandbox.url,
        economic_openapi_url=sandbox.url,
        economic_install_url=sandbox.url + GRANT_PAGE,
    )
    clock = Clock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    async with served(create_app(settings, run_worker=False, clock=clock), sock) as app:
        yield Bridge(url=url, app=app, clock=clock, settings=settings)


@pytest.fixture
async def bridge(database_url: str, economic_sandbox: EconomicSandbox) -> AsyncIterator[Bridge]:
    """The app on SQLite and on PostgreSQL."""
    async with run_bridge(database_url, economic_sandbox) as running:
        yield running


@asynccontextmanager
async def browser() -> AsyncIterator[aiohttp.ClientSession]:
    """A client that keeps cookies for 127.0.0.1 (aiohttp refuses IP hosts unless unsafe)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


async def auto_approve(sandbox: EconomicSandbox, on: bool = True) -> None:
    async with sandbox.session() as http:
        async with http.put("/_sandbox/install", json={"auto_approve": on}) as r:
            assert r.status == 200


def set_cookie(response: aiohttp.ClientResponse, name: str) -> str:
    """The raw Set-Cookie header of one cookie (to check its attributes)."""
    found = [h for h in response.headers.getall("Set-Cookie", []) if h.startswith(f"{name}=")]
    assert len(found) == 1, response.headers.getall("Set-Cookie", [])
    return found[0]


def cookie_value(response: aiohttp.ClientResponse, name: str) -> str:
    parsed: SimpleCookie = SimpleCookie()
    parsed.load(set_cookie(response, name))
    return parsed[name].value


async def begin(http: aiohttp.ClientSession, bridge: Bridge) -> aiohttp.ClientResponse:
    """``GET /install/economic`` without following: the state cookie and the grant page URL."""
    async with http.get(f"{bridge.url}/install/economic", allow_redirects=False) as r:
        assert r.status == 302
        return r


async def grant_for(http: aiohttp.ClientSession, grant_page: str) -> str:
    """What the simulator's auto-approving grant page sends back: our callback with ?token=."""
    async with http.get(grant_page, allow_redirects=False) as r:
        assert r.status == 302
        return r.headers["Location"]


async def refused(response: aiohttp.ClientResponse, code: str, *, status: int = 400) -> str:
    body = await response.text()
    assert response.status == status, body
    assert response.content_type == "text/html"
    assert f'data-code="{code}"' in body
    assert "The app was not installed" in body and "Traceback" not in body
    assert "Start the installation again" in body
    return body


async def confirmed(http: aiohttp.ClientSession, r: aiohttp.ClientResponse) -> Landed:
    """Where a followed install lands, past the sign-in confirmation: its form posted as the
    person would (the answer as is when it did not stop there)."""
    page = await r.text()
    if r.url.path != CONFIRM_PATH:
        return Landed(r.status, page, r.url)
    fields = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', page))
    async with http.post(r.url.with_query(None), data=fields) as done:
        return Landed(done.status, await done.text(), done.url)


async def add_client_company(http: aiohttp.ClientSession, bridge: Bridge) -> str:
    """ "Add a client company" as a signed-in person asks for it (the overview's form, with the
    session's CSRF token), redirects followed and the sign-in confirmed: the page landed on."""
    async with http.get(f"{bridge.url}/settings") as r:
        overview = await r.text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', overview)
    assert token, overview
    async with http.post(
        f"{bridge.url}/settings/add-company", data={"csrf_token": token.group(1)}
    ) as r:
        landed = await confirmed(http, r)
    assert landed.status == 200 and landed.url.path.startswith("/onboarding/"), landed.page
    return landed.page


@dataclass
class Landed:
    status: int
    page: str
    url: URL


async def install(http: aiohttp.ClientSession, bridge: Bridge) -> tuple[str, str]:
    """The whole flow, redirects followed like a browser: our start → e-conomic's grant page
    (auto-approved) → our callback → the sign-in confirmed → onboarding. The onboarding page and
    the grant token."""
    async with http.get(f"{bridge.url}/install/economic") as r:
        hops = [str(h.headers.get("Location", "")) for h in r.history]
        landed = await confirmed(http, r)
    assert landed.status == 200, landed.page
    assert landed.url.path.startswith("/onboarding/")
    token = URL(hops[1]).query["token"]
    return landed.page, token


# -- the whole flow ---------------------------------------------------------------------------


async def test_install_end_to_end(database_url: str, economic_sandbox: EconomicSandbox) -> None:
    sandbox = economic_sandbox
    await auto_approve(sandbox)
    agreement = sandbox.agreement(0)
    company = sandbox.state.companies[agreement]
    async with run_bridge(database_url, sandbox) as bridge, browser() as http:
        start = await begin(http, bridge)
        grant_page = URL(start.headers["Location"])
        assert str(grant_page.with_query(None)) == sandbox.url + GRANT_PAGE
        assert grant_page.query["appPublicToken"] == sandbox.app_public_token
        assert grant_page.query["redirectUrl"] == f"{bridge.url}/install/economic/callback"
        state = set_cookie(start, STATE_COOKIE)
        assert "HttpOnly" in state and "SameSite=Lax" in state and "Max-Age=600" in state
        assert "Path=/install/economic" in state and "Secure" not in state

        callback = await grant_for(http, str(grant_page))
        token = URL(callback).query["token"]
        async with http.get(callback, allow_redirects=False) as r:
            confirm = f"{CONFIRM_PATH}?agreement={agreement}"
            assert r.status == 302 and r.headers["Location"] == confirm
            assert SESSION_COOKIE not in r.headers.get("Set-Cookie", "")  # not signed in yet
            pending = set_cookie(r, PENDING_COOKIE)
            assert "HttpOnly" in pending and "Path=/install/economic" in pending
            assert token not in await r.text()
        assert STATE_COOKIE not in {c.key for c in http.cookie_jar}  # done with: cleared
        async with http.get(bridge.url + confirm) as r:
            form = await r.text()
        assert r.status == 200 and company.email in form and html.escape(company.name) in form
        fields = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', form))
        async with http.post(bridge.url + CONFIRM_PATH, data=fields, allow_redirects=False) as r:
            assert r.status == 302 and r.headers["Location"] == f"/onboarding/{agreement}"
            session = set_cookie(r, SESSION_COOKIE)
            assert "HttpOnly" in session and "SameSite=Lax" in session and "Path=/" in session
            assert "Secure" not in session
        async with http.get(f"{bridge.url}/onboarding/{agreement}") as r:
            page = await r.text()
        assert r.status == 200
        assert f"Installed: {html.escape(company.name)}, agreement {agreement}" in page
        assert "Onboarding comes next" in page

        installation = await bridge.installation(agreement)
        assert installation.status == "active" and installation.company_name == company.name
        cipher = bridge.app[SERVICES].cipher
        assert cipher is not None
        assert await EconomicGrants(bridge.db, cipher).load(installation.id) == token
        user = await Users(bridge.db).get_by_email(company.email)
        assert user is not None and user.name == "Bogholder"
        assert await Users(bridge.db).role_in(user.id, installation.id) == "admin"
        [entry] = await AuditLog(bridge.db).list(installation.id)
        assert (entry.actor, entry.action) == (company.email.lower(), "installation.installed")
        assert entry.detail["via"] == "callback"
        # The /self call is counted against the company's e-conomic budget (and so are the
        # onboarding page's two reads: the journals and the chart of accounts).
        assert await ApiUsage(bridge.db).calls_24h(installation.id, "economic", bridge.clock()) == 3


async def test_add_app_click_installs_the_company_picked(
    bridge: Bridge, economic_sandbox: EconomicSandbox
) -> None:
    """Without auto-approve the grant page is a form: pick the second company, "Add app"."""
    sandbox = economic_sandbox
    second = sandbox.agreement(1)
    sandbox.state.companies[second].name = "Hansen <b>&</b> Søn ApS"  # pages escape it
    async with browser() as http:
        grant_page = (await begin(http, bridge)).headers["Location"]
        async with http.get(grant_page) as r:
            form = await r.text()
        assert r.status == 200 and 'id="add-app"' in form
        fields = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', form))
        fields = {k: v.replace("&amp;", "&") for k, v in fields.items()}
        async with http.post(sandbox.url + GRANT_PAGE, data={**fields, "agreement": second}) as r:
            landed = await confirmed(http, r)
        page = landed.page
        assert landed.status == 200 and landed.url.path == f"/onboarding/{second}"
    assert "Installed: Hansen &lt;b&gt;&amp;&lt;/b&gt; Søn ApS, agreement" in page
    assert (await bridge.installation(second)).company_name == "Hansen <b>&</b> Søn ApS"


async def test_reinstall_keeps_the_installation_and_its_history(
    database_url: str, economic_sandbox: EconomicSandbox
) -> None:
    sandbox = economic_sandbox
    await auto_approve(sandbox)
    agreement = sandbox.agreement(0)
    async with run_bridge(database_url, sandbox) as bridge:
        async with browser() as http:
            _, first_token = await install(http, bridge)
        first = await bridge.installation(agreement)
        job_id = await bridge.app[QUEUE].enqueue(
            NewJob(kind="sync.customers", installation_id=first.id), now=bridge.clock()
        )
        # The customer removes the app in e-conomic; we noticed (revoked), then they add it again.
        await Installations(bridge.db).set_status(first.id, "revoked", now=bridge.clock())
        async with sandbox.session() as control:
            async with control.post(f"/_sandbox/grants/{agreement}/revoke") as r:
                assert r.status == 200
        bridge.clock.now += dt.timedelta(days=2)
        async with browser() as http:
            page, second_token = await install(http, bridge)
        assert f"agreement {agreement}" in page

        again = await bridge.installation(agreement)
        assert (again.id, again.installation_key, again.created_at) == (
            first.id,
            first.installation_key,
            first.created_at,
        )
        assert again.status == "active" and again.revoked_at is None
        job = await bridge.app[QUEUE].get(job_id)
        assert job is not None and job.installation_id == first.id
        actions = [e.action for e in await AuditLog(bridge.db).list(first.id)]
        assert actions == ["installation.installed", "installation.reinstalled"]
        cipher = bridge.app[SERVICES].cipher
        assert cipher is not None and second_token != first_token
        assert await EconomicGrants(bridge.db, cipher).load(first.id) == second_token
        assert [m.role for m in await Users(bridge.db).members(first.id)] == ["admin"]


async def test_an_email_another_company_also_claims_signs_nobody_in(database_url: str) -> None:
    """e-conomic's user e-mail is the installer's word: a second agreement whose user carries
    the address of an existing account installs its company, but is neither signed in as that
    account nor given it access; the account itself, signed in, may add the company."""
    async with start_economic_sandbox(invoices=5, companies=3) as sandbox:
        await _installs_under_a_claimed_email(database_url, sandbox)


async def _installs_under_a_claimed_email(database_url: str, sandbox: EconomicSandbox) -> None:
    await auto_approve(sandbox)
    first, second, third = (sandbox.agreement(n) for n in range(3))
    companies = sandbox.state.companies
    async with run_bridge(database_url, sandbox) as bridge:
        async with browser() as owner:
            await install(owner, bridge)  # the first company and its admin account
            companies[second].email = companies[third].email = companies[first].email
            async with browser() as stranger, stranger.get(f"{bridge.url}/install/economic") as r:
                body = await r.text()
                assert r.status == 409 and 'data-code="account_exists"' in body, body
                assert "Traceback" not in body
                assert "collectbridge_session" not in {c.key for c in stranger.cookie_jar}
            assert (await bridge.installation(second)).status == "active"
            assert await Users(bridge.db).members((await bridge.installation(second)).id) == []
            # The account's owner, signed in, adds the third company: it is theirs. A plain
            # install while signed in links nothing (another site could send the browser there).
            page = await add_client_company(owner, bridge)
            assert f"agreement {third}" in page
        members = await Users(bridge.db).members((await bridge.installation(third)).id)
        assert [m.role for m in members] == ["admin"]
        audit = await AuditLog(bridge.db).list((await bridge.installation(second)).id)
        assert [e.detail.get("signed_in") for e in audit] == [False]


# -- the state cookie -------------------------------------------------------------------------


async def test_callback_without_state_cookie_is_refused(
    bridge: Bridge, economic_sandbox: EconomicSandbox
) -> None:
    token = economic_sandbox.grant()
    async with browser() as http:
        url = f"{bridge.url}/install/economic/callback?token={token}"
        async with http.get(url, allow_redirects=False) as r:
            body = await refused(r, "state_missing")
            assert "Set-Cookie" not in r.headers
    assert token not in body
    await bridge.assert_nothing_installed(economic_sandbox)


@pytest.mark.parametrize("tamper", ["signature", "nonce", "timestamp", "other_key", "garbage"])
async def test_forged_state_cookie_is_refused(
    bridge: Bridge, economic_sandbox: EconomicSandbox, tamper: str
) -> None:
    token = economic_sandbox.grant()
    async with browser() as http:
        value = cookie_value(await begin(http, bridge), STATE_COOKIE)
    version, nonce, issued, signature = value.split(".")

    def changed(text: str) -> str:
        return text[:-1] + ("B" if text[-1] == "A" else "A")

    forged = {
        "signature": f"{version}.{nonce}.{issued}.{changed(signature)}",
        "nonce": f"{version}.{changed(nonce)}.{issued}.{signature}",
        "timestamp": f"{version}.{nonce}.{int(issued) + 60}.{signature}",
        "other_key": sign_state(
            nonce, key=state_keys(["another-secret-key-of-32-characters!!"])[0], now=bridge.clock()
        ),
        "garbage": "not-a-state",
    }[tamper]
    async with browser() as http:
        url = f"{bridge.url}/install/economic/callback?token={token}"
        async with http.get(url, headers={"Cookie": f"{STATE_COOKIE}={forged}"}) as r:
            assert token not in await refused(r, "state_forged")
    await bridge.assert_nothing_installed(economic_sandbox)


async def test_state_we_never_issued_is_refused(
    bridge: Bridge, economic_sandbox: EconomicSandbox
) -> None:
    """Signed with our key (say, leaked) but its nonce was never recorded: foreign."""
    token = economic_sandbox.grant()
    foreign = sign_state(new_nonce(), key=state_keys([SECRET_KEY])[0], now=bridge.clock())
    async with browser() as http:
        url = f"{bridge.url}/install/economic/callback?token={token}"
        async with http.get(url, headers={"Cookie": f"{STATE_COOKIE}={foreign}"}) as r:
            await refused(r, "state_unknown")
    await bridge.assert_nothing_installed(economic_sandbox)


async def test_expired_state_is_refused(bridge: Bridge, economic_sandbox: EconomicSandbox) -> None:
    await auto_approve(economic_sandbox)
    async with browser() as http:
        callback = await grant_for(http, (await begin(http, bridge)).headers["Location"])
        bridge.clock.now += dt.timedelta(minutes=10, seconds=1)  # a long coffee on e-conomic's page
        async with http.get(callback) as r:
            await refused(r, "state_expired")
    await bridge.assert_nothing_installed(economic_sandbox)


async def test_replayed_callback_is_refused(
    bridge: Bridge, economic_sandbox: EconomicSandbox
) -> None:
    await auto_approve(economic_sandbox)
    agreement = economic_sandbox.agreement(0)
    async with browser() as http:
        start = await begin(http, bridge)
        state = cookie_value(start, STATE_COOKIE)
        callback = await grant_for(http, start.headers["Location"])
        async with http.get(callback, allow_redirects=False) as r:
            assert r.status == 302
    installation = await bridge.installation(agreement)
    async with browser() as replay:  # someone who captured the callback and the cookie
        async with replay.get(callback, headers={"Cookie": f"{STATE_COOKIE}={state}"}) as r:
            await refused(r, "state_used")
            assert SESSION_COOKIE not in r.headers.get("Set-Cookie", "")
    assert len(await AuditLog(bridge.db).list(installation.id)) == 1
    nonce = state.split(".")[1]
    used = await InstallStates(bridge.db).get(nonce)
    assert used is not None and used.used_at is not None


# -- the token --------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["?token=", "?token=%20%20", ""])
async def test_empty_or_missing_token_is_refused(
    bridge: Bridge, economic_sandbox: EconomicSandbox, query: str
) -> None:
    async with browser() as http:
        value = cookie_value(await begin(http, bridge), STATE_COOKIE)
        async with http.get(f"{bridge.url}/install/economic/callback{query}") as r:
            await refused(r, "token_missing")
    await bridge.assert_nothing_installed(economic_sandbox)
    # Nothing was used up either: the same state still completes an install.
    state = await InstallStates(bridge.db).get(value.split(".")[1])
    assert state is not None and state.used_at is None


async def test_token_e_conomic_rejects_is_refused(
    bridge: Bridge, economic_sandbox: EconomicSandbox
) -> None:
    bogus = "NotAGrantTokenE-conomicHasEverIssued42"
    async with browser() as http:
        await begin(http, bridge)
        async with http.get(f"{bridge.url}/install/economic/callback?token={bogus}") as r:
            assert bogus not in await refused(r, "grant_rejected")
    await bridge.assert_nothing_installed(economic_sandbox)


async def test_e_conomic_down_leaves_the_install_to_retry(
    bridge: Bridge, economic_sandbox: EconomicSandbox
) -> None:
    """A 503 from /self is not the person's fault: 503 page, nothing stored, nothing used up;
    reloading the callback once e-conomic is back completes the install."""
    await auto_approve(economic_sandbox)
    async with browser() as http:
        callback = await grant_for(http, (await begin(http, bridge)).headers["Location"])
        async with economic_sandbox.session() as control:
            async with control.post("/_sandbox/faults", json={"status": 503, "rate": 1}) as r:
                assert r.status == 200
            async with http.get(callback) as r:
                await refused(r, "economic_unavailable", status=503)
            await bridge.assert_nothing_installed(economic_sandbox)
            async with control.post("/_sandbox/faults", json={}) as r:
                assert r.status == 200
        async with http.get(callback) as r:
            landed = await confirmed(http, r)
        assert landed.status == 200 and landed.url.path.startswith("/onboarding/")


async def test_a_grant_without_the_users_email_is_refused(
    bridge: Bridge, economic_sandbox: EconomicSandbox
) -> None:
    await auto_approve(economic_sandbox)
    economic_sandbox.state.companies[economic_sandbox.agreement(0)].email = ""
    async with browser() as http:
        callback = await grant_for(http, (await begin(http, bridge)).headers["Location"])
        async with http.get(callback) as r:
            await refused(r, "user_unknown")
    assert await Installations(bridge.db).list() == []


async def test_install_pages_say_when_the_server_is_not_configured(sqlite_url: str) -> None:
    sock, url = loopback_socket()
    app = create_app(Settings(database_url=sqlite_url), run_worker=False)
    async with served(app, sock), browser() as http:
        for path in ("/install/economic", "/install/economic/token"):
            async with http.get(url + path, allow_redirects=False) as r:
                body = await refused(r, "not_configured", status=503)
                assert "COLLECTBRIDGE_SECRET_KEY" in body


async def test_the_grant_token_appears_in_no_page_and_no_log(
    bridge: Bridge, economic_sandbox: EconomicSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """Every response body of the flow, the callback and the pasted token alike, and every log
    line: our own records raw, and everything (the access log too) as production's log handler
    writes it."""
    await auto_approve(economic_sandbox)
    caplog.set_level(logging.DEBUG)
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.addFilter(ContextFilter())
    handler.setFormatter(TextFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    bodies: list[str] = []
    try:
        async with browser() as http:
            location = f"{bridge.url}/install/economic"
            while location:
                async with http.get(URL(location), allow_redirects=False) as r:
                    bodies.append(await r.text())
                    location = r.headers.get("Location", "")
                    if location.startswith("/"):
                        location = bridge.url + location
        pasted = economic_sandbox.grant(1)
        async with browser() as http:
            async with http.get(f"{bridge.url}/install/economic/token") as r:
                bodies.append(await r.text())
            async with http.post(
                f"{bridge.url}/install/economic/token", data={"token": pasted}
            ) as r:
                landed = await confirmed(http, r)
            assert landed.status == 200 and landed.url.path.startswith("/onboarding/")
            bodies.append(landed.page)
    finally:
        logging.getLogger().removeHandler(handler)
    grants = [g.token for g in economic_sandbox.state.grants.values()]
    assert len(grants) == 2 and pasted in grants
    # caplog formats each record before production's handler (added after it) scrubs it.
    own = [line for line in caplog.text.splitlines() if "aiohttp.access" not in line]
    assert any("installed" in line for line in own)
    for token in grants:
        assert all(token not in body for body in bodies)
        assert all(token not in line for line in own)
        assert token not in written.getvalue()
    assert "/install/economic/callback?token=********" in written.getvalue()


# -- pasting a grant token --------------------------------------------------------------------


async def test_pasted_grant_token_installs(
    bridge: Bridge, economic_sandbox: EconomicSandbox
) -> None:
    agreement = economic_sandbox.agreement(1)
    token = economic_sandbox.grant(1)
    async with browser() as http:
        async with http.get(f"{bridge.url}/install/economic/token") as r:
            form = await r.text()
            assert r.status == 200 and 'name="token"' in form
            assert "HttpOnly" in set_cookie(r, STATE_COOKIE)
        async with http.post(
            f"{bridge.url}/install/economic/token", data={"token": f"  {token}\n"}
        ) as r:
            landed = await confirmed(http, r)
        page = landed.page
        assert landed.status == 200 and landed.url.path == f"/onboarding/{agreement}"
    assert f"agreement {agreement}" in page
    installation = await bridge.installation(agreement)
    [entry] = await AuditLog(bridge.db).list(installation.id)
    assert entry.detail["via"] == "token"


async def test_pasted_token_needs_the_form_state_and_a_token(
    bridge: Bridge, economic_sandbox: EconomicSandbox
) -> None:
    token = economic_sandbox.grant()
    async with browser() as http:  # another site's form posting into ours carries no cookie
        async with http.post(f"{bridge.url}/install/economic/token", data={"token": token}) as r:
            assert token not in await refused(r, "state_missing")
        async with http.get(f"{bridge.url}/install/economic/token") as r:
            assert r.status == 200
        async with http.post(f"{bridge.url}/install/economic/token", data={"token": " "}) as r:
            await refused(r, "token_missing")
        async with http.post(f"{bridge.url}/install/economic/token", data={}) as r:
            await refused(r, "token_missing")
    await bridge.assert_nothing_installed(economic_sandbox)


# -- pages and sessions -----------------------------------------------------------------------


async def test_start_page_and_sign_in_page(bridge: Bridge) -> None:
    async with browser() as http:
        async with http.get(f"{bridge.url}/") as r:
            page = await r.text()
        assert r.status == 200 and r.content_type == "text/html"
        assert 'href="/install/economic"' in page and 'href="/settings/login"' in page
        assert "e-conomic" in page and "debt-collection" in page
        async with http.get(f"{bridge.url}/settings/login") as r:
            page = await r.text()
        assert r.status == 200 and 'name="password"' in page and 'name="login_token"' in page


async def test_onboarding_is_for_signed_in_members_only(
    bridge: Bridge, economic_sandbox: EconomicSandbox
) -> None:
    await auto_approve(economic_sandbox)
    first, second = economic_sandbox.agreement(0), economic_sandbox.agreement(1)
    async with browser() as other:
        await install(other, bridge)  # someone else installs the first company
    async with browser() as http:
        async with http.get(f"{bridge.url}/onboarding/{first}", allow_redirects=False) as r:
            assert r.status == 302 and r.headers["Location"] == "/"
        economic_sandbox.state.companies[second].email = "someone.else@example.com"
        await install(http, bridge)  # the second company, by its own bookkeeper
        async with http.get(f"{bridge.url}/onboarding/{second}") as r:
            assert r.status == 200
        for agreement in (first, 999_999):  # another company's, and one not installed
            async with http.get(f"{bridge.url}/onboarding/{agreement}") as r:
                assert r.status == 404 and "Not found" in await r.text()


async def test_sign_in_always_starts_a_new_session(
    bridge: Bridge, economic_sandbox: EconomicSandbox
) -> None:
    await auto_approve(economic_sandbox)
    async with browser() as http:
        await install(http, bridge)
        old = next(c.value for c in http.cookie_jar if c.key == SESSION_COOKIE)
        async with economic_sandbox.session() as control:
            agreement = economic_sandbox.agreement(0)
            async with control.post(f"/_sandbox/grants/{agreement}/revoke") as r:
                assert r.status == 200
        await install(http, bridge)  # signing in again from the same browser
        new = next(c.value for c in http.cookie_jar if c.key == SESSION_COOKIE)
    assert new != old
    sessions = Sessions(bridge.db)
    assert await sessions.get(old, now=bridge.clock()) is None
    assert await sessions.get(new, now=bridge.clock()) is not None


async def test_cookies_are_secure_behind_https(
    sqlite_url: str, economic_sandbox: EconomicSandbox
) -> None:
    await auto_approve(economic_sandbox)
    public = "https://bridge.example"
    async with run_bridge(sqlite_url, economic_sandbox, public_url=public) as bridge:
        async with browser() as http:
            start = await begin(http, bridge)
            assert "Secure" in set_cookie(start, STATE_COOKIE)
            grant_page = URL(start.headers["Location"])
            assert grant_page.query["redirectUrl"] == f"{public}/install/economic/callback"
            callback = URL(await grant_for(http, str(grant_page)))
            state = cookie_value(start, STATE_COOKIE)
            local = URL(bridge.url).with_path(callback.path).with_query(callback.query)
            async with http.get(
                local, headers={"Cookie": f"{STATE_COOKIE}={state}"}, allow_redirects=False
            ) as r:
                assert r.status == 302
                assert "Secure" in set_cookie(r, PENDING_COOKIE)


async def test_a_callback_alone_signs_nobody_in_until_the_person_confirms(
    bridge: Bridge, economic_sandbox: EconomicSandbox
) -> None:
    """Login CSRF: another site can send a browser through our install with a grant of its own
    choosing. The browser then holds only a pending sign-in, scoped to the install path; the
    session is handed over only when the person posts the confirmation from our page."""
    await auto_approve(economic_sandbox)
    agreement = economic_sandbox.agreement(0)
    async with browser() as http:
        callback = await grant_for(http, (await begin(http, bridge)).headers["Location"])
        async with http.get(callback) as r:  # followed: the confirmation page
            form = await r.text()
        assert r.url.path == CONFIRM_PATH and 'id="confirm"' in form
        fields = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', form))
        assert SESSION_COOKIE not in {c.key for c in http.cookie_jar}
        async with http.get(f"{bridge.url}/onboarding/{agreement}", allow_redirects=False) as r:
            assert r.status == 302 and r.headers["Location"] == "/"  # not signed in
        # A post without the form's token, or with another, signs nobody in.
        for forged in ({"agreement": str(agreement)}, {**fields, "csrf_token": "x" * 43}):
            async with http.post(bridge.url + CONFIRM_PATH, data=forged) as r:
                await refused(r, "confirmation_expired")
        assert SESSION_COOKIE not in {c.key for c in http.cookie_jar}
    # Another browser (another site's form) has no pending sign-in to confirm.
    async with browser() as elsewhere:
        async with elsewhere.post(bridge.url + CONFIRM_PATH, data=fields) as r:
            await refused(r, "confirmation_expired")
        assert SESSION_COOKIE not in {c.key for c in elsewhere.cookie_jar}
