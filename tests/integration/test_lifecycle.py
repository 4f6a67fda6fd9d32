"""Pause, resume, disconnect and e-conomic access lost, over HTTP on SQLite and PostgreSQL.

The API routes and the CLI are driven as a tool would; the worker's problem sink
(`plugin.lifecycle.JobProblems`) is called as the worker calls it; the reinstall runs the real
install flow against the e-conomic simulator, the disconnect revokes a real grant in the
collection simulator.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from plugin.bootstrap import build_worker
from plugin.keys import QUEUE, SERVICES
from plugin.lifecycle import ECONOMIC_AUTH_LOST, JobProblems
from plugin.settings import Secret
from sync.clients.collection_auth import stored_from_response
from sync.clients.collection_tokens import DatabaseTokenStore
from sync.clients.collection_types import TokenResponse
from sync.errors import AuthLostError, NotFoundError
from sync.jobs import Job, NewJob
from sync.store.audit import AuditLog
from sync.store.installations import Installation, Installations
from sync.store.problems import Problems
from sync.worker import JobContext
from tests.fixtures.collection import CollectionSandbox
from tests.fixtures.economic import EconomicSandbox
from tests.integration import test_api, test_install
from tests.integration.test_api import NOW, Answer, Bridge, collectbridge


@asynccontextmanager
async def run_bridge(
    database_url: str, collection: CollectionSandbox | None = None
) -> AsyncIterator[Bridge]:
    linked: dict[str, Any] = {}
    if collection is not None:
        linked = {
            "collection_api_url": collection.url,
            "collection_client_id": collection.client_id,
            "collection_client_secret": Secret(collection.client_secret),
        }
    async with test_api.run_bridge(database_url, **linked) as running:
        yield running


@pytest.fixture
async def bridge(database_url: str) -> AsyncIterator[Bridge]:
    async with run_bridge(database_url) as running:
        yield running


async def post(bridge: Bridge, path: str, token: str) -> Answer:
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http:
        async with http.post(bridge.url + path, headers=headers) as r:
            return Answer(r.status, r.content_type, dict(r.headers), await r.json())


async def job_states(bridge: Bridge, installation: Installation) -> list[str]:
    jobs = await bridge.app[QUEUE].list(installation_id=installation.id)
    return [j.state for j in sorted(jobs, key=lambda j: j.id)]


async def actions(bridge: Bridge, installation: Installation) -> list[str]:
    return [e.action for e in await AuditLog(bridge.db).list(installation.id)]


async def enqueue(bridge: Bridge, installation: Installation, key: str) -> Job:
    queue = bridge.app[QUEUE]
    job_id = await queue.enqueue(
        NewJob(kind="sync.customers", installation_id=installation.id, dedupe_key=key),
        now=bridge.clock(),
    )
    job = await queue.get(job_id)
    assert job is not None
    return job


# -- pause and resume -------------------------------------------------------------------------


async def test_pause_holds_the_jobs_new_ones_too_and_resume_runs_them(bridge: Bridge) -> None:
    company = await bridge.company(1001)
    admin = await bridge.person("admin@example.com", [(company, "admin")])
    await enqueue(bridge, company, "customers:1001")

    paused = await post(bridge, "/api/v1/installations/1001/pause", admin)
    assert paused.status == 200, paused.body
    assert paused.body["agreement_number"] == 1001 and paused.body["status"] == "paused"
    assert paused.body["economic"]["state"] == "ok"
    assert await job_states(bridge, company) == ["parked"]
    await enqueue(bridge, company, "customer:1001:7")  # enqueued while paused: waits too
    assert await job_states(bridge, company) == ["parked", "parked"]
    again = await post(bridge, "/api/v1/installations/1001/pause", admin)
    assert again.status == 200 and again.body["status"] == "paused"

    resumed = await post(bridge, "/api/v1/installations/1001/resume", admin)
    assert resumed.status == 200 and resumed.body["status"] == "active"
    assert await job_states(bridge, company) == ["failed", "failed"]  # due now, runnable
    jobs = await bridge.app[QUEUE].list(installation_id=company.id)
    assert all(j.run_at <= bridge.clock() for j in jobs)
    assert await actions(bridge, company) == ["installation.paused", "installation.resumed"]
    entries = await AuditLog(bridge.db).list(company.id)
    assert {e.actor for e in entries} == {"admin@example.com"}
    shown = await bridge.get("/api/v1/installations/1001", admin)
    assert shown.body["status"] == "active"


async def test_only_an_admin_of_the_company_pauses_resumes_or_disconnects(bridge: Bridge) -> None:
    one, two = await bridge.company(1001), await bridge.company(1002)
    guest = await bridge.person("guest@example.com", [(one, "guest")])
    caseworker = await bridge.person("case@example.com", [(one, "caseworker")])
    stranger = await bridge.person("admin2@example.com", [(two, "admin")])
    for action in ("pause", "resume", "disconnect"):
        path = f"/api/v1/installations/1001/{action}"
        (await post(bridge, path, guest)).problem(403, "role_required")
        (await post(bridge, path, caseworker)).problem(403, "role_required")
        (await post(bridge, path, stranger)).problem(404, "not_found")
    assert (await Installations(bridge.db).get(one.id)).status == "active"  # type: ignore[union-attr]
    assert await actions(bridge, one) == []


async def test_a_move_the_status_forbids_is_409_invalid_state(bridge: Bridge) -> None:
    company = await bridge.company(1001)
    admin = await bridge.person("admin@example.com", [(company, "admin")])
    resumed = await post(bridge, "/api/v1/installations/1001/resume", admin)
    assert resumed.status == 200 and resumed.body["status"] == "active"  # nothing to resume
    await Installations(bridge.db).set_status(company.id, "revoked", now=NOW)
    (await post(bridge, "/api/v1/installations/1001/pause", admin)).problem(409, "invalid_state")
    (await post(bridge, "/api/v1/installations/1001/resume", admin)).problem(409, "invalid_state")
    assert (await Installations(bridge.db).get(company.id)).status == "revoked"  # type: ignore[union-attr]
    assert await actions(bridge, company) == []


# -- e-conomic access lost ----------------------------------------------------------------------


def economic_lost() -> AuthLostError:
    return AuthLostError("e-conomic refused the grant", detail={"status": 401}, platform="economic")


async def test_economic_auth_lost_revokes_with_one_problem_and_parks(bridge: Bridge) -> None:
    company = await bridge.company(1001)
    admin = await bridge.person("admin@example.com", [(company, "admin")])
    job = await enqueue(bridge, company, "customers:1001")
    await enqueue(bridge, company, "customer:1001:7")
    sink = JobProblems(bridge.app[SERVICES])
    bridge.clock.now = NOW + dt.timedelta(minutes=3)
    await sink.record_job_problem(job, economic_lost(), bridge.clock())
    await sink.record_job_problem(job, economic_lost(), bridge.clock())  # a second job's 401

    shown = await bridge.get("/api/v1/installations/1001", admin)
    assert shown.body["status"] == "revoked" and shown.body["economic"]["state"] == "lost"
    revoked = await Installations(bridge.db).get(company.id)
    assert revoked is not None and revoked.revoked_at == NOW + dt.timedelta(minutes=3)
    problems = await Problems(bridge.db).open(company.id)
    assert [(p.category, p.code, p.occurrences) for p in problems] == [
        ("auth_lost", ECONOMIC_AUTH_LOST, 2)
    ]
    assert "install the app again" in problems[0].message
    assert await job_states(bridge, company) == ["parked", "parked"]
    assert await actions(bridge, company) == ["installation.economic_access_lost"]


async def test_a_late_401_of_the_grant_a_reinstall_replaced_changes_nothing(
    bridge: Bridge,
) -> None:
    company = await bridge.company(1003)
    job = await enqueue(bridge, company, "customers:1003")  # it ran with the old grant
    bridge.clock.now = NOW + dt.timedelta(minutes=1)
    await Installations(bridge.db).activate(  # reinstalled meanwhile: a new grant
        agreement_number=1003, company_name=company.company_name, now=bridge.clock()
    )
    bridge.clock.now = NOW + dt.timedelta(minutes=2)
    await JobProblems(bridge.app[SERVICES]).record_job_problem(job, economic_lost(), bridge.clock())
    still = await Installations(bridge.db).get(company.id)
    assert still is not None and still.status == "active"
    assert await Problems(bridge.db).open(company.id) == []
    assert await job_states(bridge, company) == ["queued"]


async def test_other_failures_reach_the_sink_as_before(bridge: Bridge) -> None:
    company = await bridge.company(1001)
    job = await enqueue(bridge, company, "customers:1001")
    sink = JobProblems(bridge.app[SERVICES])
    lost_link = AuthLostError("the collection grant is no longer valid", platform="collection")
    await sink.record_job_problem(job, lost_link, NOW)  # the collection client records its own
    assert await Problems(bridge.db).open(company.id) == []
    await sink.record_job_problem(job, NotFoundError("no customer 7", platform="economic"), NOW)
    problems = await Problems(bridge.db).open(company.id)
    assert [(p.category, p.code) for p in problems] == [("ledger_refused", "not_found")]
    assert (await Installations(bridge.db).get(company.id)).status == "active"  # type: ignore[union-attr]


async def test_a_jobs_economic_401_revokes_the_installation(bridge: Bridge) -> None:
    company = await bridge.company(1001)

    async def refused(ctx: JobContext) -> None:
        raise economic_lost()

    await enqueue(bridge, company, "customers:1001")
    worker = build_worker(bridge.app[SERVICES], {"sync.customers": refused})
    assert await worker.run_burst() == 1
    assert await job_states(bridge, company) == ["parked"]
    assert (await Installations(bridge.db).get(company.id)).status == "revoked"  # type: ignore[union-attr]


async def test_a_reinstall_resolves_the_problem_and_unparks_the_jobs(
    database_url: str, economic_sandbox: EconomicSandbox
) -> None:
    sandbox = economic_sandbox
    await test_install.auto_approve(sandbox)
    agreement = sandbox.agreement(0)
    async with test_install.run_bridge(database_url, sandbox) as bridge:
        async with test_install.browser() as http:
            await test_install.install(http, bridge)
        company = await bridge.installation(agreement)
        queue = bridge.app[QUEUE]
        job_id = await queue.enqueue(
            NewJob(kind="sync.customers", installation_id=company.id), now=bridge.clock()
        )
        job = await queue.get(job_id)
        assert job is not None
        await JobProblems(bridge.app[SERVICES]).record_job_problem(
            job, economic_lost(), bridge.clock()
        )
        assert (await bridge.installation(agreement)).status == "revoked"
        async with sandbox.session() as control:
            async with control.post(f"/_sandbox/grants/{agreement}/revoke") as r:
                assert r.status == 200
        bridge.clock.now += dt.timedelta(hours=1)
        async with test_install.browser() as http:
            await test_install.install(http, bridge)
        again = await bridge.installation(agreement)
        assert again.status == "active" and again.revoked_at is None
        assert await Problems(bridge.db).open(company.id) == []
        unparked = await queue.get(job_id)
        assert unparked is not None and unparked.state == "failed"
        assert unparked.run_at <= bridge.clock()


# -- disconnect ---------------------------------------------------------------------------------


async def link_collection(
    bridge: Bridge, installation: Installation, sandbox: CollectionSandbox
) -> None:
    cipher = bridge.app[SERVICES].cipher
    assert cipher is not None
    grant = await sandbox.link()
    tokens = stored_from_response(TokenResponse(**grant), NOW)
    await DatabaseTokenStore(bridge.db, cipher).save_tokens(installation.id, tokens, now=NOW)


async def test_disconnect_revokes_parks_and_revokes_the_collection_grant(
    database_url: str, collection_sandbox: CollectionSandbox
) -> None:
    async with run_bridge(database_url, collection_sandbox) as bridge:
        company = await bridge.company(1001)
        admin = await bridge.person("admin@example.com", [(company, "admin")])
        await link_collection(bridge, company, collection_sandbox)
        await enqueue(bridge, company, "customers:1001")
        assert not any(g.revoked for g in collection_sandbox.state.grants.values())

        done = await post(bridge, "/api/v1/installations/1001/disconnect", admin)
        assert done.status == 200, done.body
        assert done.body["status"] == "revoked"
        assert done.body["collection"]["state"] == "none"
        assert done.body["collection"]["account_id"] == collection_sandbox.account_ids[0]
        assert all(g.revoked for g in collection_sandbox.state.grants.values())
        assert await job_states(bridge, company) == ["parked"]
        await enqueue(bridge, company, "customer:1001:7")  # enqueued after: waits as well
        assert await job_states(bridge, company) == ["parked", "parked"]
        assert await actions(bridge, company) == [
            "installation.disconnected",
            "installation.collection_grant_revoked",
        ]
        again = await post(bridge, "/api/v1/installations/1001/disconnect", admin)
        assert again.status == 200 and again.body["status"] == "revoked"
        assert len(await actions(bridge, company)) == 2  # nothing more to do, nothing written
        (await post(bridge, "/api/v1/installations/1001/pause", admin)).problem(
            409, "invalid_state"
        )


async def test_cli_disconnect(bridge: Bridge) -> None:
    company = await bridge.company(1001)
    await enqueue(bridge, company, "customers:1001")
    done = collectbridge(bridge.database_url, "disconnect", "1001")
    assert done.returncode == 0, done.stderr
    assert "1001 Company 1001: revoked" in done.stdout
    assert (await Installations(bridge.db).get(company.id)).status == "revoked"  # type: ignore[union-attr]
    assert await job_states(bridge, company) == ["parked"]
    entries = await AuditLog(bridge.db).list(company.id)
    assert [(e.actor, e.action) for e in entries] == [("cli", "installation.disconnected")]
    missing = collectbridge(bridge.database_url, "disconnect", "4242")
    assert missing.returncode == 2 and "4242 is not installed" in missing.stderr
