"""Both webhook receivers over real HTTP, on SQLite and PostgreSQL: DESIGN.md's status codes in
their order, duplicates, a burst of hints coalesced into jobs, the e-conomic simulator's own
delivery, the group-commit writer (failure, shutdown), metrics, the access log's mask and a
fuzz of both receivers.

Installations get their secrets through `WebhookSecrets`, as onboarding stores them; deliveries
are signed with the reference ``standardwebhooks`` package, not with the code under test.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import http.client
import io
import json
import logging
import re
import secrets
import select
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from plugin.app import create_app
from plugin.keys import SERVICES
from plugin.logs import masked_access_logger
from plugin.onboarding.webhook_urls import economic_webhook_url
from plugin.settings import Secret, Settings
from sync.jobs import Job, JobQueue
from sync.store.db import DatabaseUnavailable
from sync.store.inbox import Inbox, NewEntry
from sync.store.installations import Installation, Installations, Status
from sync.store.webhook_secrets import WebhookSecrets
from tests.fixtures.conditions import Clock, eventually
from tests.fixtures.economic import EconomicSandbox
from tests.fixtures.proxy import ProxiedDatabase
from tests.fixtures.served import loopback_socket
from tests.integration.test_api import NOW, SECRET_KEY, Bridge, run_bridge
from tests.integration.test_cli import cli_env
from webhooks.inbox import InboxUnavailable, InboxWriter
from webhooks.receivers import _DUMMY_SIGNING_SECRET, RECEIVER
from webhooks.verify import secret_key

LIMIT = 1_048_576


@dataclass
class Company:
    installation: Installation
    url_secret: str
    signing_secret: str

    @property
    def key(self) -> str:
        return self.installation.installation_key

    @property
    def id(self) -> int:
        return self.installation.id


async def company(bridge: Bridge, agreement: int, status: Status = "active") -> Company:
    """An installation with both webhook secrets stored, as onboarding leaves it."""
    installation = await bridge.company(agreement)
    stored = WebhookSecrets(bridge.db, bridge.app[SERVICES].cipher)
    url_secret = await stored.economic_url_secret(installation.id, now=NOW)
    signing_secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    await stored.save_collection_signing_secret(installation.id, signing_secret, now=NOW)
    if status != "active":
        await Installations(bridge.db).set_status(installation.id, status, now=NOW)
        installation = await Installations(bridge.db).get(installation.id) or installation
    return Company(installation, url_secret, signing_secret)


@pytest.fixture
async def bridge(database_url: str) -> AsyncIterator[Bridge]:
    async with run_bridge(database_url) as running:
        yield running


# -- requests ---------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    text: str


async def send(
    method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> Answer:
    async with aiohttp.ClientSession() as http:
        data = io.BytesIO(body) if body else None  # raw bytes over 1 MB make aiohttp warn
        async with http.request(method, url, data=data, headers=headers or {}) as r:
            return Answer(r.status, await r.text())


def event(event_id: str, *, kind: str = "payment.received", sequence: int = 1) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "type": kind,
            "account_id": "acc_1",
            "sequence": sequence,
            "occurred_at": "2026-11-23T12:00:00Z",
            "data": {"payment_id": "pay_1"},
        }
    ).encode()


def signed(
    secret: str | list[str], event_id: str, body: bytes, *, at: float | None = None
) -> dict[str, str]:
    """Standard Webhooks headers made by the reference package (one signature per secret)."""
    stamp = int(time.time() if at is None else at)
    when = dt.datetime.fromtimestamp(stamp, dt.UTC)
    listed = [secret] if isinstance(secret, str) else secret
    signature = " ".join(Webhook(s).sign(event_id, when, body.decode()) for s in listed)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


def collection_url(bridge: Bridge, key: str) -> str:
    return f"{bridge.url}/webhooks/collection/{key}"


def hint_url(bridge: Bridge, c: Company, topic: str, query: str, *, secret: str = "") -> str:
    return f"{bridge.url}/webhooks/economic/{c.key}/{secret or c.url_secret}/{topic}?{query}"


async def deliver(bridge: Bridge, c: Company, event_id: str, **kw: Any) -> Answer:
    body = event(event_id, **kw)
    return await send(
        "POST", collection_url(bridge, c.key), body, signed(c.signing_secret, event_id, body)
    )


async def inbox(bridge: Bridge, **filters: Any) -> list[Any]:
    return await Inbox(bridge.db).list(limit=10_000, **filters)


async def jobs(bridge: Bridge) -> list[Job]:
    return await JobQueue(bridge.db).list(limit=10_000)


# -- the collection receiver ------------------------------------------------------------------


async def test_a_verified_event_is_stored_new_and_its_duplicate_adds_nothing(
    bridge: Bridge,
) -> None:
    c = await company(bridge, 1001)
    body = event("evt_1")
    headers = signed(c.signing_secret, "evt_1", body)
    first = await send("POST", collection_url(bridge, c.key), body, headers)
    again = await send("POST", collection_url(bridge, c.key), body, headers)
    resigned = await send(
        "POST", collection_url(bridge, c.key), body, signed(c.signing_secret, "evt_1", body)
    )
    assert [first.status, again.status, resigned.status] == [204, 204, 204]
    (row,) = await inbox(bridge)
    assert (row.source, row.installation_id, row.topic, row.state) == (
        "collection",
        c.id,
        "payment.received",
        "new",
    )
    assert row.dedupe_key == f"collection:{c.id}:evt_1"
    assert row.body == body  # the raw bytes, as signed
    assert row.headers["webhook-id"] == "evt_1" and "webhook-signature" in row.headers
    # Its processing, queued with the row: once, however often it was delivered.
    assert [(j.kind, j.dedupe_key, j.payload) for j in await jobs(bridge)] == [
        ("inbox.event", "event:1001:evt_1", {"inbox_id": row.id})
    ]


async def test_the_collection_receiver_checks_in_design_order(bridge: Bridge) -> None:
    """Each request fails every check from one on; the answer is that first check's."""
    active = await company(bridge, 1001)
    revoked = await company(bridge, 1002, "revoked")
    deleted = await company(bridge, 1003, "deleted")
    good = event("evt_1")
    big = b"{" + b" " * LIMIT + b"}"
    stale = time.time() - 301

    def bad(c: Company, body: bytes) -> dict[str, str]:
        return signed(c.signing_secret, "evt_1", body, at=stale) | {"content-type": "text/plain"}

    cases = [
        ("unknown key", "nosuchkey", big, bad(active, big), 404),
        (
            "unknown key, all else right",
            "nosuchkey",
            good,
            signed(active.signing_secret, "evt_1", good),
            404,
        ),
        ("too large", revoked.key, big, bad(revoked, big), 413),
        ("not JSON", revoked.key, b"x", bad(revoked, b"x"), 415),
        (
            "stale",
            revoked.key,
            b"x",
            bad(revoked, b"x") | {"content-type": "application/json"},
            401,
        ),
        ("revoked", revoked.key, b"x", signed(revoked.signing_secret, "evt_1", b"x"), 410),
        ("deleted", deleted.key, good, signed(deleted.signing_secret, "evt_1", good), 410),
        ("not an event", active.key, b"[1]", signed(active.signing_secret, "evt_1", b"[1]"), 400),
        ("good", active.key, good, signed(active.signing_secret, "evt_1", good), 204),
    ]
    for name, key, body, headers, status in cases:
        answer = await send("POST", collection_url(bridge, key), body, headers)
        assert answer.status == status, (name, answer)
    assert len(await inbox(bridge)) == 1


@pytest.mark.parametrize(
    ("name", "change", "status"),
    [
        ("tampered body", {"body": event("evt_1", sequence=2)}, 401),
        ("tampered signature", {"webhook-signature": "v1," + "A" * 43 + "="}, 401),
        ("signed by another secret", {"secret": "whsec_" + "B" * 43 + "="}, 401),
        ("stale timestamp", {"at": -301}, 401),
        ("future timestamp", {"at": 301}, 401),
        ("no webhook-id", {"webhook-id": None}, 401),
        ("no webhook-timestamp", {"webhook-timestamp": None}, 401),
        ("no webhook-signature", {"webhook-signature": None}, 401),
        ("no content type", {"content-type": None}, 415),
        ("text/plain", {"content-type": "text/plain"}, 415),
        ("JSON with a charset", {"content-type": "application/json; charset=utf-8"}, 204),
        ("another id in the body", {"body": event("evt_2")}, 400),
        ("no event type", {"body": event("evt_1", kind="")}, 400),
        ("within the window", {"at": -290}, 204),
    ],
)
async def test_what_a_collection_delivery_needs(
    bridge: Bridge, name: str, change: dict[str, Any], status: int
) -> None:
    c = await company(bridge, 1001)
    body = event("evt_1")
    headers = signed(
        change.get("secret", c.signing_secret), "evt_1", body, at=time.time() + change.get("at", 0)
    )
    if name in ("another id in the body", "no event type"):  # signed as sent: only that is off
        headers = signed(c.signing_secret, "evt_1", change["body"])
    for header in ("webhook-id", "webhook-timestamp", "webhook-signature", "content-type"):
        if header in change:
            headers.pop(header)
            if change[header] is not None:
                headers[header] = change[header]
    answer = await send("POST", collection_url(bridge, c.key), change.get("body", body), headers)
    assert answer.status == status, answer
    assert len(await inbox(bridge)) == (1 if status == 204 else 0)


async def test_during_a_rotation_the_platform_signs_with_both_secrets(bridge: Bridge) -> None:
    c = await company(bridge, 1001)
    retired = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    body = event("evt_1")
    for listed in ([retired, c.signing_secret], [c.signing_secret, retired]):
        answer = await send(
            "POST", collection_url(bridge, c.key), body, signed(listed, "evt_1", body)
        )
        assert answer.status == 204
    only_retired = await send(
        "POST", collection_url(bridge, c.key), body, signed(retired, "evt_2", event("evt_2"))
    )
    assert only_retired.status == 401


async def test_an_installation_without_a_signing_secret_accepts_nothing(bridge: Bridge) -> None:
    installation = await bridge.company(1001)
    body = event("evt_1")
    answer = await send(
        "POST",
        collection_url(bridge, installation.installation_key),
        body,
        signed("whsec_" + "A" * 43 + "=", "evt_1", body),
    )
    assert answer.status == 401 and await inbox(bridge) == []


async def test_a_sender_gone_mid_body_leaves_nothing_and_no_error(
    bridge: Bridge, caplog: pytest.LogCaptureFixture
) -> None:
    """A connection closed before its body was in (a platform's timeout, a proxy restarting):
    nothing stored, no 500 and no traceback in the log, and the receivers go on serving."""
    c = await company(bridge, 1001)
    body = event("evt_cut")
    headers = signed(c.signing_secret, "evt_cut", body)
    host, port = bridge.url.removeprefix("http://").split(":")
    for path in (
        f"/webhooks/collection/{c.key}",
        f"/webhooks/economic/{c.key}/{c.url_secret}/invoice?number=5",
    ):
        reader, writer = await asyncio.open_connection(host, int(port))
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head += f"Host: {host}\r\nContent-Length: {len(body)}\r\n"
        writer.write(f"POST {path} HTTP/1.1\r\n{head}\r\n".encode() + body[:10])
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        await reader.read()
    answer = await deliver(bridge, c, "evt_after")
    assert answer.status == 204
    assert [e.dedupe_key for e in await Inbox(bridge.db).list()] == [f"collection:{c.id}:evt_after"]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]


async def test_a_paused_installation_still_stores(bridge: Bridge) -> None:
    c = await company(bridge, 1001, "paused")
    assert (await deliver(bridge, c, "evt_1")).status == 204
    hint = await send("POST", hint_url(bridge, c, "invoice", "number=5"))
    assert hint.status == 204
    assert len(await inbox(bridge)) == 2
    waiting = sorted((j.kind, j.state) for j in await jobs(bridge))
    assert waiting == [("inbox.event", "parked"), ("sync.invoice", "parked")]  # jobs wait


async def test_unknown_keys_look_like_unrouted_paths(bridge: Bridge) -> None:
    c = await company(bridge, 1001)
    body = event("evt_1")
    unknown = await send(
        "POST", collection_url(bridge, "nosuchkey"), body, signed(c.signing_secret, "evt_1", body)
    )
    weird = await send("POST", collection_url(bridge, "no%00such%20key"), body)
    unrouted = await send("POST", f"{bridge.url}/webhooks/collection/a/b", body)
    assert unknown == weird == unrouted == Answer(404, "404: Not Found")
    assert secret_key(_DUMMY_SIGNING_SECRET) is not None  # the dummy HMAC is a real one


# -- the e-conomic receiver -------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_each_hint_is_stored_with_its_job(bridge: Bridge, method: str) -> None:
    c = await company(bridge, 1001)
    for topic, query in (
        ("invoice", "number=10001"),
        ("customer", "new=42&old=41"),
        ("daybook", "daybook=3&from=120&to=131"),
    ):
        answer = await send(method, hint_url(bridge, c, topic, query))
        assert answer.status == 204, (topic, answer)
    found = {(j.kind, j.dedupe_key, j.state): dict(j.payload) for j in await jobs(bridge)}
    assert found == {
        ("sync.invoice", "invoice:1001:10001", "queued"): {"invoice": 10001},
        ("sync.customer", "customer:1001:42", "queued"): {"customer": 42, "old": 41},
        ("sync.remainders", "remainders:1001", "queued"): {},
    }
    rows = await inbox(bridge, source="economic")
    assert sorted(r.topic for r in rows) == ["customer", "daybook", "invoice"]
    for row in rows:
        assert row.state == "processed" and row.processed_at is not None
        assert row.dedupe_key.startswith(f"economic:{c.id}:{row.topic}:")
        assert c.url_secret not in repr(row)  # the URL's secret is never kept
    invoice = next(r for r in rows if r.topic == "invoice")
    assert json.loads(invoice.body or b"") == {"type": "invoice", "number": 10001}


async def test_the_same_hint_again_is_stored_again_and_coalesces_in_its_job(
    bridge: Bridge,
) -> None:
    c = await company(bridge, 1001)
    for _ in range(3):
        assert (await send("POST", hint_url(bridge, c, "invoice", "number=7"))).status == 204
    assert len(await inbox(bridge)) == 3  # each delivery is its own row (last_received moves)
    assert [(j.kind, j.dedupe_key) for j in await jobs(bridge)] == [
        ("sync.invoice", "invoice:1001:7")
    ]


async def test_the_economic_receiver_checks_in_design_order(bridge: Bridge) -> None:
    active = await company(bridge, 1001)
    revoked = await company(bridge, 1002, "revoked")
    big = b"x" * (LIMIT + 1)
    not_found = Answer(404, "404: Not Found")
    base = f"{bridge.url}/webhooks/economic"
    cases = [
        ("unknown key", f"{base}/nosuchkey/{active.url_secret}/invoice?number=x", big, not_found),
        (
            "wrong secret",
            hint_url(bridge, active, "invoice", "number=x", secret="nope"),
            big,
            not_found,
        ),
        (
            "another's secret",
            hint_url(bridge, active, "invoice", "number=1", secret=revoked.url_secret),
            b"",
            not_found,
        ),
        ("unknown topic", hint_url(bridge, active, "ledger", "number=1"), b"", not_found),
        ("too large", hint_url(bridge, revoked, "invoice", "number=x"), big, 413),
        ("revoked", hint_url(bridge, revoked, "invoice", "number=x"), b"", 410),
        ("malformed", hint_url(bridge, active, "invoice", "number=x"), b"", 400),
        ("at the limit", hint_url(bridge, active, "invoice", "number=1"), b"x" * LIMIT, 204),
    ]
    for name, url, body, expected in cases:
        answer = await send("POST", url, body)
        assert (answer if isinstance(expected, Answer) else answer.status) == expected, name
    assert len(await inbox(bridge)) == 1


async def test_a_body_is_not_read_past_the_limit(bridge: Bridge) -> None:
    """A chunked body (no length given) is cut off at the limit: 413 while it is still coming."""
    c = await company(bridge, 1001)
    parts = urlsplit(bridge.url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(
        f"POST /webhooks/economic/{c.key}/{c.url_secret}/invoice?number=1 HTTP/1.1\r\n"
        f"Host: {parts.netloc}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
    )
    chunk = b"x" * 65536
    for _ in range(17):  # 1,114,112 bytes: past the limit, and the body never ends
        writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), timeout=10)
    writer.close()
    await writer.wait_closed()
    assert status_line.startswith(b"HTTP/1.1 413"), status_line
    assert await inbox(bridge) == []


@pytest.mark.parametrize(
    ("topic", "query"),
    [
        ("invoice", ""),
        ("invoice", "number=0"),
        ("invoice", "number=%5BINVOICENO%5D"),
        ("invoice", "number=1&number=2"),
        ("customer", "new=&old="),
        ("customer", "new=abc&old=1"),
        ("daybook", "daybook=3&from=1"),
    ],
)
async def test_a_malformed_placeholder_is_a_400(bridge: Bridge, topic: str, query: str) -> None:
    c = await company(bridge, 1001)
    assert (await send("GET", hint_url(bridge, c, topic, query))).status == 400
    assert await inbox(bridge) == [] and await jobs(bridge) == []


async def test_head_stores_no_hint(bridge: Bridge) -> None:
    c = await company(bridge, 1001)
    assert (await send("HEAD", hint_url(bridge, c, "invoice", "number=1"))).status == 405
    assert await inbox(bridge) == []


@pytest.mark.slow
async def test_a_burst_of_hints_makes_one_job_per_invoice(bridge: Bridge) -> None:
    """2,000 hints for 100 invoices, 64 at a time: 100 queued jobs, every hint in the inbox,
    in far fewer commits than requests."""
    c = await company(bridge, 1001)
    urls = [hint_url(bridge, c, "invoice", f"number={10001 + i % 100}") for i in range(2000)]
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def hit(url: str) -> int:
            async with http.post(url) as r:
                return r.status

        statuses = await asyncio.gather(*(hit(u) for u in urls))
    assert set(statuses) == {204}
    counts = await JobQueue(bridge.db).counts()
    assert counts == [("sync.invoice", "queued", 100)]
    assert await Inbox(bridge.db).count(source="economic") == 2000
    writer = bridge.app[RECEIVER].writer
    assert writer.commits < 1000, writer.commits


async def test_the_simulator_delivers_a_hint_that_becomes_a_job(
    bridge: Bridge, economic_sandbox: EconomicSandbox
) -> None:
    sandbox = economic_sandbox
    agreement = sandbox.agreement(0)
    c = await company(bridge, agreement)
    url = economic_webhook_url(bridge.url, c.key, c.url_secret, "invoice")
    async with sandbox.session() as http:
        async with http.post(
            "/_sandbox/legacy-webhooks",
            json={"agreement": agreement, "topic": "invoice", "url": url},
        ) as r:
            assert r.status == 201, await r.text()
        customer = next(iter(sandbox.state.companies[agreement].customers))
        async with http.post(
            "/_sandbox/invoices",
            json={
                "agreement": agreement,
                "customer_number": customer,
                "currency": "DKK",
                "date": "2026-11-01",
                "due_date": "2026-11-15",
                "lines": [
                    {"description": "Consulting", "quantity": 1, "unit_price": 1000, "vat_rate": 25}
                ],
            },
        ) as r:
            assert r.status in (200, 201), await r.text()
            number = (await r.json())["bookedInvoiceNumber"]
    await sandbox.dispatcher.idle()
    assert [d.status for d in sandbox.dispatcher.deliveries] == [204]
    (job,) = await jobs(bridge)
    assert (job.kind, job.dedupe_key, job.state) == (
        "sync.invoice",
        f"invoice:{agreement}:{number}",
        "queued",
    )


async def test_hints_feed_last_received(bridge: Bridge) -> None:
    c = await company(bridge, 1001)
    token = await bridge.person("a@example.com", [(c.installation, "admin")])
    before = await bridge.get("/api/v1/installations/1001", token)
    assert before.body["webhooks"]["economic"]["last_received"]["invoice"] is None
    bridge.clock.now = NOW + dt.timedelta(minutes=3)
    assert (await send("GET", hint_url(bridge, c, "invoice", "number=1"))).status == 204
    after = await bridge.get("/api/v1/installations/1001", token)
    received = after.body["webhooks"]["economic"]["last_received"]
    assert received["invoice"] == "2026-11-23T12:03:00Z"
    assert received["customer"] is None and received["daybook"] is None


# -- metrics ----------------------------------------------------------------------------------


async def test_metrics_count_received_duplicates_and_rejections(bridge: Bridge) -> None:
    c = await company(bridge, 1001)
    await deliver(bridge, c, "evt_1")
    await deliver(bridge, c, "evt_1")
    await send("POST", hint_url(bridge, c, "invoice", "number=1"))
    await send("POST", hint_url(bridge, c, "invoice", "number=x"))
    await send("POST", hint_url(bridge, c, "invoice", "number=1", secret="wrong"))
    await send("POST", collection_url(bridge, c.key), b"{}", {"content-type": "text/plain"})
    text = (await send("GET", f"{bridge.url}/metrics")).text
    expected = [
        'collectbridge_webhooks_received_total{source="collection"} 1.0',
        'collectbridge_webhooks_received_total{source="economic"} 1.0',
        'collectbridge_webhooks_duplicates_total{source="collection"} 1.0',
        'collectbridge_webhooks_duplicates_total{source="economic"} 0.0',
        'collectbridge_webhooks_rejected_total{reason="malformed",source="economic"} 1.0',
        'collectbridge_webhooks_rejected_total{reason="not_found",source="economic"} 1.0',
        'collectbridge_webhooks_rejected_total{reason="unsupported_type",source="collection"} 1.0',
        'collectbridge_webhooks_rejected_total{reason="bad_signature",source="collection"} 0.0',
        'collectbridge_webhooks_unavailable_total{source="economic"} 0.0',
    ]
    for line in expected:
        assert line in text, line
    assert not re.search(r'collectbridge_webhooks\w*\{[^}]*=""', text)
    assert 'reason="unsupported_type",source="economic"' not in text  # never answered


# -- the writer: group commit, failure, shutdown ----------------------------------------------


def entry(installation_id: int, key: str) -> NewEntry:
    return NewEntry(source="collection", installation_id=installation_id, dedupe_key=key, topic="t")


async def test_concurrent_deliveries_share_one_commit(bridge: Bridge) -> None:
    c = await company(bridge, 1001)
    writer = InboxWriter(bridge.db, clock=bridge.clock)
    writer.start()
    try:
        results = await asyncio.gather(
            *(writer.store(entry(c.id, f"k{i % 40}")) for i in range(50))
        )
    finally:
        await writer.close()
    assert results == [True] * 40 + [False] * 10  # a duplicate in the same batch too
    assert writer.commits <= 2
    assert await Inbox(bridge.db).count() == 40


async def test_a_delivery_the_database_refuses_fails_alone(bridge: Bridge) -> None:
    c = await company(bridge, 1001)
    writer = InboxWriter(bridge.db, clock=bridge.clock)
    writer.start()
    try:
        # One delivery of the batch names an installation that does not exist.
        results = await asyncio.gather(
            writer.store(entry(c.id, "a")),
            writer.store(entry(999_999, "b")),
            writer.store(entry(c.id, "c")),
            return_exceptions=True,
        )
    finally:
        await writer.close()
    assert results[0] is True and results[2] is True
    assert isinstance(results[1], InboxUnavailable)
    assert sorted(e.dedupe_key for e in await inbox(bridge)) == ["a", "c"]


class DownDatabase:
    """A database whose every transaction fails as an outage."""

    dialect = "sqlite"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        raise DatabaseUnavailable("down")
        yield


async def test_a_database_outage_fails_the_whole_batch() -> None:
    writer = InboxWriter(DownDatabase(), clock=Clock(NOW))  # type: ignore[arg-type]
    writer.start()
    try:
        results = await asyncio.gather(
            *(writer.store(entry(1, k)) for k in "abc"), return_exceptions=True
        )
        assert [type(r) for r in results] == [InboxUnavailable] * 3
        assert writer.commits == 0
    finally:
        await writer.close()
    with pytest.raises(InboxUnavailable):  # closed: refuses at once
        await writer.store(entry(1, "b"))


async def test_closing_commits_what_is_queued(bridge: Bridge) -> None:
    c = await company(bridge, 1001)
    writer = InboxWriter(bridge.db, clock=bridge.clock, max_batch=7)
    writer.start()
    waiting = [asyncio.create_task(writer.store(entry(c.id, f"k{i}"))) for i in range(30)]
    await asyncio.sleep(0)  # every delivery handed over
    await writer.close()
    assert await Inbox(bridge.db).count() == 30  # committed before close returned
    assert await asyncio.gather(*waiting) == [True] * 30


@pytest.mark.postgres
async def test_a_database_outage_answers_503_and_recovers(
    proxied_postgres: ProxiedDatabase,
) -> None:
    async with run_bridge(proxied_postgres.url) as bridge:
        c = await company(bridge, 1001)
        await proxied_postgres.proxy.cut()
        hint = await send("POST", hint_url(bridge, c, "invoice", "number=1"))
        event_answer = await deliver(bridge, c, "evt_1")
        assert (hint.status, event_answer.status) == (503, 503)
        await proxied_postgres.proxy.restore()

        async def stored() -> bool:
            answer = await send("POST", hint_url(bridge, c, "invoice", "number=1"))
            return answer.status == 204

        await eventually(stored, within=15, step=0.2)


# -- the access log ---------------------------------------------------------------------------


async def test_the_access_log_masks_the_url_secret(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A real request through the access logger `collectbridge serve` runs with."""
    sock, url = loopback_socket()
    settings = Settings(
        database_url=database_url, public_url=url, secret_keys=(Secret(SECRET_KEY),)
    )
    app = create_app(settings, run_worker=False, clock=Clock(NOW))
    runner = web.AppRunner(app, access_log_class=masked_access_logger())
    await runner.setup()
    await web.SockSite(runner, sock).start()
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    try:
        bridge = Bridge(url=url, app=app, clock=Clock(NOW), database_url=database_url)
        c = await company(bridge, 1001)
        assert (await send("POST", hint_url(bridge, c, "invoice", "number=1"))).status == 204
        await send("GET", hint_url(bridge, c, "invoice", "number=1", secret="a-wrong-guess"))
    finally:
        await runner.cleanup()
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "aiohttp.access")
    path = f"/webhooks/economic/{c.key}/***/invoice?number=1 HTTP/1.1"
    assert f'"POST {path}" 204' in logged and f'"GET {path}" 404' in logged, logged
    assert c.url_secret not in caplog.text and "a-wrong-guess" not in caplog.text


def test_serve_logs_requests_with_the_url_secret_masked(tmp_path: Path) -> None:
    env = cli_env(f"sqlite:///{tmp_path}/serve.db") | {
        "COLLECTBRIDGE_PUBLIC_URL": "https://collect.example.com",
        "COLLECTBRIDGE_LOG_LEVEL": "INFO",
    }
    secret = secrets.token_urlsafe(24)
    with subprocess.Popen(
        [sys.executable, "-m", "plugin.cli", "serve", "--port", "0", "--no-worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None and process.stderr is not None
            ready, _, _ = select.select([process.stdout], [], [], 30)
            line = process.stdout.readline() if ready else "(nothing within 30 s)"
            port = int(line.split("http://127.0.0.1:", 1)[1].split()[0])
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", f"/webhooks/economic/somekey/{secret}/invoice?number=1")
            assert connection.getresponse().status == 404
            connection.close()
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=10) == 0
            logged = process.stderr.read()
        finally:
            if process.poll() is None:
                process.kill()
    assert 'GET /webhooks/economic/somekey/***/invoice?number=1 HTTP/1.1" 404' in logged, logged
    assert secret not in logged


# -- fuzz -------------------------------------------------------------------------------------

segments = st.text(min_size=0, max_size=30).map(lambda s: quote(s, safe=""))
header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=0, max_size=80
)
# Any header but those that frame the request (a random Content-Length would only test
# http.client) or that the case sets itself.
FRAMING = ("content-", "transfer-", "host", "connection", "expect", "upgrade", "te", "webhook-")
extra_headers = st.dictionaries(
    st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz-"), min_size=1, max_size=20).filter(
        lambda name: not name.startswith(FRAMING)
    ),
    header_text,
    max_size=4,
)


def raw_request(url: str, method: str, path: str, body: bytes, headers: dict[str, str]) -> int:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def our_signature(secret: str, event_id: str, stamp: str, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{event_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


@pytest.mark.slow
async def test_fuzzed_deliveries_never_fail_and_never_store_the_unverified(
    bridge: Bridge,
) -> None:
    """Arbitrary paths, bytes and headers, now and then with the right key, secret or
    signature: never a 5xx, and the inbox holds exactly what was answered 204."""
    c = await company(bridge, 1001)
    accepted: dict[str, set[str]] = {"collection": set(), "economic": set()}

    collection_cases = st.fixed_dictionaries(
        {
            "key": st.one_of(st.just(c.key), segments),
            "body": st.one_of(
                st.binary(max_size=300),
                st.builds(event, st.text(max_size=20)),
                st.just(event("evt_fuzz")),
            ),
            "content_type": st.sampled_from(["application/json", "text/plain", "", "a/b+json"]),
            "event_id": st.one_of(st.just("evt_fuzz"), header_text),
            "stamp": st.one_of(st.just("now"), header_text),
            "signature": st.sampled_from(["right", "wrong", "garbage"]),
            "extra": extra_headers,
        }
    )
    economic_cases = st.fixed_dictionaries(
        {
            "method": st.sampled_from(["GET", "POST"]),
            "key": st.one_of(st.just(c.key), segments),
            "secret": st.one_of(st.just(c.url_secret), segments),
            "topic": st.one_of(st.sampled_from(["invoice", "customer", "daybook"]), segments),
            "query": st.lists(
                st.tuples(
                    st.sampled_from(["number", "new", "old", "daybook", "from", "to", "x"]),
                    st.one_of(st.integers(-5, 10**20).map(str), st.text(max_size=10)),
                ),
                max_size=4,
            ),
            "body": st.binary(max_size=200),
            "extra": extra_headers,
        }
    )

    @settings(
        max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(case=collection_cases)
    @example(
        case={
            "key": c.key,
            "body": event("evt_fuzz"),
            "content_type": "application/json",
            "event_id": "evt_fuzz",
            "stamp": "now",
            "signature": "right",
            "extra": {},
        }
    )
    def collection_fuzz(case: dict[str, Any]) -> None:
        body: bytes = case["body"]
        stamp = str(int(time.time())) if case["stamp"] == "now" else case["stamp"]
        signature = {
            "right": our_signature(c.signing_secret, case["event_id"], stamp, body),
            "wrong": our_signature("whsec_" + "C" * 43 + "=", case["event_id"], stamp, body),
            "garbage": "v1,###",
        }[case["signature"]]
        headers = case["extra"] | {
            "webhook-id": case["event_id"],
            "webhook-timestamp": stamp,
            "webhook-signature": signature,
            "content-type": case["content_type"],
        }
        status = raw_request(
            bridge.url, "POST", f"/webhooks/collection/{case['key']}", body, headers
        )
        assert status < 500, (case, status)
        if status == 204:
            assert case["key"] == c.key and case["signature"] == "right"
            accepted["collection"].add(case["event_id"])

    @settings(
        max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(case=economic_cases)
    @example(
        case={
            "method": "GET",
            "key": c.key,
            "secret": c.url_secret,
            "topic": "customer",
            "query": [("new", "42"), ("old", "")],
            "body": b"",
            "extra": {},
        }
    )
    def economic_fuzz(case: dict[str, Any]) -> None:
        query = "&".join(f"{quote(k)}={quote(v)}" for k, v in case["query"])
        path = f"/webhooks/economic/{case['key']}/{case['secret']}/{case['topic']}?{query}"
        status = raw_request(bridge.url, case["method"], path, case["body"], case["extra"])
        assert status < 500, (case, status)
        if status == 204:
            assert (case["key"], case["secret"]) == (c.key, c.url_secret)
            accepted["economic"].add(path + secrets.token_hex(4))

    await asyncio.to_thread(collection_fuzz)
    await asyncio.to_thread(economic_fuzz)
    assert accepted["collection"] and accepted["economic"]  # storage was reached
    rows = await inbox(bridge)
    assert sorted(r.dedupe_key for r in rows if r.source == "collection") == sorted(
        f"collection:{c.id}:{i}" for i in accepted["collection"]
    )
    assert len([r for r in rows if r.source == "economic"]) == len(accepted["economic"])
