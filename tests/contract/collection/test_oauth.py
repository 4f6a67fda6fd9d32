"""OAuth 2.0 against the simulator: client credentials, code + PKCE (page and auto consent),
refresh rotation with the reuse interval, reuse detection, revocation, scopes, error bodies."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.contract.collection.support import Api, problem_shape_ok
from tests.fixtures.collection import REDIRECT_URI, CollectionSandbox


def challenge_of(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def auth_params(verifier: str, **extra: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": "collectbridge-test",
        "redirect_uri": REDIRECT_URI,
        "scope": "cases:read events:read",
        "state": "xyz",
        "code_challenge": challenge_of(verifier),
        "code_challenge_method": "S256",
        **extra,
    }


class FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self.options: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "input" and named.get("name"):
            self.fields[str(named["name"])] = named.get("value") or ""
        if tag == "option":
            self.options.append(str(named["value"]))


async def token_call(
    sandbox: CollectionSandbox, form: dict[str, str], auth: bool = True
) -> tuple[int, Any]:
    async with sandbox.session.post(
        f"{sandbox.url}/oauth/token", data=form, headers=sandbox.basic_auth if auth else None
    ) as resp:
        return resp.status, await resp.json()


async def code_from_page(sandbox: CollectionSandbox, verifier: str, decision: str) -> str:
    async with sandbox.session.get(
        f"{sandbox.url}/oauth/authorize", params=auth_params(verifier)
    ) as resp:
        assert resp.status == 200
        assert resp.content_type == "text/html"
        parser = FormParser()
        parser.feed(await resp.text())
    account_id = parser.options[1]
    form = {**parser.fields, "account_id": account_id, "decision": decision}
    async with sandbox.session.post(
        f"{sandbox.url}/oauth/authorize", data=form, allow_redirects=False
    ) as resp:
        assert resp.status == 302
        location = resp.headers["Location"]
    assert location.startswith(REDIRECT_URI)
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["xyz"]
    return query["code"][0] if "code" in query else "error=" + query["error"][0]


async def test_client_credentials_needs_basic_auth(collection_sandbox: CollectionSandbox) -> None:
    status, body = await token_call(
        collection_sandbox, {"grant_type": "client_credentials"}, auth=False
    )
    assert status == 401
    assert body["error"] == "invalid_client" and "error_description" in body
    status, body = await token_call(
        collection_sandbox, {"grant_type": "client_credentials", "scope": "accounts:create"}
    )
    assert status == 200
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert "refresh_token" not in body


async def test_code_flow_through_the_consent_page(collection_sandbox: CollectionSandbox) -> None:
    sandbox = collection_sandbox
    verifier = "v" * 50
    code = await code_from_page(sandbox, verifier, "allow")
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }
    status, body = await token_call(sandbox, form)
    assert status == 200, body
    assert body["account_id"] == sandbox.account_ids[1]
    assert body["scope"] == "cases:read events:read"
    assert body["refresh_token"] and body["expires_in"] == 3600
    reply = await Api(sandbox, body["access_token"])("GET", "/v1/account")
    assert reply.status == 200 and reply.body["id"] == sandbox.account_ids[1]
    # Single use: the second redemption fails and revokes what the first one produced.
    status, again = await token_call(sandbox, form)
    assert (status, again["error"]) == (400, "invalid_grant")
    reply = await Api(sandbox, body["access_token"])("GET", "/v1/account")
    assert reply.status == 401


async def test_deny_redirects_with_access_denied(collection_sandbox: CollectionSandbox) -> None:
    assert await code_from_page(collection_sandbox, "w" * 50, "deny") == "error=access_denied"


async def test_pkce_verifier_must_match(collection_sandbox: CollectionSandbox) -> None:
    sandbox = collection_sandbox
    code = await code_from_page(sandbox, "a" * 50, "allow")
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": "b" * 50,
    }
    status, body = await token_call(sandbox, form)
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_code_expires_after_60_seconds(collection_sandbox: CollectionSandbox) -> None:
    sandbox = collection_sandbox
    code = await code_from_page(sandbox, "c" * 50, "allow")
    sandbox.wall.skip(61)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": "c" * 50,
    }
    status, body = await token_call(sandbox, form)
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_foreign_redirect_uri_is_refused_without_redirect(
    collection_sandbox: CollectionSandbox,
) -> None:
    params = auth_params("d" * 50, redirect_uri="https://evil.example/cb")
    async with collection_sandbox.session.get(
        f"{collection_sandbox.url}/oauth/authorize", params=params, allow_redirects=False
    ) as resp:
        assert resp.status == 400
        assert "Location" not in resp.headers


async def test_missing_pkce_redirects_with_invalid_request(
    collection_sandbox: CollectionSandbox,
) -> None:
    params = auth_params("e" * 50)
    del params["code_challenge"]
    async with collection_sandbox.session.get(
        f"{collection_sandbox.url}/oauth/authorize", params=params, allow_redirects=False
    ) as resp:
        assert resp.status == 302
        assert "error=invalid_request" in resp.headers["Location"]


async def test_refresh_rotates_and_reuse_within_interval_returns_same_pair(
    collection_sandbox: CollectionSandbox,
) -> None:
    sandbox = collection_sandbox
    grant = await sandbox.link()
    form = {"grant_type": "refresh_token", "refresh_token": grant["refresh_token"]}
    status, first = await token_call(sandbox, form)
    assert status == 200
    assert first["refresh_token"] != grant["refresh_token"]
    assert first["access_token"] != grant["access_token"]
    sandbox.wall.skip(29)
    status, again = await token_call(sandbox, form)
    assert status == 200
    assert (again["access_token"], again["refresh_token"]) == (
        first["access_token"],
        first["refresh_token"],
    )
    assert (await Api(sandbox, first["access_token"])("GET", "/v1/account")).status == 200


async def test_reuse_after_interval_revokes_the_grant(
    collection_sandbox: CollectionSandbox,
) -> None:
    sandbox = collection_sandbox
    grant = await sandbox.link()
    form = {"grant_type": "refresh_token", "refresh_token": grant["refresh_token"]}
    status, new = await token_call(sandbox, form)
    assert status == 200
    sandbox.wall.skip(31)
    status, body = await token_call(sandbox, form)
    assert (status, body["error"]) == (400, "invalid_grant")
    reply = await Api(sandbox, new["access_token"])("GET", "/v1/account")
    assert reply.status == 401
    assert problem_shape_ok(reply.body, 401, "invalid_token")
    assert reply.body["detail"] == "grant revoked"
    status, body = await token_call(
        sandbox, {"grant_type": "refresh_token", "refresh_token": new["refresh_token"]}
    )
    assert (status, body["error"]) == (400, "invalid_grant")
    kinds = [e.type for e in sandbox.state.events[grant["account_id"]]]
    assert kinds == ["account.grant_revoked"]


async def test_revocation_answers_401_invalid_token(collection_sandbox: CollectionSandbox) -> None:
    sandbox = collection_sandbox
    grant = await sandbox.link()
    async with sandbox.session.post(
        f"{sandbox.url}/oauth/revoke",
        data={"token": grant["refresh_token"]},
        headers=sandbox.basic_auth,
    ) as resp:
        assert resp.status == 200
    reply = await Api(sandbox, grant["access_token"])("GET", "/v1/account")
    assert reply.status == 401
    assert reply.headers["Content-Type"].startswith("application/problem+json")
    assert problem_shape_ok(reply.body, 401, "invalid_token")
    assert reply.body["detail"] == "grant revoked"
    status, body = await token_call(
        sandbox, {"grant_type": "refresh_token", "refresh_token": grant["refresh_token"]}
    )
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_expired_access_token(collection_sandbox: CollectionSandbox) -> None:
    sandbox = collection_sandbox
    grant = await sandbox.link()
    sandbox.wall.skip(3601)
    reply = await Api(sandbox, grant["access_token"])("GET", "/v1/account")
    assert reply.status == 401 and reply.body["code"] == "invalid_token"
    assert re.search("expired", reply.body["detail"])


async def test_scopes_are_enforced(collection_sandbox: CollectionSandbox) -> None:
    sandbox = collection_sandbox
    grant = await sandbox.link(scope="cases:read")
    reply = await Api(sandbox, grant["access_token"])("GET", "/v1/events")
    assert reply.status == 403
    assert problem_shape_ok(reply.body, 403, "insufficient_scope")
    partner = Api(sandbox, await sandbox.partner_token())
    reply = await partner("GET", "/v1/account")
    assert reply.status == 403 and reply.body["code"] == "insufficient_scope"


async def test_unsupported_grant_type(collection_sandbox: CollectionSandbox) -> None:
    status, body = await token_call(collection_sandbox, {"grant_type": "password"})
    assert (status, body["error"]) == (400, "unsupported_grant_type")
