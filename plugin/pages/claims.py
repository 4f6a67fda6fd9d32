"""A company's claims: the list, the journey of one invoice, the actions people take on it, and
the approvals queue.

    GET  /settings/{agreement}/claims?state=&q=&cursor=   guest: filtered by state, searched by
                                                          invoice or customer number
    GET  /settings/{agreement}/claims/{invoice}           guest: the journey of one invoice
    POST /settings/{agreement}/claims/{invoice}/{action}  approve, withdraw (admin); propose,
                                                          hold, release, dispute, undispute
                                                          (caseworker)
    GET  /settings/{agreement}/approvals                  guest: claims awaiting approval
    POST /settings/{agreement}/approvals                  admin: approve the ticked ones

Actions go through the same functions as ``/api/v1`` (`plugin.api.claims`), so the states an
action is allowed in, the policy's verdict, the compare-and-set and the audit log are the
API's; a refusal is shown on the page with the API's reason.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, get_args

from aiohttp import web

from plugin.api.claims import WITHDRAW_REASONS, act_on_claim, approve_claim, withdraw
from plugin.api.debtors import erase
from plugin.api.errors import ApiError
from plugin.api.paging import decode_cursor, encode_cursor
from plugin.api.values import path_number
from plugin.api.writeoffs import approve_writeoff, writeoff_view
from plugin.keys import DATABASE
from plugin.pages.accounts import local_path
from plugin.pages.guard import Pages, Visitor, render
from plugin.pages.texts import TEXTS, translator
from plugin.roles import allows
from sync import schedules
from sync.policy import ACTIONS, Action
from sync.store.claims import Claims, ClaimState, StoredClaim
from sync.store.inbox import Timeline, TimelineEntry
from sync.store.journeys import HandoverJob, Journeys, OwnPayment
from sync.store.writeoffs import WriteOffs

PAGE_SIZE = 100
APPROVALS_SHOWN = 100  # the oldest invoice numbers first; approving them shows the next ones
STATES: tuple[ClaimState, ...] = get_args(ClaimState)
NEEDS: dict[Action, str] = {
    "approve": "admin",
    "withdraw": "admin",
    "propose": "caseworker",
    "hold": "caseworker",
    "release": "caseworker",
    "dispute": "caseworker",
    "undispute": "caseworker",
}


async def claims_list(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    db, installation = request.app[DATABASE], visitor.installation
    state_text = request.query.get("state", "")
    state = state_text if state_text in STATES else None
    query = request.query.get("q", "").strip()
    more = False
    if query:
        found = (
            await Journeys(db).matching(installation.id, int(query))
            if query.isascii() and query.isdigit() and len(query) <= 18
            else []
        )
        shown = [c for c in found if state is None or c.state == state]
    else:
        after = decode_cursor(request.query.get("cursor", "")) if request.query.get("cursor") else 0
        page = await Claims(db).after(
            installation.id, after=after or 0, limit=PAGE_SIZE + 1, state=state
        )
        more, shown = len(page) > PAGE_SIZE, page[:PAGE_SIZE]
    return await render(
        request,
        visitor,
        "claims.html",
        {
            "claims": shown,
            "states": STATES,
            "state": state or "",
            "query": query,
            "next_cursor": encode_cursor(shown[-1].invoice_number) if more else None,
        },
    )


async def journey(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    db, installation = request.app[DATABASE], visitor.installation
    number = _invoice(request)
    claim = await Claims(db).get(installation.id, number) if number is not None else None
    if claim is None or number is None:
        raise web.HTTPNotFound()
    journeys = Journeys(db)
    key = schedules.handover(
        installation.id, installation.agreement_number, number, reason="approved"
    ).dedupe_key
    assert key is not None
    steps = journey_of(
        claim,
        audit=[(e.at, e.action, e.actor) for e in await journeys.audit(installation.id, number)],
        handovers=await journeys.handovers(installation.id, key),
        timeline=await Timeline(db).of_invoice(installation.id, number),
        payments=await journeys.payments(installation.id, number),
        language=visitor.language,
    )
    return await render(
        request,
        visitor,
        "journey.html",
        {
            "claim": claim,
            "steps": steps,
            "actions": offered(claim, visitor),
            "is_admin": allows(visitor.role, "admin"),
            "erased": request.query.get("erased") == "1",
        },
    )


def _invoice(request: web.Request) -> int | None:
    return path_number(request.match_info["invoice"])


def offered(claim: StoredClaim, visitor: Visitor) -> list[Action]:
    """The actions this person may take on this claim now."""
    found: list[Action] = []
    for action, allowed in ACTIONS.items():
        if claim.state not in allowed or not allows(visitor.role, NEEDS[action]):  # type: ignore[arg-type]
            continue
        if action in ("dispute", "undispute") and claim.disputed == (action == "dispute"):
            continue
        if action in ("approve", "propose") and claim.kind == "credit_note":
            continue
        if action == "withdraw" and claim.state == "withdrawn":
            continue
        found.append(action)
    return found


def journey_of(
    claim: StoredClaim,
    *,
    audit: list[tuple[dt.datetime, str, str]],
    handovers: list[HandoverJob],
    timeline: list[TimelineEntry],
    payments: list[OwnPayment],
    language: str,
) -> list[dict[str, Any]]:
    """The steps of one invoice's journey, oldest first: each ``{at, title, detail}`` with
    ``at`` a moment (or a day, for the ledger's dates)."""
    t = translator("da" if language == "da" else "en")
    midnight = dt.time(0, tzinfo=dt.UTC)
    steps: list[dict[str, Any]] = [
        {"at": dt.datetime.combine(claim.due_date + dt.timedelta(days=1), midnight), "day": True,
         "title": t("j_overdue"), "detail": t("j_due", day=claim.due_date.isoformat())},
        {"at": claim.created_at, "title": t("j_synced"),
         "detail": t("j_in_account") if claim.pushed_fingerprint else t("j_not_in_account")},
    ]  # fmt: skip
    if claim.announced_on:
        steps.append({"at": dt.datetime.combine(claim.announced_on, midnight), "day": True,
                      "title": t("j_announced"),
                      "detail": t("j_handover_on", day=str(claim.handover_on or "–"))})  # fmt: skip
    for at, action, actor in audit:
        key = "j_" + action.replace(".", "_")
        steps.append({"at": at, "title": t(key) if key in TEXTS else action, "detail": actor})
    for job in handovers:
        if job.state == "succeeded" and job.finished_at:
            steps.append({"at": job.finished_at, "title": t("j_handed_over"), "detail": ""})
    for entry in timeline:
        steps.append({"at": entry.at, **_event(entry, claim.invoice_number, claim.currency, t)})
    for payment in payments:
        steps.append({"at": payment.sent_at or payment.created_at, "title": t("j_voucher"),
                      "detail": t("j_voucher_detail", journal=payment.journal_number,
                                  voucher=payment.voucher_number or "–"),
                      "amount": (payment.amount, claim.currency)})  # fmt: skip
        if payment.booked_at:
            steps.append({"at": payment.booked_at, "title": t("j_booked"), "detail": ""})
    return sorted(steps, key=lambda s: s["at"])


def _event(entry: TimelineEntry, invoice: int, currency: str, t: Any) -> dict[str, Any]:
    d = entry.detail
    match entry.kind:
        case "case_opened":
            return {"title": t("j_case_opened"), "detail": f"{entry.case_id} · {d.get('step', '')}"}
        case "step_changed":
            return {
                "title": t("j_step_changed"),
                "detail": f"{d.get('from_step')} → {d.get('to_step')}",
            }
        case "letter_sent":
            return {"title": t("j_letter_sent"), "detail": f"{d.get('kind')} · {d.get('channel')}"}
        case "payment_received":
            mine = [a for a in d.get("allocations", []) if a.get("invoice") == invoice]
            split = mine[0] if mine else {}
            return {
                "title": t("j_payment_" + str(d.get("source", "collector"))),
                "detail": d.get("payment_id", ""),
                "amount": (int(d.get("amount", 0)), str(d.get("currency", currency))),
                "split": [(t("j_" + part), int(split[part]), str(d.get("currency", currency)))
                          for part in ("principal", "interest", "fees") if split.get(part)],
            }  # fmt: skip
        case "case_closed":
            return {"title": t("j_case_closed"), "detail": t("j_reason_" + str(d.get("reason")))}
        case "claim_rejected":
            return {"title": t("j_rejected"), "detail": f"{d.get('code')}: {d.get('detail')}"}
    return {"title": entry.kind, "detail": ""}


async def act(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    action = request.match_info["action"]
    if action not in NEEDS:
        raise web.HTTPNotFound()
    member = visitor.company
    assert member is not None
    if not allows(visitor.role, NEEDS[action]):  # type: ignore[arg-type]
        t = translator(visitor.language)
        return await _refused(
            request, visitor, t("forbidden_role", role=t("role_" + NEEDS[action])), 403
        )
    try:
        if action == "approve":
            await approve_claim(request, member)
        elif action == "withdraw":
            reason = visitor.form.get("reason", "sent_in_error")
            if reason not in WITHDRAW_REASONS:
                raise web.HTTPUnprocessableEntity()
            await withdraw(request, member, reason)  # type: ignore[arg-type]
        else:
            await act_on_claim(request, member, action)
    except ApiError as exc:
        return await _refused(request, visitor, exc.detail, exc.status)
    agreement, invoice = visitor.installation.agreement_number, request.match_info["invoice"]
    raise web.HTTPSeeOther(f"/settings/{agreement}/claims/{invoice}?done={action}")


async def _refused(
    request: web.Request, visitor: Visitor, message: str, status: int
) -> web.Response:
    t = translator(visitor.language)
    return await render(
        request,
        visitor,
        "notice.html",
        {"title": t("refused_title"), "message": message},
        status=status,
    )


async def approvals(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    return await _approvals(request, visitor, results=None)


async def _approvals(
    request: web.Request,
    visitor: Visitor,
    *,
    results: list[tuple[str, str | None]] | None,
    status: int = 200,
) -> web.Response:
    """The queue: claims awaiting approval, and write-off proposals waiting for an admin."""
    db, member = request.app[DATABASE], visitor.company
    assert member is not None
    waiting = await Claims(db).after(
        visitor.installation.id, after=0, limit=APPROVALS_SHOWN + 1, state="awaiting_approval"
    )
    proposals = await WriteOffs(db).list(
        visitor.installation.id, state="pending", after=0, limit=100
    )
    return await render(
        request,
        visitor,
        "approvals.html",
        {
            "claims": waiting[:APPROVALS_SHOWN],
            "more": len(waiting) > APPROVALS_SHOWN,
            "writeoffs": [await writeoff_view(request, member, w) for w in proposals],
            "can_approve": allows(visitor.role, "admin"),
            "results": results,
        },
        status=status,
    )


async def approve_writeoff_page(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    """An admin approves a write-off proposal: booked by the push-back job it queues."""
    member = visitor.company
    assert member is not None
    try:
        await approve_writeoff(request, member)
    except ApiError as exc:
        return await _approvals(
            request, visitor, results=[(request.match_info["id"], exc.detail)], status=exc.status
        )
    raise web.HTTPSeeOther(
        f"/settings/{visitor.installation.agreement_number}/approvals?approved={request.match_info['id']}"
    )


async def approve_many(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    """Approve each ticked claim as ``POST …/approve`` would; one refusal stops no other."""
    member = visitor.company
    assert member is not None
    form = await request.post()
    results: list[tuple[str, str | None]] = []
    for value in form.getall("invoice", []):
        number = str(value)
        request.match_info["invoice"] = number  # as the API's route would have matched it
        try:
            await approve_claim(request, member)
            results.append((number, None))
        except ApiError as exc:
            results.append((number, exc.detail))
    return await _approvals(request, visitor, results=results)


async def erase_debtor_page(request: web.Request, visitor: Visitor) -> web.StreamResponse:
    """An admin erases a debtor's personal data on request (`plugin.api.debtors.erase`); the
    form must be confirmed, since it cannot be undone."""
    member = visitor.company
    assert member is not None
    if visitor.form.get("confirm") != "yes":
        t = translator(visitor.language)
        return await _refused(request, visitor, t("erase_unconfirmed"), 422)
    try:
        await erase(request, member)
    except ApiError as exc:
        return await _refused(request, visitor, exc.detail, exc.status)
    back = local_path(
        visitor.form.get("back"), f"/settings/{visitor.installation.agreement_number}/claims"
    )
    raise web.HTTPSeeOther(f"{back}?erased=1")


def add_pages(pages: Pages) -> None:
    pages.member("GET", "/settings/{agreement}/claims", claims_list, role="guest")
    pages.member("GET", "/settings/{agreement}/claims/{invoice}", journey, role="guest")
    pages.member("POST", "/settings/{agreement}/claims/{invoice}/{action}", act, role="caseworker")
    pages.member("GET", "/settings/{agreement}/approvals", approvals, role="guest")
    pages.member("POST", "/settings/{agreement}/approvals", approve_many, role="admin")
    pages.member(
        "POST", "/settings/{agreement}/write-offs/{id}/approve", approve_writeoff_page, role="admin"
    )
    pages.member(
        "POST",
        "/settings/{agreement}/debtors/{customer_number}/erase",
        erase_debtor_page,
        role="admin",
    )
