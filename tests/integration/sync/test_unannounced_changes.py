"""Scans that keep finding changes no webhook hint announced (the legacy URLs never pasted, or
removed): after two such scans in a row, one problem says what to do; it clears itself once
hints arrive again. Against both simulators, with the e-conomic simulator's own day-book hints
once the URLs are pasted (`/_sandbox/legacy-webhooks`), and jobs run by the real worker."""

from __future__ import annotations

import datetime as dt
from typing import Any

from plugin.onboarding.webhook_urls import economic_webhook_urls
from sync import schedules
from sync.backfill import UNANNOUNCED
from sync.money import to_decimal
from sync.store.problems import Problem, Problems
from sync.store.sync_state import SyncState
from sync.store.webhook_secrets import WebhookSecrets
from tests.fixtures.conditions import eventually
from tests.integration.sync.support import Company, running_company

EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


async def run(company: Company, job: Any) -> None:
    job_id = await company.services.queue.enqueue(job, now=company.bridge.clock())
    await company.settle()
    found = await company.job(job_id)
    assert found.state == "succeeded", found.last_error


async def bootstrapped(company: Company) -> list[int]:
    """The bootstrap run; the invoice claims it made, by number."""
    await run(company, schedules.bootstrap(company.installation.id, company.agreement))
    return sorted(c.invoice_number for c in await company.claims() if c.kind == "invoice")


async def pay_some(company: Company, number: int) -> None:
    """A part payment booked in e-conomic (the simulator fires a day-book hint for it, to the
    URLs pasted into it, if any)."""
    invoice = company.ledger.invoices[number]
    amount = to_decimal(max(invoice.remainder // 4, 1), invoice.currency)
    await company.economic_call(
        "POST",
        f"/_sandbox/invoices/{number}/payments",
        {"agreement": company.agreement, "amount": amount},
    )


async def full_scan(company: Company) -> None:
    await run(company, schedules.scan(company.installation.id, company.agreement, full=True))


async def unannounced(company: Company) -> list[Problem]:
    problems = await Problems(company.bridge.db).open(company.installation.id)
    return [p for p in problems if p.code == UNANNOUNCED]


async def paste_urls(company: Company) -> None:
    """What a person does with the legacy URLs shown in onboarding."""
    services = company.services
    assert services.cipher is not None
    secrets = WebhookSecrets(company.bridge.db, services.cipher)
    secret = await secrets.economic_url_secret(company.installation.id, now=company.bridge.clock())
    urls = economic_webhook_urls(company.bridge.url, company.installation.installation_key, secret)
    for topic, url in urls.items():
        await company.economic_call(
            "POST",
            "/_sandbox/legacy-webhooks",
            {"agreement": company.agreement, "topic": topic, "url": url, "method": "POST"},
        )


async def hints(company: Company) -> int:
    """The e-conomic hints the inbox holds for the company."""
    state = SyncState(company.bridge.db)
    return await state.hints_since(company.installation.id, since=EPOCH)


async def test_scans_finding_unannounced_changes_raise_one_problem_cleared_by_hints(
    database_url: str,
) -> None:
    async with running_company(database_url, invoices=80) as company:
        claims = await bootstrapped(company)
        assert len(claims) >= 4
        # The first scan after the bootstrap finds a change no hint announced: not yet a problem.
        await pay_some(company, claims[0])
        await full_scan(company)
        assert await unannounced(company) == []
        # A scan that finds nothing changed counts neither way.
        await full_scan(company)
        assert await unannounced(company) == []
        # The second scan with unannounced changes: one problem, saying what to do.
        await pay_some(company, claims[1])
        await full_scan(company)
        [problem] = await unannounced(company)
        assert problem.category == "missing_data"
        assert problem.subject == "webhooks:economic"
        assert "webhook URLs shown in onboarding" in problem.message
        assert "Webhooks API" in problem.message
        # Still no hints: the same problem, seen once more, not a second one.
        await pay_some(company, claims[2])
        await full_scan(company)
        [again] = await unannounced(company)
        assert again.id == problem.id and again.occurrences == 2

        # The URLs pasted: a customer changed in e-conomic, its hint reaches the inbox, and the
        # daily scan job clears the problem even though it reads no more than the checksum.
        await paste_urls(company)
        received = await hints(company)
        customer = sorted(company.ledger.customers)[0]
        await company.economic_call(
            "PUT", f"/_sandbox/customers/{customer}", {"agreement": company.agreement, "name": "Ny"}
        )
        await eventually(lambda: more_hints(company, received), within=10)
        await company.settle()  # the hint's own job
        calls = len(await economic_calls(company))
        await run(company, schedules.scan(company.installation.id, company.agreement))
        assert [c["path"] for c in (await economic_calls(company))[calls:]] == [
            "/invoices/totals/booked/unpaid/overdue"
        ]
        assert await unannounced(company) == []
        state = SyncState(company.bridge.db)
        point = (await state.get(company.installation.id, "hints")).checkpoint
        assert point["unannounced"] == 0


async def economic_calls(company: Company) -> Any:
    return (await company.economic_call("GET", f"/_sandbox/calls?agreement={company.agreement}"))[
        "items"
    ]


async def test_changes_announced_by_hints_are_no_problem(database_url: str) -> None:
    async with running_company(database_url, invoices=80) as company:
        await paste_urls(company)
        claims = await bootstrapped(company)
        state = SyncState(company.bridge.db)
        for number in claims[:3]:
            received = await hints(company)
            await pay_some(company, number)
            await eventually(lambda: more_hints(company, received), within=10)
            await company.settle()
            await full_scan(company)
        assert await unannounced(company) == []
        point = (await state.get(company.installation.id, "hints")).checkpoint
        assert point["unannounced"] == 0


async def more_hints(company: Company, than: int) -> bool:
    return await hints(company) > than
