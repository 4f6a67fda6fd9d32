"""Money at the client boundary: decimals → minor units, property-tested against Decimal."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal

import aiohttp
from hypothesis import given
from hypothesis import strategies as st

from sync.clients.economic import voucher_document
from sync.clients.economic_types import BookedInvoice, CustomerPayment, NewVoucher
from sync.clients.economic_wire import decimal_to_minor, decode, encode, minor_to_decimal
from tests.fixtures.economic import EconomicSandbox
from tests.integration.economic.conftest import ClientFactory

cents = st.integers(min_value=-(10**13), max_value=10**13)
decimals = st.decimals(
    min_value=Decimal("-1e11"),
    max_value=Decimal("1e11"),
    places=4,
    allow_nan=False,
    allow_infinity=False,
)


@given(cents)
def test_minor_units_round_trip_through_json(minor: int) -> None:
    text = encode({"grossAmount": minor_to_decimal(minor)})
    assert b"e" not in text.lower() and b'"' not in text.split(b":")[1]  # a plain JSON number
    doc = decode(
        b'{"bookedInvoiceNumber":1,"date":"2026-01-01","currency":"DKK",'
        b'"customer":{"customerNumber":1},' + text[1:],
        BookedInvoice,
    )
    assert doc.gross_amount == minor


@given(decimals)
def test_decimals_round_half_even_like_decimal(amount: Decimal) -> None:
    expected = int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    assert decimal_to_minor(amount) == expected
    body = b'{"remainder": ' + str(amount).encode() + b"}"
    assert decode(body, dict)["remainder"] == expected


def test_awkward_amounts() -> None:
    assert decimal_to_minor(Decimal("1019.99")) == 101999
    assert decimal_to_minor(Decimal("0.07")) == 7
    assert decimal_to_minor(Decimal("-0.07")) == -7
    assert decimal_to_minor(Decimal("0.125")) == 12 and decimal_to_minor(Decimal("0.135")) == 14
    assert decimal_to_minor(Decimal("1E+2")) == 10000
    assert str(minor_to_decimal(7)) == "0.07" and str(minor_to_decimal(-101999)) == "-1019.99"


def test_voucher_amounts_are_exact_json_numbers() -> None:
    voucher = NewVoucher(
        accounting_year="2026",
        customer_payments=(
            CustomerPayment(
                customer_number=1,
                invoice_number=2,
                amount=101999,
                currency="DKK",
                date=dt.date(2026, 1, 1),
                text="x",
            ),
        ),
    )
    assert b'"amount":1019.99' in encode(voucher_document(3, voucher))


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
    assert (a.net_amount, a.vat_amount, a.gross_amount) == (81599, 20400, 101999)
    assert a.remainder == 101999 - 1999
    assert (b.gross_amount, b.remainder) == (7, 7)
    assert (c.gross_amount, c.remainder, c.remainder_in_base_currency) == (-1999, 0, 0)
    assert c.lines[0].total_net_amount == -1999
