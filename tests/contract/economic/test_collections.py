"""Collections over real HTTP: paging edges, filters, sorting and their 400s."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.fixtures.economic import EconomicSandbox


async def get(http: aiohttp.ClientSession, path: str, **params: Any) -> tuple[int, Any]:
    async with http.get(path, params={k: str(v) for k, v in params.items()}) as response:
        return response.status, await response.json()


async def test_default_page_and_envelope(economic_sandbox: EconomicSandbox) -> None:
    async with economic_sandbox.session(economic_sandbox.grant()) as http:
        status, body = await get(http, "/invoices/booked")
    assert status == 200
    assert set(body) == {"collection", "pagination", "self"}
    page = body["pagination"]
    assert len(body["collection"]) == 20
    assert page["skipPages"] == 0 and page["pageSize"] == 20
    assert page["results"] == page["resultsWithoutFilter"] == 50
    assert "skippages=0" in page["firstPage"] and "skippages=2" in page["lastPage"]
    assert "skippages=1" in page["nextPage"]
    assert page["firstPage"].startswith(economic_sandbox.url)


async def test_walk_pages_until_next_page_is_absent(economic_sandbox: EconomicSandbox) -> None:
    seen: list[int] = []
    async with economic_sandbox.session(economic_sandbox.grant()) as http:
        url: str | None = "/invoices/booked?pagesize=7"
        pages = 0
        while url:
            async with http.get(url) as response:
                body = await response.json()
            seen += [i["bookedInvoiceNumber"] for i in body["collection"]]
            url = body["pagination"].get("nextPage")
            pages += 1
    assert pages == 8  # 50 invoices, 7 per page
    assert seen == sorted(seen) and len(set(seen)) == 50


async def test_paging_edges(economic_sandbox: EconomicSandbox) -> None:
    async with economic_sandbox.session(economic_sandbox.grant()) as http:
        status, body = await get(http, "/invoices/booked", pagesize=1000)
        assert status == 200 and len(body["collection"]) == 50
        assert "nextPage" not in body["pagination"]
        status, body = await get(http, "/invoices/booked", pagesize=25, skippages=1)
        assert len(body["collection"]) == 25 and "nextPage" not in body["pagination"]
        status, body = await get(http, "/invoices/booked", pagesize=25, skippages=5)
        assert status == 200 and body["collection"] == []
        assert "nextPage" not in body["pagination"]
        status, body = await get(http, "/invoices/booked", pagesize=1001)
        assert status == 400 and body["httpStatusCode"] == 400
        assert set(body) >= {"message", "developerHint", "logId", "httpStatusCode", "errors"}
        status, _ = await get(http, "/invoices/booked", pagesize=0)
        assert status == 400
        status, _ = await get(http, "/invoices/booked", skippages=-1)
        assert status == 400
        status, body = await get(http, "/customers", filter="name$eq:nobody")
        assert body["collection"] == [] and body["pagination"]["results"] == 0
        assert "nextPage" not in body["pagination"]


async def test_non_filterable_field_is_400(economic_sandbox: EconomicSandbox) -> None:
    async with economic_sandbox.session(economic_sandbox.grant()) as http:
        for field in ("dueDate", "remainder"):
            status, body = await get(http, "/invoices/overdue", filter=f"{field}$lt:2026-01-01")
            assert status == 400
            assert body["errors"] == [f"Filtering is not allowed on property '{field}'."]


async def test_filters_on_invoices(economic_sandbox: EconomicSandbox) -> None:
    company = economic_sandbox.state.companies[economic_sandbox.agreement()]
    invoices = list(company.invoices.values())
    first = invoices[0]
    async with economic_sandbox.session(economic_sandbox.grant()) as http:
        _, body = await get(
            http,
            "/invoices/booked",
            pagesize=1000,
            filter=f"customer.customerNumber$eq:{first.customer}",
        )
        expected = [i.number for i in invoices if i.customer == first.customer]
        assert [i["bookedInvoiceNumber"] for i in body["collection"]] == expected
        assert body["pagination"]["resultsWithoutFilter"] == 50
        numbers = [invoices[3].number, invoices[9].number]
        _, body = await get(
            http, "/invoices/booked", filter=f"bookedInvoiceNumber$in:[{numbers[0]},{numbers[1]}]"
        )
        assert [i["bookedInvoiceNumber"] for i in body["collection"]] == numbers
        _, body = await get(
            http,
            "/invoices/booked",
            pagesize=1000,
            filter=f"bookedInvoiceNumber$nin:[{numbers[0]},{numbers[1]}]",
        )
        assert len(body["collection"]) == 48
        _, body = await get(
            http,
            "/invoices/booked",
            pagesize=1000,
            filter=f"date$gte:{invoices[10].date}$and:date$lte:{invoices[20].date}",
        )
        days = {i["date"] for i in body["collection"]}
        assert days and all(str(invoices[10].date) <= d <= str(invoices[20].date) for d in days)
        _, body = await get(http, "/invoices/booked", pagesize=1000, filter="grossAmount$lt:0")
        assert all(i["grossAmount"] < 0 for i in body["collection"])
        _, body = await get(
            http,
            "/invoices/booked",
            pagesize=1000,
            filter="(currency$eq:EUR$or:currency$eq:dkk)$and:grossAmount$gte:0",
        )
        assert len(body["collection"]) == sum(1 for i in invoices if i.gross >= 0)


async def test_like_eq_ne_and_escapes_on_customers(economic_sandbox: EconomicSandbox) -> None:
    sb = economic_sandbox
    async with sb.session(sb.grant()) as http:
        async with http.put("/_sandbox/customers/1", json={"name": "Smith (DK) & Co*, [1]"}) as r:
            assert r.status == 200
        _, body = await get(http, "/customers", filter="name$eq:smith $(dk$) & co$*$, $[1$]")
        assert [c["customerNumber"] for c in body["collection"]] == [1]
        _, body = await get(http, "/customers", filter="name$like:$(DK$)")
        assert [c["customerNumber"] for c in body["collection"]] == [1]
        _, body = await get(http, "/customers", filter="name$like:smith*$[1$]")
        assert [c["customerNumber"] for c in body["collection"]] == [1]
        _, body = await get(http, "/customers", pagesize=1000, filter="customerNumber$ne:1")
        assert 1 not in [c["customerNumber"] for c in body["collection"]]
        _, body = await get(
            http,
            "/customers",
            filter="customerNumber$eq:1$or:customerNumber$eq:2$and:customerNumber$eq:3",
        )
        assert [c["customerNumber"] for c in body["collection"]] == [1]
        _, body = await get(
            http,
            "/customers",
            filter="(customerNumber$eq:1$or:customerNumber$eq:2)$and:customerNumber$gt:1",
        )
        assert [c["customerNumber"] for c in body["collection"]] == [2]
        status, body = await get(http, "/customers", filter="balance$gt:0")
        assert status == 400 and body["errors"] == [
            "Filtering is not allowed on property 'balance'."
        ]
        status, body = await get(http, "/customers", filter="name$in:[1]")
        assert status == 400 and isinstance(body["errors"], list)


async def test_sorting(economic_sandbox: EconomicSandbox) -> None:
    async with economic_sandbox.session(economic_sandbox.grant()) as http:
        _, body = await get(http, "/invoices/booked", pagesize=1000, sort="-grossAmount")
        amounts = [i["grossAmount"] for i in body["collection"]]
        assert amounts == sorted(amounts, reverse=True)
        _, body = await get(
            http,
            "/invoices/booked",
            pagesize=1000,
            sort="customer.customerNumber,-bookedInvoiceNumber",
        )
        keys = [
            (i["customer"]["customerNumber"], -i["bookedInvoiceNumber"]) for i in body["collection"]
        ]
        assert keys == sorted(keys)
        _, body = await get(http, "/customers", sort="-customerNumber")
        assert body["collection"][0]["customerNumber"] == 8
        status, body = await get(http, "/invoices/booked", sort="dueDate")
        assert status == 400 and body["errors"] == ["Sorting is not allowed on property 'dueDate'."]


async def test_incremental_customer_sync_by_last_updated(economic_sandbox: EconomicSandbox) -> None:
    sb = economic_sandbox
    async with sb.session(sb.grant()) as http:
        async with http.put("/_sandbox/customers/3", json={"email": "ny@example.dk"}) as r:
            changed = (await r.json())["lastUpdated"]
        assert changed.endswith("Z")
        _, body = await get(http, "/customers", filter=f"lastUpdated$gte:{changed}")
        assert [c["customerNumber"] for c in body["collection"]] == [3]


async def test_invoice_collections_and_totals(economic_sandbox: EconomicSandbox) -> None:
    sb = economic_sandbox
    company = sb.state.companies[sb.agreement()]
    today = sb.clock.today()
    overdue = [i for i in company.invoices.values() if i.remainder > 0 and i.due_date < today]
    async with sb.session(sb.grant()) as http:
        _, body = await get(http, "/invoices/overdue", pagesize=1000)
        assert [i["bookedInvoiceNumber"] for i in body["collection"]] == [i.number for i in overdue]
        for doc in body["collection"]:
            assert doc["remainder"] > 0 and doc["dueDate"] < str(today)
            assert "lines" not in doc and doc["pdf"]["download"].endswith("/pdf")
        _, paid = await get(http, "/invoices/paid", pagesize=1000)
        assert all(
            i["remainder"] == 0 and "remainderInBaseCurrency" not in i for i in paid["collection"]
        )
        _, unpaid = await get(http, "/invoices/unpaid", pagesize=1000)
        assert unpaid["pagination"]["results"] + paid["pagination"]["results"] == 50
        _, totals = await get(http, "/invoices/totals/booked/unpaid/overdue")
        assert totals["invoiceCount"] == len(overdue)
        assert isinstance(totals["grossRemainderInBaseCurrency"], float)
        await sb.clock.advance(400)
        _, later = await get(http, "/invoices/totals/booked/unpaid/overdue")
        assert later["invoiceCount"] > totals["invoiceCount"]


async def test_reference_resources(economic_sandbox: EconomicSandbox) -> None:
    sb = economic_sandbox
    async with sb.session(sb.grant(1)) as http:
        _, me = await get(http, "/self")
        assert me["agreementNumber"] == sb.agreement(1)
        assert me["settings"]["baseCurrency"] == "DKK"
        assert me["application"]["appPublicToken"] == sb.app_public_token
        _, journals = await get(http, "/journals")
        by_number = {j["journalNumber"]: j for j in journals["collection"]}
        assert (
            by_number[2]["settings"]["contraAccounts"]["customerPayments"]["accountNumber"] == 5820
        )
        assert by_number[2]["settings"]["entryTypeRestrictedTo"] == "customerPayment"
        _, years = await get(http, "/accounting-years")
        broken = [y for y in years["collection"] if "/" in y["year"]]
        assert broken and broken[0]["self"].endswith(broken[0]["year"].replace("/", "_6_"))
        status, year = await get(http, f"/accounting-years/{broken[0]['year'].replace('/', '_6_')}")
        assert status == 200 and year["year"] == broken[0]["year"]
        for path in ("/accounts", "/payment-terms", "/vat-zones", "/customer-groups"):
            status, body = await get(http, path)
            assert status == 200 and body["collection"], path
        status, body = await get(http, "/accounts", filter="accountNumber$eq:5820")
        assert [a["name"] for a in body["collection"]] == ["Bank"]
        status, _ = await get(http, "/customers/99999")
        assert status == 404


async def test_booleans_only_when_true_and_no_nulls(economic_sandbox: EconomicSandbox) -> None:
    sb = economic_sandbox
    async with sb.session(sb.grant()) as http:
        async with http.put("/_sandbox/customers/2", json={"barred": True}) as r:
            assert (await r.json())["barred"] is True
        _, body = await get(http, "/customers", pagesize=1000)

    def walk(value: Any) -> None:
        assert value is not None and value is not False
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(body)
    flagged = [c["customerNumber"] for c in body["collection"] if c.get("barred")]
    assert 2 in flagged


async def test_reference_collections_filter_and_sort_by_their_keys(
    economic_sandbox: EconomicSandbox,
) -> None:
    async with economic_sandbox.session(economic_sandbox.grant()) as http:
        _, zones = await get(http, "/vat-zones", sort="-vatZoneNumber")
        assert [z["vatZoneNumber"] for z in zones["collection"]] == [4, 3, 2, 1]
        _, groups = await get(http, "/customer-groups", filter="customerGroupNumber$in:[2,4]")
        assert [g["customerGroupNumber"] for g in groups["collection"]] == [2, 4]
        _, terms = await get(http, "/payment-terms", filter="paymentTermsType$eq:net")
        assert all(t["paymentTermsType"] == "net" for t in terms["collection"])
