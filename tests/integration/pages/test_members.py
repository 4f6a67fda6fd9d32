"""Users and roles on the settings pages over real HTTP: invitations by link, roles, the last
admin, removal, reset links, and the audit log of every change."""

from __future__ import annotations

import asyncio
import html
import re

import aiohttp

from sync.store.accounts import Accounts
from sync.store.audit import AuditLog
from sync.store.users import Users
from tests.integration.pages.support import Page, get, post
from tests.integration.test_install import confirmed
from tests.integration.test_onboarding import Bridge

PASSWORD = "a long enough password"
LINK = re.compile(r'<code class="secret" id="link">([^<]+)</code>')


def browser() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


def users_url(bridge: Bridge) -> str:
    return f"{bridge.url}/settings/{bridge.agreement}/users"


def shown_link(page: Page) -> str:
    found = LINK.search(page.text)
    assert found, page.text
    return html.unescape(found.group(1))


async def invite(bridge: Bridge, email: str, role: str) -> str:
    """The admin invites ``email`` with ``role``: the link the answer page shows."""
    page = await get(bridge.browser, users_url(bridge))
    assert page.status == 200, page.text
    fields = page.form_with(action="invite")
    answer = await post(
        bridge.browser, f"{users_url(bridge)}/invite", {**fields, "email": email, "role": role}
    )
    assert answer.status == 200, answer.text
    return shown_link(answer)


async def accept(http: aiohttp.ClientSession, link: str, name: str = "New Person") -> Page:
    """A new person accepts with a password of their choosing, then signs in with it (the link
    itself signs nobody in): the page they land on."""
    form = await get(http, link)
    assert form.status == 200, form.text
    if 'id="sign-in-first"' in form.text:
        return form  # the account exists and is not the one signed in here
    if 'name="csrf_token"' in form.text.split("<main", 1)[1]:
        # Signed in as the invited account already: accepting is one click.
        return await post(http, link, form.form_with(csrf_token=form.hidden(-1)["csrf_token"]))
    made = await post(http, link, {"name": name, "password": PASSWORD, "repeat": PASSWORD})
    if made.url.path != "/settings/login":
        return made  # refused: the page says why
    assert 'id="done"' in made.text, made.text
    email = re.search(r'value="([^"]+)" readonly', form.text)
    assert email, form.text
    return await post(
        http,
        str(made.url),
        {**made.hidden(), "email": html.unescape(email.group(1)), "password": PASSWORD},
    )


async def join(bridge: Bridge, http: aiohttp.ClientSession, email: str, role: str) -> int:
    """``email`` joins the company with ``role`` by invitation in ``http``: their user id."""
    done = await accept(http, await invite(bridge, email, role))
    assert done.status == 200 and done.url.path == f"/settings/{bridge.agreement}", done.text
    user = await Users(bridge.db).get_by_email(email)
    assert user is not None
    return user.id


async def member_form(bridge: Bridge, action: str) -> dict[str, str]:
    return (await get(bridge.browser, users_url(bridge))).form_with(action=action)


async def second_company(bridge: Bridge, http: aiohttp.ClientSession, email: str) -> int:
    """Another company installed by its own admin (``email``) in ``http``: its agreement."""
    agreement = bridge.economic.agreement(1)
    bridge.economic.state.companies[agreement].email = email
    async with http.get(f"{bridge.url}/install/economic") as r:
        landed = await confirmed(http, r)
    assert landed.status == 200 and landed.url.path == f"/onboarding/{agreement}", landed.page
    return agreement


async def test_an_invited_person_joins_by_the_link_with_the_role(bridge: Bridge) -> None:
    link = await invite(bridge, "New.Person@example.com", "caseworker")
    assert link.startswith(f"{bridge.url}/settings/invite/")
    listed = await get(bridge.browser, users_url(bridge))
    assert "new.person@example.com" in listed.text and 'id="invitations"' in listed.text
    assert link not in listed.text  # the link was shown once, on the answer only
    async with browser() as http:
        done = await accept(http, link)
        assert done.status == 200 and done.url.path == f"/settings/{bridge.agreement}", done.text
        assert "Caseworker" in done.text
        # A caseworker may not see the users page, nor change anything on it.
        refused = await get(http, users_url(bridge))
        assert refused.status == 403
        assert (await get(http, link)).status == 404  # the link worked once
    users = await Users(bridge.db).members((await bridge.installation()).id)
    assert {m.email: m.role for m in users}["new.person@example.com"] == "caseworker"
    entries = await AuditLog(bridge.db).list((await bridge.installation()).id)
    invited = [e for e in entries if e.action == "member.invited"]
    assert len(invited) == 1 and invited[0].actor == bridge.company().email
    assert invited[0].detail["email"] == "new.person@example.com"
    assert invited[0].detail["role"] == "caseworker"
    token = link.rsplit("/", 1)[1]
    assert all(token not in str(e.detail) for e in entries)


async def test_a_bad_invitation_is_refused_with_a_message(bridge: Bridge) -> None:
    fields = await member_form(bridge, "invite")
    bad = await post(
        bridge.browser, f"{users_url(bridge)}/invite", {**fields, "email": "nope", "role": "admin"}
    )
    assert bad.status == 422 and 'id="error"' in bad.text
    again = await post(
        bridge.browser,
        f"{users_url(bridge)}/invite",
        {**fields, "email": bridge.company().email, "role": "guest"},
    )
    assert again.status == 409 and 'id="error"' in again.text  # already a member


async def test_the_last_admin_can_be_neither_demoted_nor_removed(bridge: Bridge) -> None:
    admin = await Users(bridge.db).get_by_email(bridge.company().email)
    assert admin is not None
    fields = await member_form(bridge, f"role-{admin.id}")
    demote = await post(
        bridge.browser, f"{users_url(bridge)}/{admin.id}/role", {**fields, "role": "guest"}
    )
    assert demote.status == 409 and "last admin" in demote.text, demote.text
    fields = await member_form(bridge, f"remove-{admin.id}")
    removal = await post(bridge.browser, f"{users_url(bridge)}/{admin.id}/remove", fields)
    assert removal.status == 409 and "last admin" in removal.text
    installation = await bridge.installation()
    assert await Users(bridge.db).role_in(admin.id, installation.id) == "admin"
    # With a second admin, the first may step down.
    async with browser() as http:
        other = await join(bridge, http, "second.admin@example.com", "admin")
    fields = await member_form(bridge, f"role-{admin.id}")
    stepped = await post(
        bridge.browser, f"{users_url(bridge)}/{admin.id}/role", {**fields, "role": "guest"}
    )
    assert stepped.status == 200 and stepped.url.path == f"/settings/{bridge.agreement}"
    assert await Users(bridge.db).role_in(admin.id, installation.id) == "guest"
    assert await Users(bridge.db).role_in(other, installation.id) == "admin"
    entries = await AuditLog(bridge.db).list(installation.id)
    changed = [e for e in entries if e.action == "member.role_changed"]
    assert [(e.detail["old_role"], e.detail["role"]) for e in changed] == [("admin", "guest")]


async def test_a_removed_member_loses_the_company_at_once(bridge: Bridge) -> None:
    async with browser() as http:
        user_id = await join(bridge, http, "leaving@example.com", "guest")
        installation = await bridge.installation()
        token = await bridge.person("leaving@example.com", "guest", installation)
        dashboard = f"{bridge.url}/settings/{bridge.agreement}"
        assert (await get(http, dashboard)).status == 200
        api = f"/api/v1/installations/{bridge.agreement}"
        assert (await bridge.call("GET", api, token)).status == 200
        fields = await member_form(bridge, f"remove-{user_id}")
        removed = await post(bridge.browser, f"{users_url(bridge)}/{user_id}/remove", fields)
        assert removed.status == 200 and 'id="message"' in removed.text, removed.text
        assert "leaving@example.com" not in removed.text
        assert (await get(http, dashboard)).status == 404
        assert (await get(http, f"{dashboard}/audit")).status == 404
        assert (await bridge.call("GET", api, token)).status == 404
    entries = await AuditLog(bridge.db).list(installation.id)
    assert [e.detail["email"] for e in entries if e.action == "member.removed"] == [
        "leaving@example.com"
    ]
    # Nobody else's id: 404, not a 500 or a silent success.
    fields = await member_form(bridge, "invite")
    for path in (f"{user_id}/remove", "999999/role", "abc/remove"):
        missing = await post(
            bridge.browser, f"{users_url(bridge)}/{path}", {**fields, "role": "guest"}
        )
        assert missing.status == 404, path


async def test_an_invitation_can_be_cancelled(bridge: Bridge) -> None:
    link = await invite(bridge, "changed.mind@example.com", "guest")
    installation = await bridge.installation()
    page = await get(bridge.browser, users_url(bridge))
    found = re.search(r'data-invitation="(\d+)"', page.text)
    assert found
    invitation_id = found.group(1)
    fields = page.form_with(action=f"cancel-{invitation_id}")
    url = f"{bridge.url}/settings/{bridge.agreement}/invitations/{invitation_id}/cancel"
    done = await post(bridge.browser, url, fields)
    assert done.status == 200 and 'id="invitations"' not in done.text
    assert (await post(bridge.browser, url, fields)).status == 404
    async with browser() as http:
        assert (await get(http, link)).status == 404
    entries = await AuditLog(bridge.db).list(installation.id)
    assert [e.action for e in entries if e.action == "invitation.cancelled"] == [
        "invitation.cancelled"
    ]


async def test_an_admin_makes_a_reset_link_for_a_member_of_their_companies_only(
    bridge: Bridge,
) -> None:
    async with browser() as http:
        user_id = await join(bridge, http, "forgetful@example.com", "caseworker")
    fields = await member_form(bridge, f"reset-{user_id}")
    made = await post(bridge.browser, f"{users_url(bridge)}/{user_id}/reset-link", fields)
    assert made.status == 200, made.text
    link = shown_link(made)
    assert "/settings/password/reset/" in link
    async with browser() as http:
        assert (await get(http, link)).status == 200
    entries = await AuditLog(bridge.db).list((await bridge.installation()).id)
    reset = [e for e in entries if e.action == "member.reset_link"]
    assert len(reset) == 1 and link.rsplit("/", 1)[1] not in str(reset[0].detail)
    # Someone who is also admin of a company this admin is not: no link from here.
    async with browser() as http:
        await second_company(bridge, http, "elsewhere@example.com")
        await join(bridge, http, "elsewhere@example.com", "guest")
    other = await Users(bridge.db).get_by_email("elsewhere@example.com")
    assert other is not None
    fields = await member_form(bridge, f"reset-{other.id}")
    refused = await post(bridge.browser, f"{users_url(bridge)}/{other.id}/reset-link", fields)
    assert refused.status == 409 and 'id="error"' in refused.text
    assert LINK.search(refused.text) is None


async def test_two_admins_demoting_each_other_at_once_leave_one_admin(bridge: Bridge) -> None:
    admin = await Users(bridge.db).get_by_email(bridge.company().email)
    assert admin is not None
    async with browser() as http:
        other = await join(bridge, http, "rival@example.com", "admin")
        mine = await member_form(bridge, f"role-{other}")
        theirs = (await get(http, users_url(bridge))).form_with(action=f"role-{admin.id}")
        answers = await asyncio.gather(
            post(bridge.browser, f"{users_url(bridge)}/{other}/role", {**mine, "role": "guest"}),
            post(http, f"{users_url(bridge)}/{admin.id}/role", {**theirs, "role": "guest"}),
        )
    assert sorted(a.status for a in answers)[0] == 200
    assert sorted(a.status for a in answers)[1] in (403, 409)
    assert await Accounts(bridge.db).admins((await bridge.installation()).id) == 1
