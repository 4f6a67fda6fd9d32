"""A worker process killed with SIGKILL in the middle of a bootstrap: the next worker resumes at
the last stored page, and the collection account ends exactly as the ledger says (no claim
missing, none extra, nothing sent twice in a way that changed it)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from sync import schedules
from sync.store.sync_state import SyncState
from tests.fixtures.conditions import eventually
from tests.integration.sync.support import Company, running_company
from tests.integration.test_api import SECRET_KEY

LEASE = 2.0


def worker_env(company: Company, database_url: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "COLLECTBRIDGE_DATABASE_URL": database_url,
        "COLLECTBRIDGE_SECRET_KEY": SECRET_KEY,
        "COLLECTBRIDGE_PUBLIC_URL": company.bridge.url,
        "COLLECTBRIDGE_ECONOMIC_API_URL": company.economic.url,
        "COLLECTBRIDGE_ECONOMIC_OPENAPI_URL": company.economic.url,
        "COLLECTBRIDGE_ECONOMIC_APP_SECRET_TOKEN": company.economic.app_secret_token,
        "COLLECTBRIDGE_ECONOMIC_APP_PUBLIC_TOKEN": company.economic.app_public_token,
        "COLLECTBRIDGE_COLLECTION_API_URL": company.collection.url,
        "COLLECTBRIDGE_COLLECTION_CLIENT_ID": company.collection.client_id,
        "COLLECTBRIDGE_COLLECTION_CLIENT_SECRET": company.collection.client_secret,
        "COLLECTBRIDGE_JOB_LEASE_SECONDS": str(LEASE),
        "COLLECTBRIDGE_WORKER_POLL_SECONDS": "0.05",
    }


def start(env: dict[str, str], out: Path, *args: str) -> subprocess.Popen[bytes]:
    with out.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "plugin.cli", "worker", *args],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


async def test_a_killed_bootstrap_resumes_at_its_last_page(
    database_url: str, tmp_path: Path
) -> None:
    # The worker processes judge "today" by the wall clock: the simulators start on that date.
    today = dt.datetime.now(ZoneInfo("Europe/Copenhagen")).date()
    async with running_company(database_url, invoices=6000, start=today) as company:
        await company.services.queue.enqueue(
            schedules.bootstrap(company.installation.id, company.agreement),
            now=company.bridge.clock(),
        )
        async with company.services.http.post(
            company.economic.url + "/_sandbox/faults", json={"latency_ms": 120}
        ) as r:
            assert r.status == 200
        env, out = worker_env(company, database_url), tmp_path / "workers.out"
        first = start(env, out)
        state = SyncState(company.bridge.db)

        async def a_page_stored() -> bool:
            point = (await state.get(company.installation.id, "invoices")).checkpoint
            return point.get("phase") == "invoices" and point.get("after", 0) > 0

        try:
            await eventually(a_page_stored, within=60, step=0.02, explain=out.read_text)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        stopped_at = (await state.get(company.installation.id, "invoices")).checkpoint
        calls_before = len(company.economic.state.calls)
        async with company.services.http.post(
            company.economic.url + "/_sandbox/faults", json={}
        ) as r:
            assert r.status == 200
        await asyncio.sleep(LEASE + 0.5)  # the dead worker's lease runs out
        second = start(env, out, "--burst")
        assert await asyncio.to_thread(second.wait, 120) == 0, out.read_text()

        jobs = await company.services.queue.list(installation_id=company.installation.id)
        boot = [j for j in jobs if j.kind == "sync.bootstrap"]
        assert [j.state for j in boot] == ["succeeded"], out.read_text()
        invoices = company.ledger.invoices.values()
        overdue = {
            i.number: i for i in invoices if i.gross > 0 and i.remainder > 0 and i.due_date < today
        }
        customers = {i.customer for i in overdue.values()}
        notes = {
            i.number: i
            for i in invoices
            if i.gross < 0 and i.remainder < 0 and i.customer in customers
        }
        expected = {str(n): i.remainder for n, i in {**overdue, **notes}.items()}
        platform = company.platform_claims()
        assert {ref: c.fields["remaining_amount"] for ref, c in platform.items()} == expected
        assert all(c.version == 1 for c in platform.values()), "no claim was changed by a re-send"
        # The second worker began at the page after the last stored one.
        pages = [
            c for c in company.economic.state.calls[calls_before:] if c.path == "/invoices/unpaid"
        ]
        assert pages, "the second worker read the rest of the unpaid invoices"
        assert f"bookedInvoiceNumber$gt:{stopped_at['after']}" in pages[0].query
