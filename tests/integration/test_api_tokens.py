"""Personal API tokens over HTTP on both databases: list (never the token), create (shown once),
revoke one's own, an admin revokes a member's, nobody else's (404 like an unknown id)."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.integration.test_api import Bridge, bridge  # noqa: F401 - the fixture


async def call(to: Bridge, method: str, path: str, token: str, json: Any = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http:
        async with http.request(method, to.url + path, json=json, headers=headers) as r:
            body = await r.json(content_type=None) if r.status != 204 else None
            return r.status, body


async def test_tokens_are_listed_created_once_and_revoked(bridge: Bridge) -> None:  # noqa: F811
    company = await bridge.company(1001)
    other = await bridge.company(1002)
    admin = await bridge.person("admin@example.com", [(company, "admin")])
    member = await bridge.person("member@example.com", [(company, "guest")])
    stranger = await bridge.person("stranger@example.com", [(other, "admin")])

    status, created = await call(bridge, "POST", "/api/v1/tokens", member, {"name": "ci script"})
    assert status == 201 and created["token"].startswith("cbt_") and created["name"] == "ci script"
    status, listing = await call(bridge, "GET", "/api/v1/tokens", member)
    assert status == 200
    assert [t["name"] for t in listing["items"]] == ["ci script", "test"]
    assert created["token"] not in str(listing)
    assert (await call(bridge, "GET", "/api/v1/installations", created["token"]))[0] == 200

    # Someone of another company cannot revoke it, and learns nothing (404 as for no token).
    path = f"/api/v1/tokens/{created['id']}"
    assert (await call(bridge, "DELETE", path, stranger))[0] == 404
    assert (await call(bridge, "DELETE", "/api/v1/tokens/999999", stranger))[0] == 404
    # The member's admin can; after that the token authenticates nothing.
    assert (await call(bridge, "DELETE", path, admin))[0] == 204
    assert (await call(bridge, "GET", "/api/v1/installations", created["token"]))[0] == 401
    assert (await call(bridge, "DELETE", path, admin))[0] == 404

    # One's own: revoked with itself.
    status, own = await call(bridge, "POST", "/api/v1/tokens", stranger, {"name": "mine"})
    assert (await call(bridge, "DELETE", f"/api/v1/tokens/{own['id']}", own["token"]))[0] == 204
    assert (await call(bridge, "GET", "/api/v1/tokens", own["token"]))[0] == 401


async def test_a_token_needs_a_name(bridge: Bridge) -> None:  # noqa: F811
    company = await bridge.company(1001)
    token = await bridge.person("a@example.com", [(company, "guest")])
    for body in ({}, {"name": ""}, {"name": "x" * 101}, {"name": 5}, {"name": "a", "extra": 1}):
        status, problem = await call(bridge, "POST", "/api/v1/tokens", token, body)
        assert status == 422 and problem["code"] == "invalid_body", body
