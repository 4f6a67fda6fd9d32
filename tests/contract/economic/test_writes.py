"""Writes: draft vouchers, idempotent replays, booking a journal, whole-document customer PUT."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from sandbox.economic.money import decode_json
from sandbox.economic.state import Invoice
from tests.fixtures.economic import EconomicSandbox


def open_invoice(sb: EconomicSandbox) -> Invoice:
    company = sb.state.companies[sb.agreement()]
    return next(i for i in company.invoices.values() if i.remainder > 20000 and i.currency == "DKK")


def payment(invoice: Invoice, amount: str, year: str = "2026") -> bytes:
    """A voucher body with an exact decimal amount (JSON number, not a float)."""
    body = {
        "accountingYear": {"year": year},
        "journal": {"journalNumber": 3},
        "entries": {
            "customerPayments": [
                {
                    "customer": {"customerNumber": invoice.customer},
                    "customerInvoice": invoice.number,
                    "amount": Decimal(amount),
                    "currency": {"code": "DKK"},
                    "date": "2026-11-20",
                    "contraAccount": {"accountNumber": 5830},
                    "text": f"Indbetaling faktura {invoice.number}",
                }
            ]
        },
    }
    return msgspec.json.Encoder(decimal_format="number").encode(body)


JSON = {"Content-Type": "application/json"}


async def test_voucher_draft_then_booking_lowers_remainder(
    economic_sandbox: EconomicSandbox,
) -> None:
    sb = economic_sandbox
    invoice = open_invoice(sb)
    before = invoice.remainder
    async with sb.session(sb.grant()) as http:
        async with http.post(
            "/journals/3/vouchers",
            data=payment(invoice, "100.07"),
            headers=JSON | {"Idempotency-Key": "pay-1"},
        ) as r:
            assert r.status == 201
            created = await r.json()
        assert isinstance(created, list) and created[0]["voucherNumber"] >= 1
        assert created[0]["entries"]["customerPayments"][0]["amount"] == 100.07
        assert invoice.remainder == before  # a draft changes nothing
        async with http.get("/journals/3/vouchers") as r:
            assert len((await r.json())["collection"]) == 1
        async with http.post("/journalsapi/v16.0.1/journals/3/book") as r:
            assert r.status == 200
            booked = await r.json()
        assert [v["voucherNumber"] for v in booked["bookedVouchers"]] == [
            created[0]["voucherNumber"]
        ]
        assert invoice.remainder == before - 10007
        async with http.get(f"/invoices/booked/{invoice.number}") as r:
            doc = decode_json(await r.read())
        assert doc["remainder"] == Decimal(before - 10007) / 100
        async with http.post("/journalsapi/v16.0.1/journals/3/book") as r:
            assert (await r.json())["bookedVouchers"] == []


async def test_idempotent_replay_returns_cached_answer(economic_sandbox: EconomicSandbox) -> None:
    sb = economic_sandbox
    invoice = open_invoice(sb)
    company = sb.state.companies[sb.agreement()]
    async with sb.session(sb.grant()) as http:
        headers = JSON | {"Idempotency-Key": "payment-42"}
        async with http.post(
            "/journals/3/vouchers", data=payment(invoice, "1.00"), headers=headers
        ) as r:
            first = await r.read()
            assert r.status == 201 and "X-ResultFromCache" not in r.headers
        async with http.post(
            "/journals/3/vouchers", data=payment(invoice, "1.00"), headers=headers
        ) as r:
            assert r.status == 201 and r.headers["X-ResultFromCache"] == "true"
            assert await r.read() == first
        assert len(company.journals[3].drafts) == 1
        async with http.post(
            "/journals/3/vouchers",
            data=payment(invoice, "1.00"),
            headers=JSON | {"Idempotency-Key": "payment-43"},
        ) as r:
            assert r.status == 201 and "X-ResultFromCache" not in r.headers
        assert len(company.journals[3].drafts) == 2
    async with sb.session(sb.grant(1)) as http:  # keys are per agreement
        other = sb.state.companies[sb.agreement(1)]
        inv = next(i for i in other.invoices.values() if i.remainder > 0 and i.currency == "DKK")
        async with http.post(
            "/journals/3/vouchers", data=payment(inv, "1.00", "2026/2027"), headers=headers
        ) as r:
            assert r.status == 201 and "X-ResultFromCache" not in r.headers


async def test_faulted_write_is_not_cached(economic_sandbox: EconomicSandbox) -> None:
    sb = economic_sandbox
    invoice = open_invoice(sb)
    async with sb.session(sb.grant()) as http:
        async with http.post("/_sandbox/faults", json={"status": 502, "rate": 1.0}):
            pass
        headers = JSON | {"Idempotency-Key": "k-502"}
        async with http.post(
            "/journals/3/vouchers", data=payment(invoice, "5.00"), headers=headers
        ) as r:
            assert r.status == 502
        async with http.post("/_sandbox/faults", json={}):
            pass
        async with http.post(
            "/journals/3/vouchers", data=payment(invoice, "5.00"), headers=headers
        ) as r:
            assert r.status == 201 and "X-ResultFromCache" not in r.headers


async def test_voucher_validation_mirrors_the_request(economic_sandbox: EconomicSandbox) -> None:
    sb = economic_sandbox
    invoice = open_invoice(sb)
    async with sb.session(sb.grant()) as http:
        bad: dict[str, Any] = msgspec.json.decode(payment(invoice, "1.00"))
        bad["entries"]["customerPayments"][0]["text"] = "x" * 251
        async with http.post("/journals/3/vouchers", json=bad) as r:
            body = await r.json()
            assert r.status == 400
        errors = body["errors"]["entries"]["customerPayments"]["0"]["text"]["errors"]
        assert errors[0]["propertyName"] == "text"
        bad["entries"]["customerPayments"][0]["text"] = "ok"
        bad["accountingYear"]["year"] = "1999"
        async with http.post("/journals/3/vouchers", json=bad) as r:
            assert r.status == 400 and "accountingYear" in (await r.json())["errors"]
        async with http.post(
            "/journals/2/vouchers",
            json={
                "accountingYear": {"year": "2026"},
                "entries": {
                    "financeVouchers": [
                        {"account": {"accountNumber": 1310}, "amount": 10, "date": "2026-11-20"}
                    ]
                },
            },
        ) as r:
            assert r.status == 400  # journal 2 takes customer payments only
        async with http.post("/journals/3/vouchers", json={"accountingYear": None}) as r:
            assert r.status == 400  # null is rejected
        async with http.post("/journals/99/vouchers", json={}) as r:
            assert r.status == 404


async def test_customer_put_takes_the_whole_document(economic_sandbox: EconomicSandbox) -> None:
    sb = economic_sandbox
    async with sb.session(sb.grant()) as http:
        async with http.get("/customers/4") as r:
            doc = await r.json()
        assert "barred" not in doc
        doc["barred"] = True
        async with http.put("/customers/4", json=doc) as r:
            assert r.status == 200
            assert (await r.json())["barred"] is True
        del doc["barred"]
        doc.pop("email", None)
        async with http.put("/customers/4", json=doc) as r:
            updated = await r.json()
        assert "barred" not in updated and "email" not in updated  # absent means cleared
        async with http.put("/customers/4", json={"name": "Only a name"}) as r:
            assert r.status == 400
            assert "currency" in (await r.json())["errors"]
        async with http.put("/customers/99999", json=doc) as r:
            assert r.status == 404
