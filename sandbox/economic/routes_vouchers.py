"""Draft vouchers in a journal (``/journals/{n}/vouchers``) and the OpenAPI Journals booking
call (``/journalsapi/v16.0.1/journals/{n}/book``). ``POST`` vouchers always answers 201 with a
list of the created vouchers, whether one object or a list was sent."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from sandbox.economic.bodies import read_json
from sandbox.economic.errors import not_found
from sandbox.economic.gateway import COMPANY
from sandbox.economic.keys import DISPATCHER
from sandbox.economic.ledger import book_journal
from sandbox.economic.paging import envelope, page_of
from sandbox.economic.render import base_url, respond
from sandbox.economic.state import Company, Journal
from sandbox.economic.vouchers import check_voucher


def _journal(company: Company, raw: str) -> Journal:
    journal = company.journals.get(int(raw)) if raw.isdigit() else None
    if journal is None:
        raise not_found("Journal")
    return journal


def voucher_doc(voucher: dict[str, Any], base: str) -> dict[str, Any]:
    year = voucher["_year"]
    journal = voucher["journal"]["journalNumber"]
    number = voucher["voucherNumber"]
    return {
        "accountingYear": {"year": year.year, "self": f"{base}/accounting-years/{year.url_id}"},
        "journal": {"journalNumber": journal, "self": f"{base}/journals/{journal}"},
        "voucherNumber": number,
        "entries": voucher["entries"],
        "self": f"{base}/journals/{journal}/vouchers/{year.url_id}-{number}",
    }


async def post_vouchers(request: web.Request) -> web.Response:
    company = request[COMPANY]
    journal = _journal(company, request.match_info["number"])
    body = await read_json(request)
    items = body if isinstance(body, list) else [body]
    prefix: list[list[str | int]] = (
        [[i] for i in range(len(items))] if isinstance(body, list) else [[]]
    )
    checked = [check_voucher(company, journal, v, p) for v, p in zip(items, prefix, strict=True)]
    for voucher in checked:
        voucher["voucherNumber"] = company.next_voucher
        company.next_voucher += 1
        journal.drafts.append(voucher)
    base = base_url(request)
    return respond([voucher_doc(v, base) for v in checked], status=201)


async def list_vouchers(request: web.Request) -> web.Response:
    journal = _journal(request[COMPANY], request.match_info["number"])
    base, page = base_url(request), page_of(request.query)
    docs = [voucher_doc(v, base) for v in journal.drafts]
    chosen = docs[page.skip * page.size : (page.skip + 1) * page.size]
    return respond(
        envelope(chosen, results=len(docs), without_filter=len(docs), page=page, url=request.url)
    )


async def book(request: web.Request) -> web.Response:
    company = request[COMPANY]
    journal = _journal(company, request.match_info["number"])
    if request.body_exists:
        await read_json(request)
    booked, events = book_journal(company, journal.number)
    request.app[DISPATCHER].fire(events)
    return respond(
        {
            "journalNumber": journal.number,
            "bookedVouchers": [
                {"voucherNumber": v["voucherNumber"], "accountingYear": v["accountingYear"]["year"]}
                for v in booked
            ],
        }
    )


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/journals/{number}/vouchers", post_vouchers)
    app.router.add_get("/journals/{number}/vouchers", list_vouchers)
    app.router.add_post("/journalsapi/v16.0.1/journals/{number}/book", book)
