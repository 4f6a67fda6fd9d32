"""Personal API tokens on the settings page over real HTTP: made and shown once, working as a
Bearer token, revoked, and nobody else's to revoke."""

from __future__ import annotations

import html
import re

import aiohttp

from sync.store.api_tokens import tokens_of
from sync.store.users import Users
from tests.integration.pages.support import get, post
from tests.integration.test_onboarding import Bridge

TOKEN = re.compile(r'<code class="secret" id="token-value">([^<]+)</code>')
TOKENS = "/settings/tokens"


async def installations(bridge: Bridge, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{bridge.url}/api/v1/installations", headers=headers) as r:
            return r.status


async def test_a_token_is_shown_once_works_and_is_revoked(bridge: Bridge) -> None:
    page = await get(bridge.browser, bridge.url + TOKENS)
    assert page.status == 200, page.text
    fields = page.form_with(action="create")
    made = await post(bridge.browser, bridge.url + TOKENS, {**fields, "name": "nightly export"})
    assert made.status == 200, made.text
    found = TOKEN.search(made.text)
    assert found
    token = html.unescape(found.group(1))
    assert f"Bearer {token}" in html.unescape(made.text)  # the curl example
    assert f"{bridge.url}/api/v1/installations" in made.text
    assert await installations(bridge, token) == 200
    listed = await get(bridge.browser, bridge.url + TOKENS)
    assert "nightly export" in listed.text and token not in listed.text
    admin = await Users(bridge.db).get_by_email(bridge.company().email)
    assert admin is not None
    ours = [t for t in await tokens_of(bridge.db, admin.id) if t.name == "nightly export"]
    assert len(ours) == 1 and ours[0].last_used_at is not None
    revoke = listed.form_with(token_id=str(ours[0].id))
    done = await post(bridge.browser, f"{bridge.url}{TOKENS}/{ours[0].id}/revoke", revoke)
    assert done.status == 200 and 'id="message"' in done.text
    assert "nightly export" not in done.text
    assert await installations(bridge, token) == 401
    again = await post(bridge.browser, f"{bridge.url}{TOKENS}/{ours[0].id}/revoke", revoke)
    assert again.status == 404


async def test_a_token_needs_a_name(bridge: Bridge) -> None:
    page = await get(bridge.browser, bridge.url + TOKENS)
    refused = await post(
        bridge.browser, bridge.url + TOKENS, {**page.form_with(action="create"), "name": "  "}
    )
    assert refused.status == 422 and 'id="error"' in refused.text
    assert TOKEN.search(refused.text) is None


async def test_another_persons_token_cannot_be_revoked_here(bridge: Bridge) -> None:
    installation = await bridge.installation()
    theirs = await bridge.person("colleague@example.com", "guest", installation)
    colleague = await Users(bridge.db).get_by_email("colleague@example.com")
    assert colleague is not None
    (their_token,) = await tokens_of(bridge.db, colleague.id)
    page = await get(bridge.browser, bridge.url + TOKENS)
    fields = page.form_with(action="create")
    for token_id in (str(their_token.id), "999999", "x"):
        refused = await post(bridge.browser, f"{bridge.url}{TOKENS}/{token_id}/revoke", fields)
        assert refused.status == 404, token_id
    assert await installations(bridge, theirs) == 200
    # And without the form's CSRF token nothing is revoked either.
    admin = await Users(bridge.db).get_by_email(bridge.company().email)
    assert admin is not None
    (own,) = await tokens_of(bridge.db, admin.id)
    csrf_less = await post(bridge.browser, f"{bridge.url}{TOKENS}/{own.id}/revoke", {})
    assert csrf_less.status == 403
    assert await installations(bridge, bridge.admin_token) == 200
