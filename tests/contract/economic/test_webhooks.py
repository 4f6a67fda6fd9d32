"""Outgoing webhooks: legacy URLs with placeholders, bursts, retries, drops; the Webhooks API."""

from __future__ import annotations

import json

import aiohttp

from tests.fixtures.economic import EconomicSandbox
from tests.fixtures.receiver import webhook_receiver

PREFIX = "/webhooksapi/v1.0.0"


async def register(
    http: aiohttp.ClientSession, agreement: int, topic: str, url: str, method: str = "POST"
) -> None:
    body = {"agreement": agreement, "topic": topic, "url": url, "method": method}
    async with http.post("/_sandbox/legacy-webhooks", json=body) as r:
        assert r.status == 201


async def test_placeholders_are_filled(economic_sandbox: EconomicSandbox) -> None:
    sb = economic_sandbox
    agreement = sb.agreement()
    async with webhook_receiver(status=204) as hook, sb.session(sb.grant()) as http:
        base = f"{hook.url}/hooks/secret"
        await register(http, agreement, "invoice", f"{base}/invoice?number=[INVOICENO]")
        await register(
            http, agreement, "customer", f"{base}/customer?new=[NEWNUMBER]&old=[OLDNUMBER]", "GET"
        )
        await register(
            http,
            agreement,
            "daybook",
            f"{base}/daybook?daybook=[DAYBOOKNO]&from=[FROMSERIALNO]&to=[TOSERIALNO]",
        )
        async with http.post(
            "/_sandbox/invoices",
            json={
                "agreement": agreement,
                "customer_number": 2,
                "currency": "DKK",
                "date": "2026-11-23",
                "due_date": "2026-12-07",
                "lines": [
                    {
                        "description": "Rådgivning",
                        "quantity": 2,
                        "unit_price": 509.995,
                        "vat_rate": 25,
                    }
                ],
            },
        ) as r:
            invoice = await r.json()
        number = invoice["bookedInvoiceNumber"]
        received = await hook.next()
        assert received.method == "POST" and received.path == "/hooks/secret/invoice"
        assert received.query == {"number": str(number)} and received.body == b""
        async with http.put(
            "/_sandbox/customers/5", json={"agreement": agreement, "city": "Vejle"}
        ):
            pass
        received = await hook.next()
        assert received.method == "GET" and received.query == {"new": "5", "old": "5"}
        async with http.post(
            f"/_sandbox/invoices/{number}/payments", json={"agreement": agreement, "amount": 100}
        ) as r:
            assert (await r.json())["remainder"] == invoice["grossAmount"] - 100
        received = await hook.next()
        assert received.path.endswith("/daybook") and received.query["daybook"] == "1"
        assert received.query["from"] == received.query["to"]
        async with http.post(
            f"/_sandbox/invoices/{number}/credit-note",
            json={"agreement": agreement, "amount": 50.5},
        ) as r:
            note = await r.json()
        assert note["grossAmount"] == -50.5 and note["remainder"] == 0
        received = await hook.next()
        assert received.query == {"number": str(note["bookedInvoiceNumber"])}
        async with http.get(f"/invoices/booked/{number}") as r:
            assert (await r.json())["remainder"] == round(invoice["grossAmount"] - 150.5, 2)
        assert "signature" not in {k.lower() for k in received.headers}


async def test_bulk_import_is_a_burst_of_one_request_per_record(
    economic_sandbox: EconomicSandbox,
) -> None:
    sb = economic_sandbox
    agreement = sb.agreement()
    async with webhook_receiver(status=204) as hook, sb.session(sb.grant()) as http:
        await register(http, agreement, "invoice", f"{hook.url}/i/[INVOICENO]")
        specs = [
            {
                "agreement": agreement,
                "customer_number": 1 + n % 8,
                "lines": [{"description": f"Vare {n}", "quantity": 1, "unit_price": 10 + n}],
            }
            for n in range(60)
        ]
        async with http.post("/_sandbox/invoices", json=specs) as r:
            numbers = {str(i["bookedInvoiceNumber"]) for i in await r.json()}
        received = await hook.collect(60)
    assert {item.path.rsplit("/", 1)[1] for item in received} == numbers


async def test_failed_deliveries_are_retried(economic_sandbox: EconomicSandbox) -> None:
    sb = economic_sandbox
    agreement = sb.agreement()
    async with webhook_receiver([503] * 2, status=204) as hook, sb.session(sb.grant()) as http:
        await register(http, agreement, "customer", f"{hook.url}/c?n=[NEWNUMBER]")
        async with http.put("/_sandbox/customers/3", json={"zip": "8000"}):
            pass
        received = await hook.collect(3)
        await sb.dispatcher.idle()
    assert [r.query for r in received] == [{"n": "3"}] * 3
    attempts = [(d.attempt, d.status) for d in sb.dispatcher.deliveries]
    assert attempts == [(0, 503), (1, 503), (2, 204)]
    gaps = [
        (b.at - a.at).total_seconds()
        for a, b in zip(sb.dispatcher.deliveries, sb.dispatcher.deliveries[1:])
    ]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1  # the fixture's retry delays (0.05, 0.1)


async def test_gives_up_after_the_last_retry(economic_sandbox: EconomicSandbox) -> None:
    sb = economic_sandbox
    async with webhook_receiver([503] * 99, status=204) as hook, sb.session(sb.grant()) as http:
        await register(http, sb.agreement(), "customer", f"{hook.url}/c")
        async with http.put("/_sandbox/customers/3", json={"zip": "8000"}):
            pass
        await sb.dispatcher.idle()
    assert len(hook.received) == 3  # first try + two retries


async def test_dropped_webhooks(economic_sandbox: EconomicSandbox) -> None:
    sb = economic_sandbox
    async with webhook_receiver(status=204) as hook, sb.session(sb.grant()) as http:
        await register(http, sb.agreement(), "customer", f"{hook.url}/c/[NEWNUMBER]")
        async with http.post("/_sandbox/faults", json={"drop_webhooks_rate": 1.0}):
            pass
        async with http.put("/_sandbox/customers/3", json={"zip": "8000"}):
            pass
        await sb.dispatcher.idle()
        assert hook.received == []
        async with http.post("/_sandbox/faults", json={"drop_webhooks_rate": 0.5}):
            pass
        for n in range(40):
            async with http.put(f"/_sandbox/customers/{1 + n % 8}", json={"zip": "8000"}):
                pass
        await sb.dispatcher.idle()
        assert 5 < len(hook.received) < 35
        dropped = [d for d in sb.dispatcher.deliveries if d.status == -1]
        assert len(dropped) + len(hook.received) == 41


CONTRACT_EVENT_TYPES = {
    "INVOICE_BOOKED",
    "CUSTOMER_CREATED",
    "CUSTOMER_UPDATED",
    "CUSTOMER_DELETED",
    "DAYBOOK_BOOKED",
}


async def test_event_types_are_the_contracts(economic_sandbox: EconomicSandbox) -> None:
    sb = economic_sandbox
    async with sb.session(sb.grant()) as http:
        async with http.get(f"{PREFIX}/EventTypes") as r:
            listed = await r.json()
        assert {t["eventType"] for t in listed} == CONTRACT_EVENT_TYPES
        assert all(t["description"] for t in listed)
        placeholders = {t["eventType"]: t["placeholders"] for t in listed}
        assert placeholders["INVOICE_BOOKED"] == ["[INVOICENO]"]
        assert placeholders["DAYBOOK_BOOKED"] == ["[DAYBOOKNO]", "[FROMSERIALNO]", "[TOSERIALNO]"]
        for old_name in ("invoice.booked", "customer.updated", "journal.booked"):
            sub = {"eventType": old_name, "name": "cb", "url": "http://127.0.0.1:9/h"}
            async with http.post(f"{PREFIX}/webhooks", json=sub) as r:
                assert r.status == 400


async def test_webhooks_api_fills_the_placeholders_of_every_event_type(
    economic_sandbox: EconomicSandbox,
) -> None:
    """Each event type reaches its own subscription, with the legacy placeholders filled in."""
    sb = economic_sandbox
    agreement = sb.agreement()
    urls = {
        "INVOICE_BOOKED": "/invoice?number=[INVOICENO]",
        "CUSTOMER_CREATED": "/created?new=[NEWNUMBER]&old=[OLDNUMBER]",
        "CUSTOMER_UPDATED": "/updated?new=[NEWNUMBER]&old=[OLDNUMBER]",
        "CUSTOMER_DELETED": "/deleted?new=[NEWNUMBER]&old=[OLDNUMBER]",
        "DAYBOOK_BOOKED": "/daybook?daybook=[DAYBOOKNO]&from=[FROMSERIALNO]&to=[TOSERIALNO]",
    }
    async with webhook_receiver(status=204) as hook, sb.session(sb.grant()) as http:
        for event_type, path in urls.items():
            sub = {"eventType": event_type, "name": "cb", "url": f"{hook.url}{path}"}
            async with http.post(f"{PREFIX}/webhooks", json=sub) as r:
                assert r.status == 201, await r.text()
        async with http.get("/customers/1") as r:
            template = await r.json()
        keys = ("currency", "paymentTerms", "customerGroup", "vatZone")
        body = {"agreement": agreement, "name": "Ny Kunde ApS"} | {k: template[k] for k in keys}
        async with http.put("/_sandbox/customers/99002", json=body) as r:
            assert r.status == 200
        created = await hook.next()
        assert created.path == "/created" and created.query == {"new": "99002", "old": "99002"}
        async with http.put("/_sandbox/customers/99002", json={"city": "Vejle"}) as r:
            assert r.status == 200
        assert (await hook.next()).path == "/updated"
        async with http.delete(f"/_sandbox/customers/99002?agreement={agreement}") as r:
            assert r.status == 204
        assert (await hook.next()).path == "/deleted"
        async with http.post(
            "/_sandbox/invoices",
            json={
                "agreement": agreement,
                "customer_number": 2,
                "lines": [{"description": "Rådgivning", "quantity": 1, "unit_price": 100}],
            },
        ) as r:
            number = (await r.json())["bookedInvoiceNumber"]
        booked = await hook.next()
        assert booked.path == "/invoice" and booked.query == {"number": str(number)}
        assert json.loads(booked.body)["eventType"] == "INVOICE_BOOKED"
        async with http.post(
            f"/_sandbox/invoices/{number}/payments", json={"agreement": agreement, "amount": 10}
        ):
            pass
        daybook = await hook.next()
        assert daybook.path == "/daybook" and daybook.query["daybook"] == "1"
        assert daybook.query["from"] == daybook.query["to"] != "[FROMSERIALNO]"
        assert json.loads(daybook.body)["eventType"] == "DAYBOOK_BOOKED"


async def test_webhooks_api_crud_conflict_and_delivery(economic_sandbox: EconomicSandbox) -> None:
    sb = economic_sandbox
    prefix = PREFIX
    async with webhook_receiver(status=204) as hook, sb.session(sb.grant()) as http:
        async with http.get(f"{prefix}/EventTypes") as r:
            types = {t["eventType"] for t in await r.json()}
        assert {"INVOICE_BOOKED", "CUSTOMER_UPDATED", "DAYBOOK_BOOKED"} <= types
        sub = {
            "eventType": "CUSTOMER_UPDATED",
            "name": "collectbridge",
            "url": f"{hook.url}/api",
            "contentType": "application/json",
            "headers": [{"name": "X-Key", "value": "s3cret"}],
        }
        async with http.post(f"{prefix}/webhooks", json=sub) as r:
            assert r.status == 201
            created = await r.json()
        async with http.post(f"{prefix}/webhooks", json=sub) as r:
            assert r.status == 409
        async with http.post(
            f"{prefix}/webhooks", json=sub | {"headers": [{"name": "a", "value": "b"}] * 6}
        ) as r:
            assert r.status == 400
        async with http.get(f"{prefix}/webhooks/{created['id']}") as r:
            assert (await r.json())["url"] == f"{hook.url}/api"
        async with http.put("/_sandbox/customers/6", json={"city": "Odense C"}):
            pass
        received = await hook.next()
        assert received.headers["X-Key"] == "s3cret"
        payload = json.loads(received.body)
        assert payload["eventType"] == "CUSTOMER_UPDATED"
        assert (
            payload["data"]["customerNumber"] == 6 and payload["agreementNumber"] == sb.agreement()
        )
        async with http.put(
            f"{prefix}/webhooks/{created['id']}", json=sub | {"name": "renamed"}
        ) as r:
            assert (await r.json())["name"] == "renamed"
        async with http.delete(f"{prefix}/webhooks/{created['id']}") as r:
            assert r.status == 204
        async with http.get(f"{prefix}/webhooks") as r:
            assert await r.json() == []
        async with http.delete(f"{prefix}/webhooks/{created['id']}") as r:
            assert r.status == 404


async def test_deleting_a_customer_fires_its_webhook(economic_sandbox: EconomicSandbox) -> None:
    sb = economic_sandbox
    agreement = sb.agreement()
    async with webhook_receiver(status=204) as hook, sb.session(sb.grant()) as http:
        await register(http, agreement, "customer", f"{hook.url}/c?old=[OLDNUMBER]")
        async with http.get("/customers/1") as r:
            template = await r.json()
        keys = ("currency", "paymentTerms", "customerGroup", "vatZone")
        body = {"agreement": agreement, "name": "Ny Kunde ApS"} | {k: template[k] for k in keys}
        async with http.put("/_sandbox/customers/99001", json=body) as r:
            assert r.status == 200
        assert (await hook.next()).query == {"old": "99001"}
        async with http.delete(f"/_sandbox/customers/99001?agreement={agreement}") as r:
            assert r.status == 204
        assert (await hook.next()).query == {"old": "99001"}
        async with http.get("/customers/99001") as r:
            assert r.status == 404
        async with http.get("/invoices/booked?pagesize=1") as r:
            first = (await r.json())["collection"][0]
        with_invoices = first["customer"]["customerNumber"]
        async with http.delete(f"/_sandbox/customers/{with_invoices}") as r:
            assert r.status == 400
        async with http.get(f"/customers/{with_invoices}") as r:
            assert r.status == 200
        await sb.dispatcher.idle()
    assert len(hook.received) == 2  # created and deleted; the refused delete fired nothing
