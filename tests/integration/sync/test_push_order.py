"""Two jobs of one company sending the same claim at once: the collection account ends with the
newest one. The platform has no conditional write (a PUT or a batch item simply replaces the
claim), so the order in which our sends arrive is the order the platform keeps; a send held up by
a retry must not land after a later one."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from sync.engine import Engine
from sync.errors import TransientError
from sync.money import to_decimal
from sync.store.claims import StoredClaim
from tests.fixtures.conditions import eventually
from tests.integration.sync.support import Company, control, running_company
from tests.integration.sync.test_keeping import bootstrapped
from tests.store.test_refresh_lease import expire_leases


async def recorded(company: Company, engine: Engine, number: int, part: int) -> int:
    """Part of the invoice paid in e-conomic and the claim's new remainder recorded, not sent:
    what a job has done when it reaches its send. Returns the new remainder."""
    invoice = company.ledger.invoices[number]
    await company.economic_call(
        "POST",
        f"/_sandbox/invoices/{number}/payments",
        {"agreement": company.agreement, "amount": to_decimal(part, invoice.currency)},
    )
    _, economic, _ = await company.parts()
    records = await engine.claim_records([await economic.invoice(number)])
    stored = stored_claim(await company.claims(), number)
    await engine.claims.record(
        company.installation.id, records, scan=stored.seen_scan, now=company.bridge.clock()
    )
    return int(company.ledger.invoices[number].remainder)


def an_invoice_claim(company: Company) -> str:
    return next(r for r, c in company.platform_claims().items() if c.fields["kind"] == "invoice")


@dataclass
class HeldUp:
    """A claim changed and on its way with the first engine's send, whose batch was answered
    503 once and is retried ``retry_after`` seconds later; a second engine, as another job."""

    ref: str
    part: int
    first_send: asyncio.Task[int]
    second: Engine


async def held_up(company: Company, *, retry_after: int) -> HeldUp:
    await bootstrapped(company)
    ref = an_invoice_claim(company)
    first, _, _ = await company.parts()
    second, _, _ = await company.parts()
    part = company.platform_claims()[ref].fields["remaining_amount"] // 4
    await recorded(company, first, int(ref), part)
    faults = company.collection.url, "POST", "/_sandbox/faults"
    fault = {"status": 503, "rate": 1.0, "count": 1, "retry_after": retry_after}
    await control(company, *faults, fault)
    sending = asyncio.create_task(first.send_claims())
    await eventually(lambda: company.collection.state.faults.count == 0)
    return HeldUp(ref=ref, part=part, first_send=sending, second=second)


def stored_claim(claims: list[StoredClaim], number: int) -> StoredClaim:
    return {c.invoice_number: c for c in claims}[number]


async def test_a_send_held_up_by_a_retry_never_lands_after_a_newer_one(database_url: str) -> None:
    async with running_company(database_url, invoices=40) as company:
        send = await held_up(company, retry_after=1)
        number = int(send.ref)
        # Meanwhile the invoice is paid again and another job sends the newer claim.
        newest = await recorded(company, send.second, number, send.part)
        await send.second.send_claims()
        await send.first_send
        assert company.platform_claims()[send.ref].fields["remaining_amount"] == newest
        stored = stored_claim(await company.claims(), number)
        assert stored.remaining == newest and stored.pushed_fingerprint == stored.fingerprint


async def test_a_sender_that_lost_its_lease_has_its_claims_sent_again(database_url: str) -> None:
    async with running_company(database_url, invoices=40) as company:
        send = await held_up(company, retry_after=2)
        number = int(send.ref)
        # The first sender stalls past its lease; the second takes it and sends the newer claim,
        # which the older one, retried, then overwrites on the platform.
        await expire_leases(company.bridge.db)
        newest = await recorded(company, send.second, number, send.part)
        await send.second.send_claims()
        assert company.platform_claims()[send.ref].fields["remaining_amount"] == newest
        with pytest.raises(TransientError, match="lost"):
            await send.first_send
        assert company.platform_claims()[send.ref].fields["remaining_amount"] != newest
        assert stored_claim(await company.claims(), number).pushed_fingerprint == "unsure"
        # The job's retry (any later send) puts the newest back.
        await send.second.send_claims()
        assert company.platform_claims()[send.ref].fields["remaining_amount"] == newest
        stored = stored_claim(await company.claims(), number)
        assert stored.pushed_fingerprint == stored.fingerprint


async def test_a_claim_changed_back_within_a_day_is_sent_and_not_replayed(
    database_url: str,
) -> None:
    # The platform keeps a batch's idempotency key for 24 h: a key derived from the content
    # alone would name the third send below as the first, and the platform would answer it as
    # a replay without applying it.
    async with running_company(database_url, invoices=40) as company:
        await bootstrapped(company)
        ref = an_invoice_claim(company)
        number = int(ref)
        engine, economic, _ = await company.parts()
        part = company.platform_claims()[ref].fields["remaining_amount"] // 4
        once = await recorded(company, engine, number, part)
        await engine.send_claims()
        assert company.platform_claims()[ref].fields["remaining_amount"] == once
        as_once = await engine.claim_records([await economic.invoice(number)])
        twice = await recorded(company, engine, number, part)
        await engine.send_claims()
        assert company.platform_claims()[ref].fields["remaining_amount"] == twice
        # The second payment reversed the same day: the claim is as it was after the first.
        stored = stored_claim(await company.claims(), number)
        now = company.bridge.clock()
        await engine.claims.record(company.installation.id, as_once, scan=stored.seen_scan, now=now)
        await engine.send_claims()
        assert company.platform_claims()[ref].fields["remaining_amount"] == once
