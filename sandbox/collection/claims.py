"""Claims: upserts (single and batch), the PDF document, handover, withdrawal and the
creditor's own payments and credit notes.

Choices where the contract is silent: a claim that is not yet due, a time-barred one (due more
than 3 years ago), or a credit note cannot be handed over (422). A debtor without any usable
channel gets ``claim.rejected`` and the handover answers 202 with ``case_id: null`` (the claim
stays ``monitoring``). Withdrawing a claim already withdrawn answers 200 again. A creditor
payment on a ``monitoring`` claim lowers its ``remaining_amount`` (and ``version``) and emits
nothing; on a claim in a case it is allocated within that claim (payments costs → interest →
principal, credit notes to principal only) and emits ``payment.received`` with
``source: creditor``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from sandbox.collection import cases, casework
from sandbox.collection.auth import require
from sandbox.collection.debtors import batch_items, run_batch
from sandbox.collection.problems import ApiError, invalid, json_body, json_response, not_found
from sandbox.collection.records import claim_fields
from sandbox.collection.state import STATE, Claim, CollectionState

routes = web.RouteTableDef()
MAX_DOCUMENT = 10 * 1024 * 1024
WITHDRAW_REASONS = ("paid_to_creditor", "credited", "disputed", "sent_in_error")
LIMITATION_DAYS = 3 * 365


def upsert_claim(
    state: CollectionState, account_id: str, ref: str, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    fields, errors = claim_fields(body)
    if errors:
        raise invalid(errors)
    if (account_id, fields["debtor_ref"]) not in state.debtors:
        raise invalid([{"field": "debtor_ref", "message": "no debtor with this external_ref"}])
    claim = state.claims.get((account_id, ref))
    status = 200
    if claim is None:
        claim = Claim(state.new_id("clm"), account_id, ref, fields)
        state.claims[(account_id, ref)] = claim
        status = 201
    elif claim.fields != fields:
        if claim.state != "monitoring":
            raise ApiError(
                409, "claim_locked", "the claim was handed over: report payments instead"
            )
        claim.fields = fields
        claim.version += 1
    return status, view(claim)


def view(claim: Claim) -> dict[str, Any]:
    return {
        "id": claim.id,
        "external_ref": claim.external_ref,
        "state": claim.state,
        "version": claim.version,
    }


def _claim(request: web.Request, scope: str) -> tuple[CollectionState, Claim]:
    account_id = require(request, scope)
    state = request.app[STATE]
    claim = state.claims.get((account_id, request.match_info["ref"]))
    if claim is None:
        raise not_found("claim")
    return state, claim


@routes.put("/v1/claims/{ref}")
async def put_claim(request: web.Request) -> web.Response:
    account_id = require(request, "claims:write")
    body = await json_body(request)
    status, result = upsert_claim(request.app[STATE], account_id, request.match_info["ref"], body)
    return json_response(result, status=status)


@routes.post("/v1/claims/batch")
async def batch_claims(request: web.Request) -> web.Response:
    account_id = require(request, "claims:write")
    items = batch_items(await json_body(request))
    state = request.app[STATE]
    results = run_batch(items, lambda ref, item: upsert_claim(state, account_id, ref, item))
    return json_response({"results": results})


@routes.put("/v1/claims/{ref}/document")
async def put_document(request: web.Request) -> web.Response:
    _, claim = _claim(request, "claims:write")
    if request.content_type != "application/pdf":
        raise invalid([{"field": "Content-Type", "message": "must be application/pdf"}])
    data = await request.read()
    if len(data) > MAX_DOCUMENT:
        raise invalid([{"field": "body", "message": "the document is larger than 10 MB"}])
    if not data.startswith(b"%PDF-"):
        raise invalid([{"field": "body", "message": "not a PDF document"}])
    claim.document = data
    return web.Response(status=204)


@routes.post("/v1/claims/{ref}/handover")
async def handover(request: web.Request) -> web.Response:
    state, claim = _claim(request, "claims:write")
    body = await json_body(request)
    start_step = body.get("start_step", "reminder_1")
    if start_step not in cases.START_STEPS:
        raise invalid([{"field": "start_step", "message": "reminder_1 or collection_notice"}])
    if claim.state != "monitoring":
        raise ApiError(409, "conflict", f"the claim is already {claim.state}")
    due_on = dt.date.fromisoformat(claim.fields["due_on"])
    today = state.clock.today()
    problems = [
        (claim.fields["kind"] != "invoice", "a credit note cannot be handed over"),
        (claim.fields["remaining_amount"] <= 0, "nothing remains to be paid"),
        (due_on >= today, "the claim is not overdue"),
        ((today - due_on).days > LIMITATION_DAYS, "the claim is time-barred"),
    ]
    for failed, message in problems:
        if failed:
            raise ApiError(422, "validation_failed", message)
    case_id = casework.handover(state, claim, start_step)
    return json_response({"case_id": case_id}, status=202)


@routes.post("/v1/claims/{ref}/withdraw")
async def withdraw(request: web.Request) -> web.Response:
    state, claim = _claim(request, "claims:write")
    reason = (await json_body(request)).get("reason")
    if reason not in WITHDRAW_REASONS:
        raise invalid([{"field": "reason", "message": "one of " + ", ".join(WITHDRAW_REASONS)}])
    if claim.state == "closed" and claim.withdrawn_reason is None:
        raise ApiError(409, "conflict", "the claim is closed")
    if claim.state != "closed":
        claim.state, claim.withdrawn_reason = "closed", reason
        if claim.case_id is not None:
            case = state.cases[claim.case_id]
            case.claims[claim.external_ref].active = False
            casework.close_if_settled(state, case)
    return json_response({**view(claim), "case_id": claim.case_id})


def _payment_problems(body: dict[str, Any]) -> list[dict[str, str]]:
    errors = []
    if not isinstance(body.get("external_id"), str) or not body["external_id"]:
        errors.append({"field": "external_id", "message": "required string"})
    if body.get("kind") not in ("payment", "credit_note"):
        errors.append({"field": "kind", "message": "payment or credit_note"})
    amount = body.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        errors.append({"field": "amount", "message": "a positive integer in minor units"})
    try:
        dt.date.fromisoformat(str(body.get("paid_on")))
    except ValueError:
        errors.append({"field": "paid_on", "message": "a date YYYY-MM-DD"})
    return errors


@routes.post("/v1/claims/{ref}/payments")
async def creditor_payment(request: web.Request) -> web.Response:
    state, claim = _claim(request, "payments:write")
    body = await json_body(request)
    errors = _payment_problems(body)
    if errors:
        raise invalid(errors)
    key = (claim.account_id, body["external_id"])
    fingerprint = {"claim_ref": claim.external_ref, "body": body}
    if key in state.payments:
        known = state.payments[key]
        if known["fingerprint"] != fingerprint:
            raise ApiError(409, "conflict", "this external_id was reported with another body")
        return json_response(known["record"], status=200)
    record = _book_creditor_payment(state, claim, body)
    state.payments[key] = {"fingerprint": fingerprint, "record": record}
    return json_response(record, status=201)


def _book_creditor_payment(
    state: CollectionState, claim: Claim, body: dict[str, Any]
) -> dict[str, Any]:
    amount, paid_on = body["amount"], dt.date.fromisoformat(body["paid_on"])
    record: dict[str, Any] = {
        "external_id": body["external_id"],
        "claim_ref": claim.external_ref,
        "kind": body["kind"],
        "amount": amount,
        "payment_id": None,
    }
    if claim.state == "closed":
        raise ApiError(409, "conflict", "the claim is closed")
    if claim.state == "monitoring":
        if amount > claim.fields["remaining_amount"]:
            raise ApiError(422, "validation_failed", "the amount exceeds the remaining amount")
        claim.fields = {
            **claim.fields,
            "remaining_amount": claim.fields["remaining_amount"] - amount,
        }
        claim.version += 1
        return record
    assert claim.case_id is not None
    case = state.cases[claim.case_id]
    casework.bring_interest(case, state.clock.today())
    owed = casework.balance(case.claims[claim.external_ref])
    if body["kind"] == "credit_note":
        owed = cases.Balance(owed.claim_ref, owed.due_on, 0, 0, owed.principal)
    data = casework.apply_payment(state, case, amount, "creditor", [owed], paid_on)
    return {**record, "payment_id": data["payment_id"], "case_id": case.id}
