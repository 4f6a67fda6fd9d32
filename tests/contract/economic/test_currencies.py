"""Currencies in the simulator: amounts by the ISO 4217 exponent, base amounts by the base's.

ISK has no decimals: the simulator renders ``1274``, not ``12.74`` nor ``1274.00``; its base
currency amounts (DKK) have two; an unknown currency is a 400 in e-conomic's error shape.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import aiohttp
import msgspec
import pytest
from pypdf import PdfReader

from sandbox.economic import money
from sandbox.economic.money import decode_json
from tests.fixtures.economic import EconomicSandbox, start_economic_sandbox

JSON = {"Content-Type": "application/json"}
ERROR_KEYS = {"message", "developerHint", "logId", "httpStatusCode", "errors"}


def test_exponents_and_rendering() -> None:
    assert all(money.exponent(c) == 2 for c in ("DKK", "EUR", "SEK", "NOK", "USD", "GBP"))
    assert money.exponent("ISK") == money.exponent("JPY") == 0
    assert str(money.to_decimal(1500, "ISK")) == "1500"
    assert str(money.to_decimal(101999, "DKK")) == "1019.99"
    assert str(money.to_decimal(0, "DKK")) == "0.00"
    with pytest.raises(money.UnknownCurrency):
        money.exponent("XXX")


def test_incoming_amounts_by_the_exponent() -> None:
    assert money.to_minor(Decimal("1019.99"), "DKK") == 101999
    assert money.to_minor(Decimal("1E+2"), "ISK") == 100
    assert money.to_minor(Decimal("1500.00"), "ISK") == 1500  # trailing zeros are no decimals
    with pytest.raises(ValueError, match="decimals"):
        money.to_minor(Decimal("0.5"), "ISK")
    with pytest.raises(ValueError, match="decimals"):
        money.to_minor(Decimal("0.001"), "DKK")
    assert money.round_to_minor(Decimal("509.995"), "DKK") == 51000
    assert money.round_to_minor(Decimal("2.5"), "ISK") == 2  # half-even
    assert money.round_to_minor(Decimal("3.5"), "ISK") == 4


def test_base_currency_amounts_round_to_the_base_unit() -> None:
    rate = money.exchange_rate("ISK", "DKK")
    assert rate == Decimal("4.95")
    assert money.scale(1274, rate, "ISK", "DKK") == 6306  # 63.063 DKK
    assert money.scale(-1274, rate, "ISK", "DKK") == -6306
    assert money.scale(10, money.exchange_rate("EUR", "DKK"), "EUR", "DKK") == 75  # 0.74593
    assert money.scale(100, Decimal(100), "DKK", "DKK") == 100
    # a DKK amount in ISK: 1000.00 DKK x 100 / 4.95 = 20202.02… kr. → 20202 kr.
    assert money.convert(100000, "DKK", "ISK") == 20202
    assert money.convert(20202, "ISK", "DKK") == 100000  # 999.999 → 1000.00
    assert money.exchange_rate("DKK", "EUR") == Decimal("13.406084")  # 10000 / 745.93


async def make_isk_customer(http: aiohttp.ClientSession, number: int = 30) -> None:
    async with http.put(
        f"/_sandbox/customers/{number}",
        json={
            "name": "Sólheimar Ráðgjöf ehf.",
            "currency": "ISK",
            "paymentTerms": {"paymentTermsNumber": 1},
            "customerGroup": {"customerGroupNumber": 2},
            "vatZone": {"vatZoneNumber": 3},
        },
    ) as r:
        assert r.status == 200


async def isk_invoice(http: aiohttp.ClientSession, **extra: Any) -> dict[str, Any]:
    async with http.post(
        "/_sandbox/invoices",
        json={
            "customer_number": 30,
            "lines": [
                {"description": "Ráðgjöf", "quantity": 1, "unit_price": 1019},
                {"description": "Ferð", "quantity": 0.5, "unit_price": 999},  # 499.5 → 500
            ],
        }
        | extra,
    ) as r:
        assert r.status == 201, await r.text()
        return dict(decode_json(await r.read()))


async def test_an_isk_invoice_is_served_without_decimals(
    economic_sandbox: EconomicSandbox,
) -> None:
    sb = economic_sandbox
    async with sb.session(sb.grant()) as http:
        await make_isk_customer(http)
        doc = await isk_invoice(http)
        assert doc["currency"] == "ISK" and doc["exchangeRate"] == Decimal("4.95")
        # net 1019 + 500 = 1519, VAT 25 % = 379.75 → 380, gross 1899
        assert (doc["netAmount"], doc["vatAmount"], doc["grossAmount"]) == (1519, 380, 1899)
        assert doc["remainder"] == 1899 and doc["roundingAmount"] == 0
        assert [x["totalNetAmount"] for x in doc["lines"]] == [1019, 500]
        assert doc["lines"][1]["quantity"] == Decimal("0.50")  # quantities keep two decimals
        # base currency amounts: 1899 x 4.95 / 100 = 94.0005 DKK → 94.00
        assert doc["grossAmountInBaseCurrency"] == Decimal("94.00")
        assert doc["remainderInBaseCurrency"] == Decimal("94.00")
        assert doc["netAmountInBaseCurrency"] == Decimal("75.19")  # 75.1905
        number = doc["bookedInvoiceNumber"]
        async with http.get(f"/invoices/booked/{number}") as r:
            raw = await r.read()
        assert b'"grossAmount":1899,' in raw and b'"grossAmountInBaseCurrency":94.00,' in raw
        async with http.get("/invoices/booked", params={"filter": "grossAmount$eq:1899"}) as r:
            found = (await r.json())["collection"]
        assert [i["bookedInvoiceNumber"] for i in found] == [number]
        async with http.get(
            "/invoices/booked", params={"filter": "grossAmountInBaseCurrency$eq:94"}
        ) as r:
            assert number in [i["bookedInvoiceNumber"] for i in (await r.json())["collection"]]
        async with http.get("/customers/30") as r:
            customer = decode_json(await r.read())
        assert (customer["balance"], customer["dueAmount"]) == (1899, 0)
        async with http.get(
            f"/invoices/booked/{number}", headers={"Accept": "application/pdf"}
        ) as r:
            text = PdfReader(io.BytesIO(await r.read())).pages[0].extract_text()
        assert "I alt ISK 1.899" in text and "Moms 380" in text and "0,50" in text


async def test_isk_payments_and_credit_notes_in_whole_kronur(
    economic_sandbox: EconomicSandbox,
) -> None:
    sb = economic_sandbox
    async with sb.session(sb.grant()) as http:
        await make_isk_customer(http)
        number = (await isk_invoice(http))["bookedInvoiceNumber"]
        async with http.post(f"/_sandbox/invoices/{number}/payments", json={"amount": 899}) as r:
            assert decode_json(await r.read())["remainder"] == 1000
        async with http.post(f"/_sandbox/invoices/{number}/credit-note", json={"amount": 400}) as r:
            note = decode_json(await r.read())
        assert (note["grossAmount"], note["remainder"]) == (-400, 0)
        assert note["grossAmountInBaseCurrency"] == Decimal("-19.80")
        async with http.get("/customers/30") as r:
            assert decode_json(await r.read())["balance"] == 600


def isk_payment(invoice: int, amount: str) -> bytes:
    body = {
        "accountingYear": {"year": "2026"},
        "entries": {
            "customerPayments": [
                {
                    "customer": {"customerNumber": 30},
                    "customerInvoice": invoice,
                    "amount": Decimal(amount),
                    "currency": {"code": "ISK"},
                    "date": "2026-11-20",
                }
            ]
        },
    }
    return msgspec.json.Encoder(decimal_format="number").encode(body)


async def test_vouchers_take_amounts_by_their_currencys_exponent(
    economic_sandbox: EconomicSandbox,
) -> None:
    sb = economic_sandbox
    async with sb.session(sb.grant()) as http:
        await make_isk_customer(http)
        number = (await isk_invoice(http))["bookedInvoiceNumber"]
        async with http.post(
            "/journals/3/vouchers", data=isk_payment(number, "99.5"), headers=JSON
        ) as r:
            assert r.status == 400
            errors = (await r.json())["errors"]
        entry = errors["entries"]["customerPayments"]["0"]
        assert "0 decimals" in entry["amount"]["errors"][0]["errorMessage"]
        async with http.post(
            "/journals/3/vouchers", data=isk_payment(number, "99"), headers=JSON
        ) as r:
            assert r.status == 201
            raw = await r.read()
        assert b'"amount":99,' in raw
        async with http.post("/journalsapi/v16.0.1/journals/3/book") as r:
            assert r.status == 200
        async with http.get(f"/invoices/booked/{number}") as r:
            assert decode_json(await r.read())["remainder"] == 1800


async def test_unknown_currencies_are_refused(economic_sandbox: EconomicSandbox) -> None:
    sb = economic_sandbox
    async with sb.session(sb.grant()) as http:
        async with http.post(
            "/_sandbox/invoices", json={"customer_number": 1, "currency": "XXX"}
        ) as r:
            assert r.status == 400
            body = await r.json()
        assert set(body) == ERROR_KEYS and "currency" in body["errors"]
        async with http.put("/_sandbox/customers/1", json={"currency": "BTC"}) as r:
            assert r.status == 400 and set(await r.json()) == ERROR_KEYS
        invoice = next(iter(sb.state.companies[sb.agreement()].invoices.values()))
        bad = isk_payment(invoice.number, "10").replace(b'"ISK"', b'"XXX"')
        async with http.post("/journals/3/vouchers", data=bad, headers=JSON) as r:
            assert r.status == 400
            errors = (await r.json())["errors"]
        assert "currency" in errors["entries"]["customerPayments"]["0"]


async def test_seeded_isk_invoices_have_whole_amounts() -> None:
    # seed 1, 400 invoices: the second company has Icelandic customers (12 ISK invoices)
    async with start_economic_sandbox(invoices=400) as sb, sb.session(sb.grant(1)) as http:
        async with http.get(
            "/invoices/booked", params={"filter": "currency$eq:ISK", "pagesize": "1000"}
        ) as r:
            invoices = decode_json(await r.read())["collection"]
    assert invoices
    for doc in invoices:
        assert all(isinstance(doc[k], int) for k in ("netAmount", "vatAmount", "grossAmount"))
        base = doc["grossAmountInBaseCurrency"]
        assert isinstance(base, Decimal) and base.as_tuple().exponent == -2
