"""Accounts on the settings pages over real HTTP: the installing admin, passwords, sign-in and
its rate limit, the second factor, CSRF on every form."""

from __future__ import annotations

import re

import aiohttp

from plugin.credentials import totp_code
from plugin.sessions import SESSION_COOKIE
from sync.store.users import Users
from tests.integration.pages.support import get, post
from tests.integration.test_onboarding import Bridge

PASSWORD = "a long enough password"


async def set_password(bridge: Bridge, password: str = PASSWORD) -> str:
    account = await get(bridge.browser, f"{bridge.url}/settings/account")
    assert account.status == 200, account.text
    fields = account.form_with(action="password")
    done = await post(
        bridge.browser,
        f"{bridge.url}/settings/account",
        {**fields, "password": password, "repeat": password},
    )
    assert done.status == 200 and 'id="message"' in done.text, done.text
    return bridge.company().email


async def two_factor_on(bridge: Bridge) -> tuple[str, str, str]:
    """The bridge's person with a password and the second factor turned on: their e-mail, the
    TOTP key, and the code that confirmed it (spent)."""
    email = await set_password(bridge)
    account = await get(bridge.browser, f"{bridge.url}/settings/account")
    start = await post(
        bridge.browser,
        f"{bridge.url}/settings/account",
        {**account.form_with(action="totp_start"), "current": PASSWORD},
    )
    fields = start.form_with(action="totp_confirm")
    code = totp_code(fields["key"], at=bridge.clock())
    on = await post(
        bridge.browser,
        f"{bridge.url}/settings/account",
        {**fields, "current": PASSWORD, "code": code},
    )
    assert on.status == 200 and 'id="message"' in on.text, on.text
    return email, fields["key"], code


async def sign_in(browser: aiohttp.ClientSession, url: str, email: str, password: str):
    form = await get(browser, f"{url}/settings/login")
    return await post(
        browser, f"{url}/settings/login", {**form.hidden(), "email": email, "password": password}
    )


async def test_the_installing_admin_sees_the_overview_and_the_dashboard(bridge: Bridge) -> None:
    overview = await get(bridge.browser, f"{bridge.url}/settings")
    assert overview.status == 200, overview.text
    assert f'data-agreement="{bridge.agreement}"' in overview.text
    dashboard = await get(bridge.browser, f"{bridge.url}/settings/{bridge.agreement}")
    assert dashboard.status == 200, dashboard.text
    assert 'id="company-in-view"' in dashboard.text


async def test_password_sign_in_rotates_the_session_and_is_rate_limited(bridge: Bridge) -> None:
    email = await set_password(bridge)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as other:
        assert (await get(other, f"{bridge.url}/settings")).url.path == "/settings/login"
        wrong = await sign_in(other, bridge.url, email, "not the password")
        assert wrong.status == 401 and 'id="error"' in wrong.text
        other.cookie_jar.update_cookies({SESSION_COOKIE: "planted-by-someone-else"})
        right = await sign_in(other, bridge.url, email, PASSWORD)
        assert right.status == 200 and right.url.path == "/settings", right.text
        session = {c.key: c.value for c in other.cookie_jar}[SESSION_COOKIE]
        assert session != "planted-by-someone-else"
        other.cookie_jar.clear()
        for _ in range(5):
            assert (await sign_in(other, bridge.url, email, "guess")).status == 401
        # Five failures in the window: even the right password waits now.
        assert (await sign_in(other, bridge.url, email, PASSWORD)).status == 429


async def test_a_form_without_its_csrf_token_is_refused(bridge: Bridge) -> None:
    account = await get(bridge.browser, f"{bridge.url}/settings/account")
    fields = account.form_with(action="profile")
    fields.pop("csrf_token")
    refused = await post(bridge.browser, f"{bridge.url}/settings/account", {**fields, "name": "X"})
    assert refused.status == 403


async def test_two_factor_asks_for_the_code_before_signing_in(bridge: Bridge) -> None:
    email, key, _ = await two_factor_on(bridge)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as other:
        asked = await sign_in(other, bridge.url, email, PASSWORD)
        assert asked.url.path == "/settings/login/code", asked.text
        # The half-signed-in session opens nothing yet, pages nor API.
        assert (await get(other, f"{bridge.url}/settings")).url.path == "/settings/login"
        async with other.get(f"{bridge.url}/api/v1/installations") as api:
            assert api.status == 401
        wrong = await post(other, str(asked.url), {**asked.hidden(), "code": "000000"})
        assert wrong.status == 401
        done = await post(
            other,
            str(asked.url),
            {**asked.hidden(), "code": totp_code(key, at=bridge.clock())},
        )
        assert done.url.path == "/settings", done.text


async def test_add_a_client_company_links_it_to_the_signed_in_bookkeeper(bridge: Bridge) -> None:
    from tests.integration.test_install import add_client_company

    me = await get(bridge.browser, f"{bridge.url}/settings/account")
    page = await add_client_company(bridge.browser, bridge)
    second = int(re.search(r"agreement (\d+)", page).group(1))  # type: ignore[union-attr]
    assert second != bridge.agreement
    overview = await get(bridge.browser, f"{bridge.url}/settings")
    assert f'data-agreement="{bridge.agreement}"' in overview.text
    assert f'data-agreement="{second}"' in overview.text
    after = await get(bridge.browser, f"{bridge.url}/settings/account")
    assert _heading(after.text) == _heading(me.text)  # still the same person
    switched = await get(bridge.browser, f"{bridge.url}/settings/switch?q={second}")
    assert switched.url.path == f"/settings/{second}"


async def test_an_install_another_site_sends_a_signed_in_browser_to_links_nothing(
    bridge: Bridge,
) -> None:
    """Another site sends a signed-in bookkeeper's browser through our install with its own
    grant (no form of ours asked for it): the bookkeeper gets no access to that company and is
    not signed out; only confirming on our page would sign the browser in to the new account."""
    from sync.store.installations import Installations

    me = await get(bridge.browser, f"{bridge.url}/settings/account")
    async with bridge.browser.get(f"{bridge.url}/install/economic") as r:  # not confirmed
        assert r.url.path == "/install/economic/confirm", r.url
        agreement = int(r.url.query["agreement"])
    other = await Installations(bridge.db).get_by_agreement(agreement)
    assert other is not None
    me_user = await Users(bridge.db).get_by_email(_heading(me.text))
    assert me_user is not None and await Users(bridge.db).role_in(me_user.id, other.id) is None
    still = await get(bridge.browser, f"{bridge.url}/settings/account")
    assert still.status == 200 and _heading(still.text) == _heading(me.text)


def _heading(text: str) -> str:
    found = re.search(r'<h2 id="profile-heading">([^<]+)</h2>', text)
    assert found
    return found.group(1)


async def test_the_daily_housekeeping_forgets_expired_sessions_and_old_failed_sign_ins(
    database_url: str,
) -> None:
    import datetime as dt

    from sync import schedules
    from sync.store.accounts import Accounts
    from sync.store.sessions import Sessions, token_hash
    from tests.integration.sync.support import running_company

    async with running_company(database_url, invoices=5) as company:
        db, now = company.bridge.db, company.bridge.clock()
        user = await Users(db).find_or_create(email="old@example.test", name="", now=now)
        sessions = Sessions(db)
        for token, ends in (
            ("expired", now - dt.timedelta(hours=1)),
            ("live", now + dt.timedelta(hours=1)),
        ):
            await sessions.create(
                token=token, user_id=user, csrf_token="c", now=now, expires_at=ends
            )
        accounts = Accounts(db)
        await accounts.record_failure("email:old@example.test", at=now - dt.timedelta(days=2))
        await accounts.record_failure("email:old@example.test", at=now)
        job = await company.services.queue.enqueue(schedules.housekeeping(run_at=now), now=now)
        await company.settle()
        assert (await company.job(job)).state == "succeeded"
        assert await sessions.get("live", now=now) is not None
        rows = await db.fetch(
            "count_login_failures",
            subject="email:old@example.test",
            since=now - dt.timedelta(days=30),
        )
        assert rows[0]["failures"] == 1
        remaining = await db.fetchrow(
            "get_session",
            token_hash=token_hash("expired"),
            now=now - dt.timedelta(days=1),
        )
        assert remaining is None  # gone, not merely expired
