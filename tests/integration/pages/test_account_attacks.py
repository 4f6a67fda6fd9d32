"""The attacks a review of the settings pages found, each shut: over real HTTP against the app
and the e-conomic simulator, on SQLite and PostgreSQL.

- an admin of one company invites somebody's existing address and sets its password by the link;
- a company's e-conomic admin puts a bookkeeper's address on their own user and reinstalls;
- a reset or invitation link signs the browser in (past the second factor, or by a form another
  site posts: login CSRF);
- a new password leaves a stolen session alive; a removed member rejoins by an old invitation;
- a link's token in the access log.
"""

from __future__ import annotations

import re

import aiohttp

from plugin.logs import mask_url_secrets
from plugin.sessions import SESSION_COOKIE
from sync.store.users import Users
from tests.integration.pages.support import get, post
from tests.integration.pages.test_accounts import PASSWORD, set_password, sign_in, two_factor_on
from tests.integration.pages.test_members import (
    accept,
    browser,
    invite,
    member_form,
    second_company,
    shown_link,
    users_url,
)
from tests.integration.test_install import confirmed
from tests.integration.test_onboarding import Bridge

ATTACKER = "a new password the attacker chose"


def session_cookie(http: aiohttp.ClientSession) -> str | None:
    return {c.key: c.value for c in http.cookie_jar}.get(SESSION_COOKIE)


async def test_an_invitation_never_sets_an_existing_accounts_password(bridge: Bridge) -> None:
    # The victim installed a company of their own: an account without a password.
    async with browser() as victim:
        await second_company(bridge, victim, "victim@firm.dk")
    link = await invite(bridge, "victim@firm.dk", "guest")  # the attacker is this company's admin
    async with browser() as attacker:
        page = await get(attacker, link)
        assert 'id="sign-in-first"' in page.text and 'name="password"' not in page.text
        tried = await post(attacker, link, {"password": ATTACKER, "repeat": ATTACKER})
        assert tried.url.path == "/settings/login" and session_cookie(attacker) is None
        signed = await sign_in(attacker, bridge.url, "victim@firm.dk", ATTACKER)
        assert signed.status == 401  # the password was never set
    victim_user = await Users(bridge.db).get_by_email("victim@firm.dk")
    installation = await bridge.installation()
    assert victim_user is not None
    assert await Users(bridge.db).role_in(victim_user.id, installation.id) is None


async def test_a_reinstall_reporting_a_bookkeepers_address_signs_nobody_in(bridge: Bridge) -> None:
    """The bookkeeper (the bridge's admin) looks after two companies; the second company's own
    e-conomic admin gives their user the bookkeeper's address and installs again."""
    from tests.integration.test_install import add_client_company

    await add_client_company(bridge.browser, bridge)
    agreement = bridge.economic.agreement(1)
    bookkeeper = bridge.company().email
    bridge.economic.state.companies[agreement].email = bookkeeper
    async with browser() as attacker, attacker.get(f"{bridge.url}/install/economic") as r:
        landed = await confirmed(attacker, r)
        assert landed.status == 409 and 'data-code="account_exists"' in landed.page
        assert session_cookie(attacker) is None
        assert (await get(attacker, f"{bridge.url}/settings")).url.path == "/settings/login"


async def test_a_reset_link_signs_nobody_in_and_the_second_factor_still_asks(
    bridge: Bridge,
) -> None:
    email, _, _ = await two_factor_on(bridge)
    # An admin's reset link (or the mailbox's): a new password, but no session from the link.
    user = await Users(bridge.db).get_by_email(email)
    assert user is not None
    fields = await member_form(bridge, f"reset-{user.id}")
    made = await post(bridge.browser, f"{users_url(bridge)}/{user.id}/reset-link", fields)
    link = shown_link(made)
    async with browser() as holder:
        new = "another long enough password"
        done = await post(holder, link, {"password": new, "repeat": new})
        assert done.url.path == "/settings/login" and session_cookie(holder) is None
        asked = await sign_in(holder, bridge.url, email, new)
        assert asked.url.path == "/settings/login/code"  # the second factor, as ever


async def test_a_new_password_ends_every_other_session(bridge: Bridge) -> None:
    email = await set_password(bridge)
    async with browser() as thief:
        assert (await sign_in(thief, bridge.url, email, PASSWORD)).url.path == "/settings"
        account = await get(bridge.browser, f"{bridge.url}/settings/account")
        new = "a completely new password"
        changed = await post(
            bridge.browser,
            f"{bridge.url}/settings/account",
            {**account.form_with(action="password"), "current": PASSWORD, "password": new,
             "repeat": new},
        )  # fmt: skip
        assert changed.status == 200 and 'id="message"' in changed.text, changed.text
        assert (await get(thief, f"{bridge.url}/settings")).url.path == "/settings/login"
        # This browser goes on, with a new session whose forms work.
        again = await get(bridge.browser, f"{bridge.url}/settings/account")
        saved = await post(
            bridge.browser,
            f"{bridge.url}/settings/account",
            {**again.form_with(action="profile"), "name": "Still Me"},
        )
        assert saved.status == 200 and 'id="message"' in saved.text


async def test_a_removed_member_cannot_rejoin_by_an_old_invitation(bridge: Bridge) -> None:
    first = await invite(bridge, "leaver@example.test", "caseworker")
    spare = await invite(bridge, "leaver@example.test", "admin")  # a second link, still open
    async with browser() as leaver:
        joined = await accept(leaver, first)
        assert joined.url.path == f"/settings/{bridge.agreement}", joined.text
        user = await Users(bridge.db).get_by_email("leaver@example.test")
        assert user is not None
        fields = await member_form(bridge, f"remove-{user.id}")
        removed = await post(bridge.browser, f"{users_url(bridge)}/{user.id}/remove", fields)
        assert removed.status == 200, removed.text
        assert (await get(leaver, f"{bridge.url}/settings/{bridge.agreement}")).status == 404
        assert (await get(leaver, spare)).status == 404  # withdrawn with the membership


def test_link_tokens_never_reach_the_access_log() -> None:
    line = (
        '127.0.0.1 "GET /settings/password/reset/Zr3-secret_token HTTP/1.1" 200 '
        '"POST /settings/invite/Inv1te-Token HTTP/1.1" 303 '
        '"GET /settings/login?next=/settings/invite/Inv1te-Token HTTP/1.1" 200'
    )
    masked = mask_url_secrets(line)
    assert "Zr3-secret_token" not in masked and "Inv1te-Token" not in masked
    assert re.search(r"/settings/password/reset/\*\*\*", masked)


async def test_a_two_factor_code_works_once(bridge: Bridge) -> None:
    email, _, code = await two_factor_on(bridge)
    async with browser() as first, browser() as second:
        for http in (first, second):
            assert (
                await sign_in(http, bridge.url, email, PASSWORD)
            ).url.path == "/settings/login/code"
        asked = await get(first, f"{bridge.url}/settings/login/code")
        done = await post(first, str(asked.url), {**asked.hidden(), "code": code})
        assert done.url.path == "/settings", done.text
        asked = await get(second, f"{bridge.url}/settings/login/code")
        replayed = await post(second, str(asked.url), {**asked.hidden(), "code": code})
        assert replayed.status == 401  # the same code, seen once already
