"""Money at the client boundary: e-conomic's decimals arrive exact, by the currency's exponent.

Reads keep the ``Decimal`` e-conomic sent (the mapping code converts with the record's
currency); writes turn our minor units into the currency's decimals. Checked as properties,
then end to end against the simulator, a zero-decimal currency (ISK) included.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.clients.economic import voucher_document
from sync.clients.economic_types import BookedInvoice, CustomerPayment, FinanceEntry, NewVoucher
from sync.clients.economic_wire import decode, encode
from sync.money import EXPONENTS, UnknownCurrency, to_decimal, to_minor
from tests.fixtures.economic import EconomicSandbox
from tests.integration.economic.conftest import ClientFactory

minor_units = st.integers(min_value=-(10**13), max_value=10**13)
currencies = st.sampled_from(sorted(EXPONENTS))
INVOICE = b'{"bookedInvoiceNumber":1,"date":"2026-01-01","customer":{"customerNumber":1},'


def payment(amount: int, currency: str) -> NewVoucher:
    return NewVoucher(
        accounting_year="2026",
        customer_payments=(
            CustomerPayment(
                customer_number=1,
                invoice_number=2,
                amount=amount,
                currency=currency,
                date=dt.date(2026, 1, 1),
                text="x",
            ),
        ),
    )


@given(minor_units, currencies)
def test_amounts_round_trip_exactly_through_json(minor: int, currency: str) -> None:
    """Our minor units → e-conomic's JSON number → the read struct → minor units again."""
    text = encode({"grossAmount": to_decimal(minor, currency)})
    number = text.split(b":")[1]
    assert b"e" not in number.lower() and b'"' not in number  # a plain JSON number
    assert number.count(b".") == (1 if EXPONENTS[currency] else 0)
    doc = decode(INVOICE + f'"currency":"{currency}",'.encode() + text[1:], BookedInvoice)
    assert isinstance(doc.gross_amount, Decimal)
    assert doc.gross_amount == to_decimal(minor, currency)
    assert to_minor(doc.gross_amount, currency) == minor


def test_decode_keeps_the_decimals_it_was_sent() -> None:
    body = b'{"remainder": 1019.99, "balance": 1500, "dueAmount": -0.07, "x": 1E+2}'
    raw = decode(body, dict)
    assert raw == {
        "remainder": Decimal("1019.99"),
        "balance": 1500,
        "dueAmount": Decimal("-0.07"),
        "x": Decimal("1E+2"),
    }
    assert not any(isinstance(v, float) for v in raw.values())
    doc = decode(INVOICE + b'"currency":"ISK","remainder":1500,"grossAmount":0.29}', BookedInvoice)
    assert (doc.remainder, doc.gross_amount) == (Decimal(1500), Decimal("0.29"))
    assert doc.net_amount == Decimal(0) and doc.remainder_in_base_currency == Decimal(0)


def test_voucher_amounts_have_their_currencys_decimals() -> None:
    assert b'"amount":1019.99' in encode(voucher_document(3, payment(101999, "DKK")))
    assert b'"amount":0.07' in encode(voucher_document(3, payment(7, "EUR")))
    assert b'"amount":1500,' in encode(voucher_document(3, payment(1500, "ISK")))
    assert b'"amount":-115,' in encode(voucher_document(3, payment(-115, "JPY")))
    entry = FinanceEntry(
        account=1310, amount=115, currency="DKK", date=dt.date(2026, 1, 1), text="Rente"
    )
    document = voucher_document(3, NewVoucher(accounting_year="2026", finance_vouchers=(entry,)))
    assert b'"amount":1.15' in encode(document)


def test_a_voucher_in_an_unknown_currency_is_never_built() -> None:
    with pytest.raises(UnknownCurrency):
        voucher_document(3, payment(100, "XXX"))


async def test_awkward_invoices_from_the_simulator(
    economic_sandbox: EconomicSandbox, make_client: ClientFactory, http: aiohttp.ClientSession
) -> None:
    sb = economic_sandbox
    async with http.post(
        f"{sb.url}/_sandbox/invoices",
        json=[
            {"customer_number": 1, "lines": [{"description": "a", "unit_price": 815.99}]},
            {
                "customer_number": 1,
                "lines": [{"description": "b", "unit_price": 0.07, "vat_rate": 0}],
            },
        ],
    ) as r:
        first, second = [i["bookedInvoiceNumber"] for i in await r.json()]
    async with http.post(
        f"{sb.url}/_sandbox/invoices/{first}/credit-note", json={"amount": 19.99}
    ) as r:
        note = (await r.json())["bookedInvoiceNumber"]
    client = make_client()
    a, b, c = [await client.invoice(n) for n in (first, second, note)]
    assert (a.net_amount, a.vat_amount, a.gross_amount) == tuple(
        map(Decimal, ("815.99", "204.00", "1019.99"))
    )
    assert a.remainder == Decimal("1000.00")
    assert (b.gross_amount, b.remainder) == (Decimal("0.07"), Decimal("0.07"))
    assert (c.gross_amount, c.remainder, c.remainder_in_base_currency) == (
        Decimal("-19.99"),
        0,
        0,
    )
    assert c.lines[0].total_net_amount == Decimal("-19.99")
    assert [to_minor(x.gross_amount, x.currency) for x in (a, b, c)] == [101999, 7, -1999]


async def isk_invoice(http: aiohttp.ClientSession, url: str, customer: int) -> dict[str, Any]:
    """An invoice in ISK: 1019 kr. + 25 % VAT (254.75, rounded half-even to 255) = 1274 kr."""
    async with http.post(
        f"{url}/_sandbox/invoices",
        json={
            "customer_number": customer,
            "currency": "ISK",
            "lines": [{"description": "Ráðgjöf", "quantity": 1, "unit_price": 1019}],
        },
    ) as r:
        assert r.status == 201
        return dict(await r.json())


async def test_an_isk_invoice_comes_back_exact_through_the_client(
    economic_sandbox: EconomicSandbox, make_client: ClientFactory, http: aiohttp.ClientSession
) -> None:
    sb = economic_sandbox
    async with http.put(
        f"{sb.url}/_sandbox/customers/20",
        json={
            "name": "Norðurljós ehf.",
            "currency": "ISK",
            "paymentTerms": {"paymentTermsNumber": 1},
            "customerGroup": {"customerGroupNumber": 2},
            "vatZone": {"vatZoneNumber": 3},
        },
    ) as r:
        assert r.status == 200
    number = (await isk_invoice(http, sb.url, 20))["bookedInvoiceNumber"]
    async with http.get(f"{sb.url}/invoices/booked/{number}", headers=sb.headers(sb.grant())) as r:
        raw = await r.read()
    # On the wire: no decimals for ISK, two (the base currency's, DKK) for base amounts.
    assert b'"grossAmount":1274,' in raw and b'"unitNetPrice":1019,' in raw
    assert b'"grossAmountInBaseCurrency":63.06,' in raw  # 1274 x 4.95 / 100 = 63.063

    client = make_client()
    invoice = await client.invoice(number)
    assert invoice.currency == "ISK" and invoice.exchange_rate == Decimal("4.95")
    assert (invoice.net_amount, invoice.vat_amount, invoice.gross_amount) == (1019, 255, 1274)
    assert invoice.remainder == Decimal(1274)
    assert invoice.gross_amount_in_base_currency == Decimal("63.06")
    assert invoice.remainder_in_base_currency == Decimal("63.06")
    assert [(x.unit_net_price, x.total_net_amount) for x in invoice.lines] == [(1019, 1019)]
    assert to_minor(invoice.gross_amount, invoice.currency) == 1274
    assert to_minor(invoice.gross_amount_in_base_currency, "DKK") == 6306
    customer = await client.customer(20)
    assert (customer.currency, customer.balance) == ("ISK", Decimal(1274))
    assert (await client.overdue_totals()).gross_remainder_in_base_currency == sum(
        [i.remainder_in_base_currency async for i in client.invoices("overdue")], Decimal(0)
    )


async def test_an_isk_payment_books_in_whole_kronur(
    economic_sandbox: EconomicSandbox, make_client: ClientFactory, http: aiohttp.ClientSession
) -> None:
    sb = economic_sandbox
    invoice = await isk_invoice(http, sb.url, 1)
    client = make_client()
    voucher = NewVoucher(
        accounting_year="2026",
        customer_payments=(
            CustomerPayment(
                customer_number=1,
                invoice_number=invoice["bookedInvoiceNumber"],
                amount=1000,
                currency="ISK",
                date=dt.date(2026, 11, 20),
                text="Greiðsla",
            ),
        ),
    )
    await client.post_voucher(3, voucher, idempotency_key="isk-payment-1")
    await client.book_journal(3, idempotency_key="isk-book-1")
    assert (await client.invoice(invoice["bookedInvoiceNumber"])).remainder == Decimal(274)


async def test_the_simulator_refuses_an_unknown_currency(
    economic_sandbox: EconomicSandbox, http: aiohttp.ClientSession
) -> None:
    async with http.post(
        f"{economic_sandbox.url}/_sandbox/invoices",
        json={"customer_number": 1, "currency": "XXX", "lines": [{"unit_price": 10}]},
    ) as r:
        assert r.status == 400
        body = await r.json()
    assert set(body) == {"message", "developerHint", "logId", "httpStatusCode", "errors"}
    assert body["httpStatusCode"] == 400 and "currency" in body["errors"]
    before = len(economic_sandbox.state.companies[economic_sandbox.agreement()].invoices)
    assert before == 50  # nothing was booked
