"""``/api/v1`` over real HTTP, on SQLite and PostgreSQL: authentication, tenant scoping, the
installation shape, paging, the OpenAPI description, and the CLI that makes users and tokens.

Data is written through the store, as the install flow and the sync engine would; tokens are
made by the real ``collectbridge tokens create`` where the test is about the CLI.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from plugin.api.errors import API_PREFIX
from plugin.app import create_app
from plugin.keys import DATABASE
from plugin.sessions import SESSION_COOKIE, open_session
from plugin.settings import Secret, Settings
from sync.store.api_tokens import ApiTokens, new_token
from sync.store.audit import AuditLog
from sync.store.db import Database
from sync.store.installations import Installation, Installations
from sync.store.usage import ApiUsage
from sync.store.users import Role, Users
from tests.fixtures.conditions import Clock
from tests.fixtures.served import loopback_socket, served
from tests.integration.test_cli import cli_env

SECRET_KEY = "api-test-secret-key-0123456789abcdefgh"
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


@dataclass
class Bridge:
    url: str
    app: web.Application
    clock: Clock
    database_url: str

    @property
    def db(self) -> Database:
        return self.app[DATABASE]

    async def company(self, agreement: int, name: str | None = None) -> Installation:
        return await Installations(self.db).activate(
            agreement_number=agreement, company_name=name or f"Company {agreement}", now=NOW
        )

    async def person(self, email: str, roles: list[tuple[Installation, Role]]) -> str:
        """A user with these memberships and a fresh API token of theirs."""
        users = Users(self.db)
        user_id = await users.find_or_create(email=email, name=email.split("@")[0], now=NOW)
        for installation, role in roles:
            await users.grant(user_id, installation.id, role, now=NOW)
        token = new_token()
        await ApiTokens(self.db).create(user_id=user_id, token=token, name="test", now=NOW)
        return token

    async def get(self, path: str, token: str | None = None, **headers: str) -> Answer:
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        async with aiohttp.ClientSession() as http:
            async with http.get(self.url + path, headers=headers) as r:
                return Answer(r.status, r.content_type, dict(r.headers), await r.json())


@dataclass
class Answer:
    status: int
    content_type: str
    headers: dict[str, str]
    body: Any

    def problem(self, status: int, code: str) -> None:
        assert (self.status, self.content_type) == (status, "application/problem+json"), self
        assert self.body["status"] == status and self.body["code"] == code, self.body
        assert isinstance(self.body["detail"], str) and self.body["detail"]


@asynccontextmanager
async def run_bridge(database_url: str, **more: Any) -> AsyncIterator[Bridge]:
    """The app on a loopback port; ``more`` settings beside the ones every API test uses."""
    sock, url = loopback_socket()
    settings = Settings(
        **{
            "database_url": database_url,
            "public_url": url,
            "secret_keys": (Secret(SECRET_KEY),),
            "economic_daily_budget": 40_000,
            **more,
        }
    )
    clock = Clock(NOW)
    async with served(create_app(settings, run_worker=False, clock=clock), sock) as app:
        yield Bridge(url=url, app=app, clock=clock, database_url=database_url)


@pytest.fixture
async def bridge(database_url: str) -> AsyncIterator[Bridge]:
    async with run_bridge(database_url) as running:
        yield running


def agreements(answer: Answer) -> list[int]:
    return [item["agreement_number"] for item in answer.body["items"]]


# -- authentication ---------------------------------------------------------------------------


async def test_no_credentials_is_401_problem_json(bridge: Bridge) -> None:
    company = await bridge.company(1001)
    await bridge.person("a@example.com", [(company, "admin")])
    for path in ("/api/v1/installations", "/api/v1/installations/1001"):
        answer = await bridge.get(path)
        answer.problem(401, "authentication_required")
        assert answer.headers["WWW-Authenticate"] == "Bearer"
        assert answer.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "header",
    [
        "Bearer cbt_not-a-token-we-ever-issued",
        "Bearer",
        "Bearer ",
        "Basic YTpi",
        "Bearer two words",
        "cbt_no-scheme-at-all",
    ],
)
async def test_a_bad_or_malformed_token_is_401(bridge: Bridge, header: str) -> None:
    company = await bridge.company(1001)
    token = await bridge.person("a@example.com", [(company, "admin")])
    for path in ("/api/v1/installations", "/api/v1/installations/1001"):
        answer = await bridge.get(path, Authorization=header)
        answer.problem(401, "invalid_token")
        assert answer.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert token not in header
    assert (await bridge.get("/api/v1/installations", token)).status == 200


async def test_a_bad_token_is_not_rescued_by_a_valid_session_cookie(bridge: Bridge) -> None:
    company = await bridge.company(1001)
    await bridge.person("a@example.com", [(company, "admin")])
    user = await Users(bridge.db).get_by_email("a@example.com")
    assert user is not None
    session = await open_session(bridge.db, user_id=user.id, now=NOW, replacing=None)
    cookie = {"Cookie": f"{SESSION_COOKIE}={session}"}
    by_cookie = await bridge.get("/api/v1/installations", **cookie)
    assert by_cookie.status == 200 and agreements(by_cookie) == [1001]
    mixed = await bridge.get("/api/v1/installations", "cbt_wrong", **cookie)
    mixed.problem(401, "invalid_token")


async def test_an_unknown_or_expired_session_is_401(bridge: Bridge) -> None:
    company = await bridge.company(1001)
    await bridge.person("a@example.com", [(company, "admin")])
    user = await Users(bridge.db).get_by_email("a@example.com")
    assert user is not None
    session = await open_session(bridge.db, user_id=user.id, now=NOW, replacing=None)
    unknown = await bridge.get("/api/v1/installations", Cookie=f"{SESSION_COOKIE}=nope")
    unknown.problem(401, "invalid_session")
    bridge.clock.now = NOW + dt.timedelta(days=1)  # past the session's 12 hours
    expired = await bridge.get("/api/v1/installations", Cookie=f"{SESSION_COOKIE}={session}")
    expired.problem(401, "invalid_session")


async def test_a_token_is_stored_only_as_its_hash_and_its_use_is_noted(bridge: Bridge) -> None:
    company = await bridge.company(1001)
    token = await bridge.person("a@example.com", [(company, "guest")])
    rows = await bridge.db.fetch(
        "find_api_token", token_hash=hashlib.sha256(token.encode()).hexdigest()
    )
    assert len(rows) == 1 and rows[0]["last_used_at"] is None
    assert all(token not in str(value) for value in rows[0].values())
    bridge.clock.now = NOW + dt.timedelta(minutes=5)
    assert (await bridge.get("/api/v1/installations", token)).status == 200
    found = await ApiTokens(bridge.db).find(token)
    assert found is not None and found.last_used_at == NOW + dt.timedelta(minutes=5)


# -- tenant scoping ---------------------------------------------------------------------------


async def test_a_member_lists_and_reads_only_their_companies(bridge: Bridge) -> None:
    one, two, three = [await bridge.company(a) for a in (1001, 1002, 1003)]
    alice = await bridge.person("alice@example.com", [(one, "guest"), (three, "admin")])
    bob = await bridge.person("bob@example.com", [(two, "caseworker")])
    nobody = await bridge.person("nobody@example.com", [])

    assert agreements(await bridge.get("/api/v1/installations", alice)) == [1001, 1003]
    assert agreements(await bridge.get("/api/v1/installations", bob)) == [1002]
    listing = await bridge.get("/api/v1/installations", nobody)
    assert listing.status == 200 and listing.body == {"items": []}

    assert (await bridge.get("/api/v1/installations/1003", alice)).status == 200
    assert (await bridge.get("/api/v1/installations/1002", bob)).status == 200


async def test_another_company_is_404_exactly_like_one_that_does_not_exist(
    bridge: Bridge,
) -> None:
    mine, theirs = await bridge.company(1001), await bridge.company(1002)
    alice = await bridge.person("alice@example.com", [(mine, "admin")])
    await bridge.person("bob@example.com", [(theirs, "admin")])
    foreign = await bridge.get("/api/v1/installations/1002", alice)
    missing = await bridge.get("/api/v1/installations/9999", alice)
    foreign.problem(404, "not_found")
    assert (foreign.body, foreign.headers.get("Content-Length")) == (
        missing.body,
        missing.headers.get("Content-Length"),
    )
    for path in ("abc", "0", "1" * 40, "1001.0", "-1001"):
        (await bridge.get(f"/api/v1/installations/{path}", alice)).problem(404, "not_found")
    (await bridge.get("/api/v1/nothing-here", alice)).problem(404, "not_found")


# -- the installation shape -------------------------------------------------------------------


async def test_the_installation_shape(bridge: Bridge) -> None:
    company = await bridge.company(1001, "Nordlys ApS")
    admin = await bridge.person("admin@example.com", [(company, "admin")])
    guest = await bridge.person("guest@example.com", [(company, "guest")])
    synced = NOW - dt.timedelta(minutes=15)
    await bridge.db.run_script(
        "INSERT INTO sync_state (installation_id, stream, last_success_at, updated_at) VALUES "
        f"({company.id}, 'customers', '{sql_time(bridge, synced)}', '{sql_time(bridge, synced)}'),"
        f"({company.id}, 'events', NULL, '{sql_time(bridge, synced)}')"
    )
    hint = NOW - dt.timedelta(minutes=3)
    await bridge.db.run_script(
        "INSERT INTO inbox (source, installation_id, dedupe_key, topic, received_at) VALUES "
        f"('economic', {company.id}, 'd1', 'invoice', '{sql_time(bridge, hint)}'),"
        f"('economic', {company.id}, 'd2', 'invoice', "
        f"'{sql_time(bridge, hint - dt.timedelta(hours=1))}'),"
        f"('collection', {company.id}, 'd3', 'customer', '{sql_time(bridge, hint)}')"
    )
    usage = ApiUsage(bridge.db)
    for minutes in (1, 2, 2, 60 * 25):  # the last is outside the rolling 24 hours
        await usage.record_api_call(company.id, "economic", NOW - dt.timedelta(minutes=minutes))
    await usage.record_api_call(company.id, "collection", NOW)

    answer = await bridge.get("/api/v1/installations/1001", admin)
    assert answer.status == 200 and answer.content_type == "application/json"
    assert answer.body == {
        "agreement_number": 1001,
        "company_name": "Nordlys ApS",
        "status": "active",
        "onboarding": {"state": "pending"},
        "economic": {"state": "ok"},
        "collection": {"state": "none", "account_id": None},
        "webhooks": {
            "economic": {
                "mode": "none",
                "subscriptions": {},
                "last_received": {
                    "invoice": "2026-11-23T11:57:00Z",
                    "customer": None,
                    "daybook": None,
                },
                "legacy_urls": None,
            },
            "collection": {"state": "none"},
        },
        "streams": {
            "customers": {"last_success_at": "2026-11-23T11:45:00Z", "lag_seconds": 900},
            "invoices": {"last_success_at": None, "lag_seconds": None},
            "events": {"last_success_at": None, "lag_seconds": None},
        },
        "budget": {"used_24h": 3, "limit": 40_000},
    }
    as_guest = await bridge.get("/api/v1/installations/1001", guest)
    assert "legacy_urls" not in as_guest.body["webhooks"]["economic"]  # admins only
    as_guest.body["webhooks"]["economic"]["legacy_urls"] = None
    assert as_guest.body == answer.body
    listed = await bridge.get("/api/v1/installations", admin)
    assert listed.body == {"items": [answer.body]}

    await Installations(bridge.db).set_status(company.id, "revoked", now=NOW)
    revoked = await bridge.get("/api/v1/installations/1001", guest)
    assert revoked.body["status"] == "revoked" and revoked.body["economic"] == {"state": "lost"}


def sql_time(bridge: Bridge, at: dt.datetime) -> str:
    """A timestamp literal as each engine stores it (SQLite: fixed-width UTC text)."""
    if bridge.db.dialect == "sqlite":
        return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return at.isoformat()


async def test_answers_match_the_schemas_openapi_json_gives_them(bridge: Bridge) -> None:
    company = await bridge.company(1001)
    admin = await bridge.person("admin@example.com", [(company, "admin")])
    guest = await bridge.person("guest@example.com", [(company, "guest")])
    document = (await bridge.get("/api/v1/openapi.json")).body
    registry: Registry = Registry().with_resource(
        "urn:api", Resource.from_contents(document, default_specification=DRAFT202012)
    )

    def check(answer: Answer, schema: str) -> None:
        ref = {"$ref": f"urn:api#/components/schemas/{schema}"}
        Draft202012Validator(ref, registry=registry).validate(answer.body)

    for token in (admin, guest):
        check(await bridge.get("/api/v1/installations/1001", token), "Installation")
        check(await bridge.get("/api/v1/installations", token), "InstallationList")
    check(await bridge.get("/api/v1/installations/7", admin), "Problem")


# -- paging -----------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=-1", "limit=ten", "limit=1.5"])
async def test_a_limit_outside_1_to_500_is_422(bridge: Bridge, query: str) -> None:
    company = await bridge.company(1001)
    token = await bridge.person("a@example.com", [(company, "guest")])
    (await bridge.get(f"/api/v1/installations?{query}", token)).problem(422, "invalid_limit")


async def test_a_cursor_we_never_gave_out_is_422(bridge: Bridge) -> None:
    company = await bridge.company(1001)
    token = await bridge.person("a@example.com", [(company, "guest")])
    for cursor in ("nonsense!", "eyJ4IjoxfQ", "e30"):
        answer = await bridge.get(f"/api/v1/installations?cursor={cursor}", token)
        answer.problem(422, "invalid_cursor")


async def test_paging_walks_every_company_once_and_the_last_page_has_no_cursor(
    bridge: Bridge,
) -> None:
    companies = [await bridge.company(2000 + n) for n in range(5)]
    other = await bridge.company(3000)
    token = await bridge.person("a@example.com", [(c, "guest") for c in companies])
    await bridge.person("b@example.com", [(other, "admin")])
    seen: list[list[int]] = []
    path = "/api/v1/installations?limit=2&cursor="
    while True:
        answer = await bridge.get(path, token)
        assert answer.status == 200
        seen.append(agreements(answer))
        if "next_cursor" not in answer.body:
            break
        path = f"/api/v1/installations?limit=2&cursor={answer.body['next_cursor']}"
    assert seen == [[2000, 2001], [2002, 2003], [2004]]
    assert agreements(await bridge.get("/api/v1/installations?limit=5", token)) == [
        2000 + n for n in range(5)
    ]


@pytest.mark.slow
async def test_the_default_page_is_100(bridge: Bridge) -> None:
    companies = [await bridge.company(5000 + n) for n in range(101)]
    token = await bridge.person("a@example.com", [(c, "guest") for c in companies])
    first = await bridge.get("/api/v1/installations", token)
    assert len(first.body["items"]) == 100 and "next_cursor" in first.body
    rest = await bridge.get(f"/api/v1/installations?cursor={first.body['next_cursor']}", token)
    assert agreements(rest) == [5100] and "next_cursor" not in rest.body


# -- the description --------------------------------------------------------------------------


def served_api_routes(app: web.Application) -> set[tuple[str, str]]:
    found = set()
    for resource in app.router.resources():
        path = resource.canonical
        if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            found |= {(route.method, path) for route in resource}
    return found


async def test_openapi_json_describes_every_api_route_the_app_serves(bridge: Bridge) -> None:
    answer = await bridge.get("/api/v1/openapi.json")  # no token: the description is public
    assert answer.status == 200 and answer.content_type == "application/json"
    document = answer.body
    assert document["openapi"].startswith("3.1.")
    assert document["servers"] == [{"url": bridge.url}]
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
    }
    assert {"bearer": []} in document["security"]
    described = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert described == served_api_routes(bridge.app)
    assert {
        ("GET", "/api/v1/installations"),
        ("GET", "/api/v1/installations/{agreement}"),
        ("GET", "/api/v1/openapi.json"),
    } <= described
    for path, operations in document["paths"].items():
        for operation in operations.values():
            statuses = set(operation["responses"])
            if path == "/api/v1/openapi.json":
                assert operation["security"] == [] and statuses == {"200"}
            else:
                # one success (200, or 201/202/204 where the route answers so), and 401
                assert len(statuses & {"200", "201", "202", "204"}) == 1, (path, statuses)
                assert "401" in statuses and "security" not in operation
            if "{agreement}" in path:
                assert "404" in statuses
    Draft202012Validator.check_schema({"$defs": document["components"]["schemas"]})


# -- logs -------------------------------------------------------------------------------------


async def test_tokens_appear_in_no_log_line(
    bridge: Bridge, caplog: pytest.LogCaptureFixture
) -> None:
    """Every record of a session of calls, raw (before production's scrub), the access log too."""
    company = await bridge.company(1001)
    token = await bridge.person("a@example.com", [(company, "admin")])
    wrong = new_token()
    caplog.set_level(logging.DEBUG)
    await bridge.get("/api/v1/installations", token)
    await bridge.get("/api/v1/installations/1001", token)
    await bridge.get("/api/v1/installations/1002", token)
    await bridge.get("/api/v1/installations?limit=0", token)
    await bridge.get("/api/v1/installations", wrong)
    assert any("aiohttp.access" in r.name for r in caplog.records)  # the access log was seen
    for secret in (token, wrong, token.removeprefix("cbt_")):
        assert secret not in caplog.text


# -- the CLI ----------------------------------------------------------------------------------


def collectbridge(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "plugin.cli", *args],
        env=cli_env(database_url) | {"COLLECTBRIDGE_LOG_LEVEL": "DEBUG"},
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_cli_users_create_then_a_token_that_works_against_the_api(
    bridge: Bridge,
) -> None:
    one, two, _three = [await bridge.company(a) for a in (1001, 1002, 1003)]
    url = bridge.database_url

    made = collectbridge(url, "users", "create", "--email", "Kim@Example.com", "--role", "guest")
    assert made.returncode == 0, made.stderr
    users = Users(bridge.db)
    kim = await users.get_by_email("kim@example.com")
    assert kim is not None
    assert [await users.role_in(kim.id, i.id) for i in (one, two, _three)] == ["guest"] * 3

    promoted = collectbridge(
        url, "users", "create", "--email", "kim@example.com", "--role", "admin",
        "--agreement", "1002", "--agreement", "1003", "--agreement", "1002",
    )  # fmt: skip
    assert promoted.returncode == 0, promoted.stderr
    assert "admin of 1002" in promoted.stdout and "admin of 1003" in promoted.stdout
    roles = [await users.role_in(kim.id, i.id) for i in (one, two, _three)]
    assert roles == ["guest", "admin", "admin"]  # other memberships left as they were
    granted = [e for e in await AuditLog(bridge.db).list(two.id) if e.actor == "cli"]
    assert [e.detail["role"] for e in granted] == ["guest", "admin"]

    issued = collectbridge(url, "tokens", "create", "--email", "KIM@example.com")
    assert issued.returncode == 0, issued.stderr
    lines = issued.stdout.rstrip("\n").split("\n")
    token = lines[-1]
    assert token.startswith("cbt_") and len(token) > 40 and token == token.strip()
    assert all(token not in line for line in lines[:-1])
    assert token not in issued.stderr  # logged at DEBUG: never the token

    listing = await bridge.get("/api/v1/installations", token)
    assert listing.status == 200 and agreements(listing) == [1001, 1002, 1003]
    shown = await bridge.get("/api/v1/installations/1002", token)
    assert "legacy_urls" in shown.body["webhooks"]["economic"]  # an admin there
    shown = await bridge.get("/api/v1/installations/1001", token)
    assert "legacy_urls" not in shown.body["webhooks"]["economic"]  # a guest there


async def test_cli_refuses_what_it_cannot_do_with_exit_2_and_changes_nothing(
    bridge: Bridge,
) -> None:
    await bridge.company(1001)
    url = bridge.database_url

    no_user = collectbridge(url, "tokens", "create", "--email", "ghost@example.com")
    assert no_user.returncode == 2 and no_user.stdout == ""
    assert "no user with e-mail ghost@example.com" in no_user.stderr
    assert "Traceback" not in no_user.stderr

    not_installed = collectbridge(
        url, "users", "create", "--email", "kim@example.com", "--role", "admin",
        "--agreement", "1001", "--agreement", "4242",
    )  # fmt: skip
    assert not_installed.returncode == 2
    assert "agreement 4242 is not installed" in not_installed.stderr
    assert "Traceback" not in not_installed.stderr
    assert await Users(bridge.db).get_by_email("kim@example.com") is None

    bad_role = collectbridge(url, "users", "create", "--email", "k@example.com", "--role", "boss")
    assert bad_role.returncode == 2 and "invalid choice" in bad_role.stderr
    bad_email = collectbridge(url, "users", "create", "--email", "kim", "--role", "guest")
    assert bad_email.returncode == 2 and "not an e-mail address" in bad_email.stderr
