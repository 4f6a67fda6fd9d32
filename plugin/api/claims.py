"""One company's claims: ``/api/v1/installations/{agreement}/claims…`` (the policy and the
problems are `plugin.api.policy`'s).

    GET  …/claims?state=&cursor=&limit=     guest       the claims, by invoice number
    POST …/claims/{invoice}/approve         admin       hand over: 202 {job_id, claim}
    POST …/claims/{invoice}/propose         caseworker  into the approval queue
    POST …/claims/{invoice}/hold            caseworker  stop it (survives policy changes)
    POST …/claims/{invoice}/release         caseworker  end a hold: the policy decides again
    POST …/claims/{invoice}/dispute         caseworker  never handed over while disputed
    POST …/claims/{invoice}/undispute       caseworker  the policy decides again
    POST …/claims/{invoice}/withdraw        admin       withdrawn, on the platform too

Which state allows which action is `sync.policy.claim_action`'s (a state that forbids it → 409
``invalid_state``). Except ``approve`` and ``withdraw``, an action's outcome is then decided by
the policy at once (`sync.policy.decide`, as the next policy run would decide it), so the
answer is the state the claim keeps: ``release`` and ``undispute`` of an eligible claim in
``automatic`` mode hand it over (``scheduled`` for today, its ``handover.claim`` job queued),
and ``propose`` of a claim the policy never hands over (disputed, paid, barred customer, …) is
refused with 409 ``invalid_state`` naming why. Credit notes are never approved or proposed.

``approve`` leaves the claim's state as it is and queues ``handover.claim`` (reason
``approved``, dedupe ``handover:<agreement>:<n>``, serial ``invoice:<agreement>:<n>``): the
handover re-reads the invoice first, so a claim paid meanwhile is withdrawn, never handed
over; the claim is ``in_collection`` once the job has handed it over. Approving again while
that job waits answers the same job.

``withdraw`` (optional body ``{"reason": sent_in_error|disputed|paid_to_creditor|credited}``,
default ``sent_in_error``) first withdraws the claim in the collection account when the account
holds it, with the idempotency key ``withdraw:<agreement>:<n>``, then marks it ``withdrawn``
here; if the platform cannot be reached the claim is left as it was (503, try again), if it
refuses, 409 with its reason. Withdrawing a withdrawn claim changes nothing.

Each action is a compare-and-set on the state the claim was read in; a claim that changed
meanwhile is read again and the action decided anew (a few times, then 409
``state_changed``). Every action asked is written to the audit log with the caller's e-mail.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, get_args

import msgspec
from aiohttp import web
from msgspec import UNSET

from plugin.api import shapes
from plugin.api.auth import Member
from plugin.api.errors import ApiError, Conflict, Invalid, NotFound
from plugin.api.paging import PAGING, encode_cursor, page_request
from plugin.api.registry import Api, number_in_path, reply, state_in_query
from plugin.api.values import one_of, path_number
from plugin.connections import Connections
from plugin.keys import CLOCK, DATABASE, QUEUE, SERVICES
from sync import schedules
from sync.company_settings import Policy, company_settings
from sync.engine import facts_of
from sync.errors import AuthLostError, ConfigurationError, SyncError, TransientError
from sync.mapping import today_in_copenhagen
from sync.policy import (
    Action,
    InvalidClaimState,
    claim_action,
    decide,
)
from sync.store.audit import AuditLog
from sync.store.claims import CLAIM_STATES, Claims, ClaimState, StoredClaim
from sync.store.installations import Installation

WithdrawReason = Literal["sent_in_error", "disputed", "paid_to_creditor", "credited"]
WITHDRAW_REASONS: tuple[str, ...] = get_args(WithdrawReason)
CAS_ATTEMPTS = 3

INVOICE = number_in_path("invoice", "The booked invoice's (or credit note's) number")
STATE_FILTER = state_in_query(CLAIM_STATES, "only claims in this state (default: every state)")
_PAST: dict[Action, str] = {
    "approve": "approved", "propose": "proposed", "hold": "held", "release": "released",
    "dispute": "disputed", "undispute": "undisputed", "withdraw": "withdrawn",
}  # fmt: skip


class Unavailable(ApiError):
    """503: the collection platform could not be reached; nothing was changed."""

    status = 503


# -- views ------------------------------------------------------------------------------------


def claim_view(claim: StoredClaim) -> shapes.ClaimView:
    return shapes.ClaimView(
        invoice_number=claim.invoice_number,
        customer_number=claim.customer_number,
        kind=claim.kind,
        state=claim.state,
        currency=claim.currency,
        remaining=claim.remaining,
        due_date=claim.due_date,
        handover_on=claim.handover_on,
        held=claim.held,
        disputed=claim.disputed,
        case_id=claim.case_id,
    )


def state_filter(text: str | None) -> ClaimState | None:
    return one_of(text, CLAIM_STATES)


def invoice_number(text: str) -> int | None:
    return path_number(text)


# -- claims -----------------------------------------------------------------------------------


async def list_claims(request: web.Request, member: Member) -> web.Response:
    state = state_filter(request.query.get("state"))
    page = page_request(request.query)
    claims = await Claims(request.app[DATABASE]).after(
        member.installation.id, after=page.after, limit=page.limit + 1, state=state
    )
    more = len(claims) > page.limit
    shown = claims[: page.limit]
    return reply(
        shapes.ClaimList(
            items=[claim_view(c) for c in shown],
            next_cursor=encode_cursor(shown[-1].invoice_number) if more else UNSET,
        )
    )


async def _read_claim(request: web.Request, member: Member) -> StoredClaim:
    number = invoice_number(request.match_info["invoice"])
    found = (
        await Claims(request.app[DATABASE]).get(member.installation.id, number)
        if number is not None
        else None
    )
    if found is None:
        raise NotFound("not_found", "the company has no claim for that invoice number")
    return found


class _Plan(msgspec.Struct, frozen=True, kw_only=True):
    """What an action makes of a claim: its state and flags afterwards, and whether it is to be
    handed over now."""

    state: ClaimState
    flags: dict[str, Any]
    hand_over: bool = False


_FLAGS: dict[Action, dict[str, bool]] = {
    "propose": {"proposed": True},
    "hold": {"held": True},
    "release": {"held": False},
    "dispute": {"disputed": True},
    "undispute": {"disputed": False},
}


def plan_action(claim: StoredClaim, action: Action, policy: Policy, *, today: dt.date) -> _Plan:
    """The outcome of a person's ``action`` on ``claim`` (not approve, not withdraw), with the
    policy deciding at once as its next run would; `InvalidClaimState` or `Conflict`."""
    target = claim_action(claim.state, action)
    flags = _FLAGS[action]
    if action == "propose" and claim.kind == "credit_note":
        raise Conflict("invalid_state", "a credit note is never handed over on its own")
    after = msgspec.structs.replace(claim, state=target, **flags)
    decision = decide(facts_of(after), policy, today=today)
    if action == "propose" and decision.state == "monitoring":
        raise Conflict(
            "invalid_state",
            f"the policy never hands this claim over ({decision.reason.replace('_', ' ')})",
        )
    # As `Engine.apply_policy`: in collection only once the handover job has done it.
    state: ClaimState = "scheduled" if decision.hand_over else decision.state
    return _Plan(
        state=state,
        flags={
            **flags,
            "announced_on": decision.announced_on,
            "handover_on": decision.handover_on,
        },
        hand_over=decision.hand_over,
    )


async def audit(
    request: web.Request,
    member: Member,
    action: str,
    now: dt.datetime,
    **detail: Any,
) -> None:
    await AuditLog(request.app[DATABASE]).record(
        installation_id=member.installation.id,
        actor=member.caller.user.email,
        action=action,
        at=now,
        detail=detail,
    )


async def act_on_claim(request: web.Request, member: Member, action: Action) -> web.Response:
    """An action other than approve and withdraw: decide, compare-and-set, audit, answer."""
    db, clock = request.app[DATABASE], request.app[CLOCK]
    claims = Claims(db)
    policy = company_settings(member.installation.settings).policy
    for _ in range(CAS_ATTEMPTS):
        claim = await _read_claim(request, member)
        now = clock()
        try:
            plan = plan_action(claim, action, policy, today=today_in_copenhagen(now))
        except InvalidClaimState as exc:
            raise Conflict(exc.code, exc.message) from exc
        if await claims.change_state(claim, state=plan.state, now=now, **plan.flags):
            break
    else:
        raise Conflict("state_changed", "the claim kept changing meanwhile; try again")
    job_id = None
    if plan.hand_over:
        job_id = await request.app[QUEUE].enqueue(
            schedules.handover(
                member.installation.id,
                member.installation.agreement_number,
                claim.invoice_number,
                reason="policy",
            ),
            now=now,
        )
    await audit(
        request,
        member,
        f"claim.{_PAST[action]}",
        now,
        invoice=claim.invoice_number,
        before=claim.state,
        after=plan.state,
        handover_job_id=job_id,
    )
    changed = await claims.get(member.installation.id, claim.invoice_number)
    assert changed is not None
    return reply(claim_view(changed))


async def approve_claim(request: web.Request, member: Member) -> web.Response:
    claim = await _read_claim(request, member)
    try:
        claim_action(claim.state, "approve")
    except InvalidClaimState as exc:
        raise Conflict(exc.code, exc.message) from exc
    if claim.kind == "credit_note":
        raise Conflict("invalid_state", "a credit note is never handed over on its own")
    now = request.app[CLOCK]()
    job_id = await request.app[QUEUE].enqueue(
        schedules.handover(
            member.installation.id,
            member.installation.agreement_number,
            claim.invoice_number,
            reason="approved",
        ),
        now=now,
    )
    await audit(
        request,
        member,
        "claim.approved",
        now,
        invoice=claim.invoice_number,
        state=claim.state,
        handover_job_id=job_id,
    )
    return reply(shapes.Approval(job_id=job_id, claim=claim_view(claim)), status=202)


async def _withdraw_reason(request: web.Request) -> WithdrawReason:
    raw = await request.read()
    if not raw.strip():
        return "sent_in_error"
    try:
        return msgspec.json.decode(raw, type=shapes.WithdrawRequest).reason
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise Invalid(
            "invalid_body", 'the body is {"reason": ' + "|".join(WITHDRAW_REASONS) + "}, or none"
        ) from None


async def withdraw_claim(request: web.Request, member: Member) -> web.Response:
    return await withdraw(request, member, await _withdraw_reason(request))


async def withdraw(request: web.Request, member: Member, reason: WithdrawReason) -> web.Response:
    """Withdraw the claim of the request's ``{invoice}`` for ``reason`` (the API's and the
    pages' withdraw alike)."""
    db, clock = request.app[DATABASE], request.app[CLOCK]
    claims = Claims(db)
    for _ in range(CAS_ATTEMPTS):
        claim = await _read_claim(request, member)
        try:
            claim_action(claim.state, "withdraw")
        except InvalidClaimState as exc:
            raise Conflict(exc.code, exc.message) from exc
        if claim.state == "withdrawn":
            break
        if claim.pushed_fingerprint is not None:
            await _withdraw_on_platform(request, member.installation, claim, reason)
        if await claims.change_state(claim, state="withdrawn", now=clock()):
            break
    else:
        raise Conflict("state_changed", "the claim kept changing meanwhile; try again")
    await audit(
        request,
        member,
        "claim.withdrawn",
        clock(),
        invoice=claim.invoice_number,
        before=claim.state,
        reason=reason,
        on_platform=claim.pushed_fingerprint is not None,
    )
    changed = await claims.get(member.installation.id, claim.invoice_number)
    assert changed is not None
    return reply(claim_view(changed))


async def _withdraw_on_platform(
    request: web.Request, installation: Installation, claim: StoredClaim, reason: WithdrawReason
) -> None:
    agreement, number = installation.agreement_number, claim.invoice_number
    try:
        client = Connections(request.app[SERVICES]).collection(installation)
        await client.withdraw(
            str(number), reason=reason, idempotency_key=f"withdraw:{agreement}:{number}"
        )
    except (AuthLostError, ConfigurationError) as exc:
        raise Conflict("collection_unavailable", f"{exc.message}; nothing was changed") from exc
    except TransientError as exc:
        raise Unavailable(
            "collection_unavailable",
            "the collection platform could not be reached; nothing was changed, try again",
        ) from exc
    except SyncError as exc:
        detail = f"the collection platform refused: {exc.message}"
        raise Conflict("collection_refused", detail) from exc


def _action_handler(action: Action) -> Any:
    async def handler(request: web.Request, member: Member) -> web.Response:
        return await act_on_claim(request, member, action)

    handler.__name__ = f"{action}_claim"
    return handler


def add_routes(api: Api) -> None:
    base = "/installations/{agreement}"
    api.member_route(
        "GET",
        f"{base}/claims",
        list_claims,
        role="guest",
        summary="The company's claims (overdue invoices, open credit notes) by invoice number",
        response=shapes.ClaimList,
        params=(STATE_FILTER, *PAGING),
    )
    api.member_route(
        "POST",
        f"{base}/claims/{{invoice}}/approve",
        approve_claim,
        role="admin",
        summary="Approve a claim's handover: answered 202 with the handover job (state unchanged "
        "until it ran)",
        response=shapes.Approval,
        params=(INVOICE,),
        status=202,
        conflicts=True,
    )
    summaries: dict[Action, str] = {
        "propose": "Propose a claim for approval, outside the policy's thresholds",
        "hold": "Hold a claim: it is not handed over until released, whatever the policy",
        "release": "Release a held claim: the policy decides again at once",
        "dispute": "Mark a claim disputed: never handed over while disputed",
        "undispute": "End a dispute: the policy decides again at once",
    }
    for action, summary in summaries.items():
        api.member_route(
            "POST",
            f"{base}/claims/{{invoice}}/{action}",
            _action_handler(action),
            role="caseworker",
            summary=summary,
            response=shapes.ClaimView,
            params=(INVOICE,),
            conflicts=True,
        )
    api.member_route(
        "POST",
        f"{base}/claims/{{invoice}}/withdraw",
        withdraw_claim,
        role="admin",
        summary="Withdraw a claim, from the collection account too (the body may be left out)",
        response=shapes.ClaimView,
        params=(INVOICE,),
        conflicts=True,
        body=shapes.WithdrawRequest,
        body_required=False,
    )
