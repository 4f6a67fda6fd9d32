"""A debtor's personal data (issue 13, item 5): ``/api/v1/installations/{agreement}/debtors/…``.

    GET  …/debtors/{customer_number}/export   admin   everything we hold about the customer (JSON)
    POST …/debtors/{customer_number}/erase    admin   their personal data erased, the money
                                                      trail kept pseudonymised

The export (`sync.store.debtors`) is the customer row, its claims with amounts, states and
documents, their timelines, the writes about it in the outbox (payment and write-off vouchers,
its barred flag), the write-off proposals of its cases, the problems about it, the list of the
invoice PDFs sent, and the erasures done. The erase is `sync.retention.erase_debtor`: documents
keep amounts, dates and references, descriptions and lines go, and so do the debtor document's
fingerprints and the texts of the problems about it; amounts, states and voucher references
stay, so the reconciliation report does not change. Both are written to the audit log with the
caller's e-mail; the entries name the debtor by its pseudonym only. A customer we hold nothing
about → 404, as does a number that cannot be one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from aiohttp import web

from plugin.api.auth import Member
from plugin.api.errors import NotFound
from plugin.api.registry import Api, number_in_path, reply
from plugin.keys import CLOCK, DATABASE, SETTINGS
from plugin.settings import Settings
from sync.crypto import derive_key
from sync.retention import erase_debtor, pseudonym
from sync.store.audit import AuditLog
from sync.store.debtors import CustomerRow, DebtorData, Debtors

MAX_CUSTOMER_DIGITS = 18
PSEUDONYM_PURPOSE = "collectbridge debtor pseudonym"

CUSTOMER = number_in_path("customer_number", "The customer's number in the ledger")


class DebtorClaim(msgspec.Struct, frozen=True, kw_only=True):
    invoice_number: int
    kind: str
    state: str
    currency: str
    gross_amount: int
    remaining: int
    remaining_base: int
    issued_on: dt.date
    due_date: dt.date
    disputed: bool
    held: bool
    announced_on: dt.date | None
    handover_on: dt.date | None
    case_id: str | None
    collection_id: str | None
    document: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime


class DebtorTimelineEntry(msgspec.Struct, frozen=True, kw_only=True):
    at: dt.datetime
    kind: str
    invoice_number: int | None
    case_id: str | None
    detail: dict[str, Any]


class DebtorWrite(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    platform: str
    operation: str
    idempotency_key: str
    state: str
    request: dict[str, Any]
    response: Any = None
    created_at: dt.datetime
    sent_at: dt.datetime | None = None


class DebtorWriteOff(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    case_id: str
    state: str
    payload: dict[str, Any]
    created_at: dt.datetime
    decided_at: dt.datetime | None = None


class DebtorProblem(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    category: str
    code: str
    subject: str
    message: str
    detail: dict[str, Any]
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime
    resolved_at: dt.datetime | None = None


class DebtorDocument(msgspec.Struct, frozen=True, kw_only=True):
    """An invoice PDF sent to the collection account with its claim (we keep no copy)."""

    invoice_number: int
    sent_at: dt.datetime


class Erasure(msgspec.Struct, frozen=True, kw_only=True):
    at: dt.datetime
    actor: str
    pseudonym: str


class DebtorExport(msgspec.Struct, frozen=True, kw_only=True):
    agreement_number: int
    customer_number: int
    exported_at: dt.datetime
    customer: CustomerRow | None
    claims: list[DebtorClaim]
    timeline: list[DebtorTimelineEntry]
    outbox: list[DebtorWrite]
    writeoffs: list[DebtorWriteOff]
    problems: list[DebtorProblem]
    documents: list[DebtorDocument]
    erasures: list[Erasure]


class DebtorErased(msgspec.Struct, frozen=True, kw_only=True):
    customer_number: int
    pseudonym: str
    claims: int
    """Claims whose documents were pseudonymised."""
    problems: int
    """Problems whose texts were erased."""
    erased_at: dt.datetime


def pseudonym_key(settings: Settings) -> bytes:
    """The key of debtor pseudonyms, derived from the first ``COLLECTBRIDGE_SECRET_KEY``."""
    secret = settings.secret_keys[0].reveal() if settings.secret_keys else ""
    return derive_key(secret, PSEUDONYM_PURPOSE)


def customer_number(text: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > MAX_CUSTOMER_DIGITS:
        raise NotFound("debtor_not_found", "no data held about that customer")
    return int(text)


def export_of(
    agreement: int, number: int, data: DebtorData, erasures: list[Erasure], now: dt.datetime
) -> DebtorExport:
    return DebtorExport(
        agreement_number=agreement,
        customer_number=number,
        exported_at=now,
        customer=data.customer,
        claims=[msgspec.convert(c, DebtorClaim, from_attributes=True) for c in data.claims],
        timeline=[
            msgspec.convert(e, DebtorTimelineEntry, from_attributes=True) for e in data.timeline
        ],
        outbox=[msgspec.convert(o, DebtorWrite, from_attributes=True) for o in data.outbox],
        writeoffs=[
            DebtorWriteOff(
                id=w.id,
                case_id=w.case_id,
                state=w.state,
                payload=w.payload,
                created_at=w.created_at,
                decided_at=w.decided_at,
            )
            for w in data.writeoffs
        ],
        problems=[msgspec.convert(p, DebtorProblem, from_attributes=True) for p in data.problems],
        documents=[
            DebtorDocument(invoice_number=c.invoice_number, sent_at=c.document_at)
            for c in data.claims
            if c.document_at is not None
        ],
        erasures=erasures,
    )


async def export_debtor(request: web.Request, member: Member) -> web.Response:
    number = customer_number(request.match_info["customer_number"])
    db, now = request.app[DATABASE], request.app[CLOCK]()
    installation = member.installation
    debtors = Debtors(db)
    data = await debtors.read(installation.id, installation.agreement_number, number)
    if not data:
        raise NotFound("debtor_not_found", "no data held about that customer")
    name = pseudonym(pseudonym_key(request.app[SETTINGS]), installation.agreement_number, number)
    erasures = [
        Erasure(at=e.at, actor=e.actor, pseudonym=name)
        for e in await debtors.erasures(installation.id, name)
    ]
    await AuditLog(db).record(
        installation_id=installation.id,
        actor=member.caller.user.email,
        action="debtor.exported",
        detail={"debtor": name},
        at=now,
    )
    body = export_of(installation.agreement_number, number, data, erasures, now)
    response = reply(body)
    filename = f"debtor-{installation.agreement_number}-{number}.json"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


async def erase(request: web.Request, member: Member) -> web.Response:
    number = customer_number(request.match_info["customer_number"])
    db, now = request.app[DATABASE], request.app[CLOCK]()
    installation = member.installation
    if not await Debtors(db).read(installation.id, installation.agreement_number, number):
        raise NotFound("debtor_not_found", "no data held about that customer")
    erased = await erase_debtor(
        db,
        installation,
        number,
        key=pseudonym_key(request.app[SETTINGS]),
        actor=member.caller.user.email,
        now=now,
    )
    return reply(
        DebtorErased(
            customer_number=number,
            pseudonym=erased.pseudonym,
            claims=erased.claims,
            problems=erased.problems,
            erased_at=now,
        )
    )


def add_routes(api: Api) -> None:
    api.member_route(
        "GET",
        "/installations/{agreement}/debtors/{customer_number}/export",
        export_debtor,
        role="admin",
        summary="Everything held about one debtor (the customer, its claims, timelines, writes, "
        "write-offs, problems and documents), as JSON",
        response=DebtorExport,
        params=(CUSTOMER,),
    )
    api.member_route(
        "POST",
        "/installations/{agreement}/debtors/{customer_number}/erase",
        erase,
        role="admin",
        summary="Erase one debtor's personal data; amounts, dates, states and voucher references "
        "stay (pseudonymised)",
        response=DebtorErased,
        params=(CUSTOMER,),
    )
