"""`EconomicClient` against the simulator: reads, paging, writes, errors, retries, budget."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import aiohttp
import pytest

from sync.clients.economic_types import CustomerPayment, NewVoucher
from sync.errors import (
    AuthLostError,
    BudgetExhaustedError,
    ConflictError,
    NotFoundError,
    RateLimitedError,
    TransientError,
    ValidationError,
)
from sync.money import to_minor
from sync.store.db import Database
from sync.store.usage import ApiUsage
from tests.fixtures.conditions import eventually
from tests.fixtures.economic import EconomicSandbox
from tests.integration.economic.conftest import ClientFactory


async def calls(
    sb: EconomicSandbox, http: aiohttp.ClientSession, agreement: int
) -> list[dict[str, Any]]:
    async with http.get(f"{sb.url}/_sandbox/calls", params={"agreement": str(agreement)}) as r:
        return list((await r.json())["items"])


async def control(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> None:
    async with http.post(url, json=body) as r:
        assert r.status < 300


async def test_reads_and_paging(
    economic_sandbox: EconomicSandbox, make_client: ClientFactory, http: aiohttp.ClientSession
) -> None:
    sb = economic_sandbox
    client = make_client()
    me = await client.self_info()
    assert me.agreement_number == sb.agreement() and me.settings.base_currency == "DKK"
    numbers = [i.booked_invoice_number async for i in client.invoices("booked", page_size=7)]
    assert numbers == sorted(sb.state.companies[sb.agreement()].invoices)
    pages = [c for c in await calls(sb, http, sb.agreement()) if c["path"] == "/invoices/booked"]
    assert len(pages) == 8  # 50 invoices, 7 per page: the scan ends when nextPage is absent
    customers = [c async for c in client.customers(page_size=3)]
    assert [c.customer_number for c in customers] == list(range(1, 9))
    overdue = [i async for i in client.invoices("overdue")]
    totals = await client.overdue_totals()
    assert totals.invoice_count == len(overdue)
    assert totals.gross_remainder_in_base_currency == sum(
        i.remainder_in_base_currency for i in overdue
    )
    one = await client.invoice(overdue[0].booked_invoice_number)
    assert one.lines and sum(x.total_net_amount for x in one.lines) == one.net_amount
    assert (await client.invoice_pdf(one.booked_invoice_number)).startswith(b"%PDF-")
    assert [j.journal_number async for j in client.journals()] == [1, 2, 3]
    assert {a.account_number async for a in client.accounts()} >= {5820, 1310}
    assert [y.year async for y in client.accounting_years()]
    assert [t.name async for t in client.payment_terms()]
    assert [z.vat_zone_number async for z in client.vat_zones()] == [1, 2, 3, 4]


async def test_incremental_customers(
    economic_sandbox: EconomicSandbox, make_client: ClientFactory, http: aiohttp.ClientSession
) -> None:
    client = make_client()
    async with http.put(f"{economic_sandbox.url}/_sandbox/customers/5", json={"zip": "9000"}) as r:
        changed = dt.datetime.fromisoformat((await r.json())["lastUpdated"])
    found = [c async for c in client.customers(updated_since=changed - dt.timedelta(seconds=2))]
    assert [c.customer_number for c in found] == [5] and found[0].zip == "9000"


async def test_write_voucher_book_and_idempotency(
    economic_sandbox: EconomicSandbox, make_client: ClientFactory
) -> None:
    sb = economic_sandbox
    company = sb.state.companies[sb.agreement()]
    invoice = next(
        i for i in company.invoices.values() if i.remainder > 10000 and i.currency == "DKK"
    )
    before = invoice.remainder
    client = make_client()
    voucher = NewVoucher(
        accounting_year="2026",
        customer_payments=(
            CustomerPayment(
                customer_number=invoice.customer,
                invoice_number=invoice.number,
                amount=1007,
                currency="DKK",
                date=dt.date(2026, 11, 20),
                text="Indbetaling via inkasso",
                contra_account=5830,
            ),
        ),
    )
    first = await client.post_voucher(3, voucher, idempotency_key="payment-7")
    again = await client.post_voucher(3, voucher, idempotency_key="payment-7")
    assert first == again and len(company.journals[3].drafts) == 1
    result = await client.book_journal(3, idempotency_key="book-3-1")
    assert [v.voucher_number for v in result.booked_vouchers] == [first[0].voucher_number]
    remainder = (await client.invoice(invoice.number)).remainder  # e-conomic's exact decimal
    assert to_minor(remainder, "DKK") == before - 1007
    barred = await client.set_barred(invoice.customer, True, idempotency_key="bar-1")
    assert barred.barred and company.customers[invoice.customer].barred
    assert not (await client.set_barred(invoice.customer, False, idempotency_key="bar-2")).barred


async def test_errors_map_to_sync_errors(
    economic_sandbox: EconomicSandbox, make_client: ClientFactory
) -> None:
    client = make_client()
    with pytest.raises(NotFoundError):
        await client.customer(99999)
    with pytest.raises(ValidationError) as caught:
        await client.post_voucher(
            3,
            NewVoucher(
                accounting_year="1999",
                customer_payments=(
                    CustomerPayment(
                        customer_number=1,
                        invoice_number=None,
                        amount=100,
                        currency="DKK",
                        date=dt.date(2026, 11, 20),
                        text="x",
                    ),
                ),
            ),
            idempotency_key="bad-1",
        )
    assert "accountingYear" in caught.value.detail["errors"]
    assert caught.value.detail["logId"]
    types = await client.event_types()
    event = types[0].event_type
    await client.create_webhook(
        event_type=event,
        name="cb",
        url="http://127.0.0.1:9/h",
        headers={"X-Key": "k"},
        idempotency_key="wh-1",
    )
    with pytest.raises(ConflictError):
        await client.create_webhook(
            event_type=event,
            name="cb",
            url="http://127.0.0.1:9/h",
            headers={},
            idempotency_key="wh-2",
        )
    hooks = await client.webhooks()
    await client.delete_webhook(hooks[0].id, idempotency_key="wh-del")
    assert await client.webhooks() == []
    with pytest.raises(ValueError, match="Idempotency-Key"):
        await client.set_barred(1, True, idempotency_key="")


async def test_revoked_grant_is_auth_lost_without_retry(
    economic_sandbox: EconomicSandbox, make_client: ClientFactory, http: aiohttp.ClientSession
) -> None:
    sb = economic_sandbox
    client = make_client()
    await client.self_info()
    await control(http, f"{sb.url}/_sandbox/grants/{sb.agreement()}/revoke", {})
    with pytest.raises(AuthLostError) as caught:
        await client.self_info()
    assert caught.value.detail["httpStatusCode"] == 401
    assert sb.app_secret_token not in repr(caught.value.detail)
    assert [c.status for c in sb.state.calls] == [200, 401]  # no retry


async def test_server_errors_are_retried(
    economic_sandbox: EconomicSandbox, make_client: ClientFactory, http: aiohttp.ClientSession
) -> None:
    sb = economic_sandbox
    await control(http, f"{sb.url}/_sandbox/faults", {"status": 503, "rate": 0.6, "retry_after": 0})
    client = make_client(attempts=10)
    numbers = [i.booked_invoice_number async for i in client.invoices("booked", page_size=10)]
    assert len(numbers) == 50
    statuses = [c.status for c in sb.state.calls]
    assert statuses.count(503) > 0 and statuses.count(200) == 5
    await control(http, f"{sb.url}/_sandbox/faults", {"status": 500, "rate": 1.0})
    with pytest.raises(TransientError):
        await make_client(attempts=3).self_info()
    assert [c.status for c in sb.state.calls[-3:]] == [500, 500, 500]


async def test_timeouts_are_retried_then_raised(
    economic_sandbox: EconomicSandbox, make_client: ClientFactory, http: aiohttp.ClientSession
) -> None:
    sb = economic_sandbox
    await control(http, f"{sb.url}/_sandbox/faults", {"latency_ms": 400})
    client = make_client(attempts=2, timeout=aiohttp.ClientTimeout(total=0.1))
    with pytest.raises(TransientError, match="timed out"):
        await client.self_info()
    await eventually(lambda: len(sb.state.calls) == 2)  # the server logs when its sleep ends
    assert [c.path for c in sb.state.calls] == ["/self", "/self"]


async def test_429_storm_never_retries_before_retry_after(
    economic_sandbox: EconomicSandbox, make_client: ClientFactory, http: aiohttp.ClientSession
) -> None:
    sb = economic_sandbox
    await control(http, f"{sb.url}/_sandbox/faults", {"status": 429, "rate": 1.0, "retry_after": 1})
    with pytest.raises(RateLimitedError) as caught:
        await make_client(attempts=3).self_info()
    assert caught.value.retry_after == 1.0
    items = await calls(sb, http, sb.agreement())
    assert [c["status"] for c in items] == [429, 429, 429]
    times = [dt.datetime.fromisoformat(c["at"]) for c in items]
    assert all((b - a).total_seconds() >= 1.0 for a, b in itertools.pairwise(times))


async def test_budget_wait_then_success(
    economic_sandbox: EconomicSandbox, make_client: ClientFactory, http: aiohttp.ClientSession
) -> None:
    sb = economic_sandbox
    await control(
        http,
        f"{sb.url}/_sandbox/budget",
        {"agreement": sb.agreement(), "limit": 1, "window_seconds": 0.5},
    )
    client = make_client()
    await client.self_info()
    await client.self_info()  # 429 with Retry-After: 1, waited out, then 200
    statuses = [c.status for c in sb.state.calls]
    assert statuses == [200, 429, 200]
    gap = (sb.state.calls[2].at - sb.state.calls[1].at).total_seconds()
    assert gap >= 1.0


async def test_long_retry_after_raises_rate_limited(
    economic_sandbox: EconomicSandbox, make_client: ClientFactory, http: aiohttp.ClientSession
) -> None:
    sb = economic_sandbox
    await control(http, f"{sb.url}/_sandbox/budget", {"agreement": sb.agreement(), "limit": 1})
    client = make_client()
    await client.self_info()
    with pytest.raises(RateLimitedError) as caught:
        await client.self_info()
    assert caught.value.retry_after is not None and caught.value.retry_after > 86_000
    assert [c.status for c in sb.state.calls] == [200, 429]  # not waited out, not retried


async def test_our_budget_pauses_before_the_platform_limit_across_clients(
    economic_sandbox: EconomicSandbox, make_client: ClientFactory, http: aiohttp.ClientSession
) -> None:
    sb = economic_sandbox
    await control(http, f"{sb.url}/_sandbox/budget", {"agreement": sb.agreement(), "limit": 5})
    first, second = make_client(daily_budget=4), make_client(daily_budget=4)
    for client in (first, second, first, second):  # two "processes" share the stored count
        await client.self_info()
    for client in (first, second):
        with pytest.raises(BudgetExhaustedError) as caught:
            await client.self_info()
        assert not caught.value.spends_attempt  # the job waits, its attempts untouched
        # room again when the first minute bucket leaves the 24-hour window
        assert caught.value.retry_after is not None
        assert 86_340 <= caught.value.retry_after <= 86_460
    assert [c.status for c in sb.state.calls] == [200] * 4  # the platform never said 429


async def test_every_call_is_counted_in_the_store(
    economic_sandbox: EconomicSandbox,
    make_client: ClientFactory,
    store: Database,
    installation_id: int,
) -> None:
    client = make_client()
    await client.self_info()
    _ = [c async for c in client.customers(page_size=5)]
    with pytest.raises(NotFoundError):
        await client.invoice(1)
    counted = await ApiUsage(store).calls_24h(installation_id, "economic", dt.datetime.now(dt.UTC))
    assert counted == len(economic_sandbox.state.calls) == 4
