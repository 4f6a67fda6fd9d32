"""The case engine's stateful side: opening and joining cases, stepping on the simulated clock,
payments, withdrawals and write-offs, each emitting its events. The rules live in cases.py and
interest.py; this module applies them to `CollectionState`.

Choices where the contract is silent: a claim joining an open case keeps the case's step (its
``start_step`` is ignored) and emits no ``case.opened``; withdrawn claims leave ``claim_refs`` and
the amounts; interest is computed up to the simulated date whenever amounts are read or money is
allocated, and does not by itself move ``updated_at``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sandbox.collection import cases, interest
from sandbox.collection.events import emit
from sandbox.collection.problems import ApiError
from sandbox.collection.state import Case, CaseClaim, Claim, CollectionState


def active(case: Case) -> list[CaseClaim]:
    return [claim for claim in case.claims.values() if claim.active]


def bring_interest(case: Case, today: dt.date) -> None:
    for claim in active(case):
        start = claim.accrued_through or claim.due_on
        remaining = claim.principal_original - claim.principal_paid
        claim.interest_exact += interest.accrue(remaining, start, today)
        claim.accrued_through = max(start, today)


def balance(claim: CaseClaim) -> cases.Balance:
    return cases.Balance(
        claim_ref=claim.claim_ref,
        due_on=claim.due_on,
        fees=claim.fees_charged - claim.fees_paid,
        interest=interest.post(claim.interest_exact) - claim.interest_paid,
        principal=claim.principal_original - claim.principal_paid,
    )


def amounts(state: CollectionState, case: Case) -> dict[str, Any]:
    if case.status != "closed":
        bring_interest(case, state.clock.today())
    claims = active(case)
    original = sum(c.principal_original for c in claims)
    principal_paid = sum(c.principal_paid for c in claims)
    accrued = sum(interest.post(c.interest_exact) for c in claims)
    interest_paid = sum(c.interest_paid for c in claims)
    charged = sum(c.fees_charged for c in claims)
    fees_paid = sum(c.fees_paid for c in claims)
    return {
        "principal": {
            "original": original,
            "paid": principal_paid,
            "remaining": original - principal_paid,
        },
        "interest": {
            "accrued": accrued,
            "paid": interest_paid,
            "remaining": accrued - interest_paid,
        },
        "fees": {"charged": charged, "paid": fees_paid, "remaining": charged - fees_paid},
    }


def view(state: CollectionState, case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "debtor_ref": case.debtor_ref,
        "claim_refs": [c.claim_ref for c in active(case)],
        "status": case.status,
        "step": case.step,
        "closed_reason": case.closed_reason,
        "currency": case.currency,
        "amounts": amounts(state, case),
        "timeline": case.timeline,
        "updated_at": case.updated_at,
    }


def _note(
    state: CollectionState, case: Case, kind: str, detail: str, on: dt.date | None = None
) -> None:
    at = state.business_timestamp(on)
    case.timeline.append({"at": at, "kind": kind, "detail": detail})
    case.updated_at = at


def _charge(
    state: CollectionState, case: Case, claim: CaseClaim, fees: list[tuple[str, int]], on: dt.date
) -> None:
    for kind, amount in fees:
        claim.fees_charged += amount
        if kind == "reminder_fee":
            claim.reminder_fees += 1
        _note(state, case, "fee_charged", f"{kind} {amount} on {claim.claim_ref}", on)


def _send_letter(state: CollectionState, case: Case, on: dt.date) -> None:
    debtor = state.debtors[(case.account_id, case.debtor_ref)]
    channel = cases.choose_channel(debtor.fields)
    if channel is None:
        _note(state, case, "letter_failed", f"{case.step}: no usable channel", on)
        return
    sent_at = state.business_timestamp(on)
    _note(state, case, "letter_sent", f"{case.step} by {channel}", on)
    data = {"case_id": case.id, "kind": case.step, "channel": channel, "sent_at": sent_at}
    emit(state, case.account_id, "letter.sent", data, on)


def _enter_step(state: CollectionState, case: Case, step: str, on: dt.date) -> None:
    case.step, case.step_entered_on = step, on
    for claim in active(case):
        _charge(state, case, claim, cases.step_fees(step, case.currency, claim.reminder_fees), on)
    if step in cases.LETTER_STEPS:
        _send_letter(state, case, on)


def handover(state: CollectionState, claim: Claim, start_step: str) -> str | None:
    """Open or join the debtor's case for ``claim``; None when the claim is rejected."""
    today = state.clock.today()
    debtor = state.debtors[(claim.account_id, claim.fields["debtor_ref"])]
    if cases.choose_channel(debtor.fields) is None:
        detail = "the debtor has no usable address or channel"
        data = {"claim_ref": claim.external_ref, "code": "no_usable_channel", "detail": detail}
        emit(state, claim.account_id, "claim.rejected", data)
        return None
    case = next(
        (
            c
            for c in state.cases.values()
            if c.account_id == claim.account_id
            and c.debtor_ref == claim.fields["debtor_ref"]
            and c.currency == claim.fields["currency"]
            and c.status == "open"
        ),
        None,
    )
    opened = case is None
    if case is None:
        case = Case(
            id=state.new_id("case"),
            account_id=claim.account_id,
            debtor_ref=claim.fields["debtor_ref"],
            currency=claim.fields["currency"],
            step=start_step,
            step_entered_on=today,
            updated_at=state.business_timestamp(),
        )
        state.cases[case.id] = case
    entry = CaseClaim(
        claim_ref=claim.external_ref,
        due_on=dt.date.fromisoformat(claim.fields["due_on"]),
        principal_original=claim.fields["remaining_amount"],
    )
    case.claims[entry.claim_ref] = entry
    claim.state, claim.case_id = "in_collection", case.id
    _note(state, case, "claim_joined", f"{entry.claim_ref} ({entry.principal_original})")
    _charge(
        state,
        case,
        entry,
        cases.joining_fees(case.currency, cases.is_company(debtor.fields)),
        today,
    )
    if opened:
        opened_data = {
            "case_id": case.id,
            "debtor_ref": case.debtor_ref,
            "claim_refs": [entry.claim_ref],
            "step": start_step,
        }
        emit(state, case.account_id, "case.opened", opened_data)
        _enter_step(state, case, start_step, today)
    return case.id


async def on_advance(state: CollectionState, old: dt.date, new: dt.date) -> None:
    """Apply every step change due in (old, new], in date order across cases."""
    due = [
        (t.on, case.id, t)
        for case in state.cases.values()
        if case.status == "open"
        for t in cases.transitions(case.step, case.step_entered_on, new)
    ]
    for on, case_id, transition in sorted(due, key=lambda item: (item[0], item[1])):
        case = state.cases[case_id]
        if case.status != "open":
            continue
        _note(state, case, "step_changed", f"{transition.from_step} -> {transition.to_step}", on)
        data = {
            "case_id": case.id,
            "from_step": transition.from_step,
            "to_step": transition.to_step,
        }
        emit(state, case.account_id, "case.step_changed", data, on)
        _enter_step(state, case, transition.to_step, on)


def close(
    state: CollectionState, case: Case, reason: str, extra: dict[str, Any] | None = None
) -> None:
    data = {"case_id": case.id, "reason": reason, "amounts": amounts(state, case), **(extra or {})}
    case.status, case.closed_reason = "closed", reason
    for ref in case.claims:
        state.claims[(case.account_id, ref)].state = "closed"
    _note(state, case, "closed", reason)
    emit(state, case.account_id, "case.closed", data)


def close_if_settled(state: CollectionState, case: Case) -> None:
    claims = active(case)
    if not claims:
        close(state, case, "withdrawn")
    elif all(cases_total(balance(c)) == 0 for c in claims):
        close(state, case, "paid")


def cases_total(b: cases.Balance) -> int:
    return b.fees + b.interest + b.principal


def apply_payment(
    state: CollectionState,
    case: Case,
    amount: int,
    source: str,
    balances: list[cases.Balance],
    paid_on: dt.date,
) -> dict[str, Any]:
    """Allocate ``amount`` over ``balances``, book it, emit ``payment.received``."""
    allocations, left = cases.allocate(amount, balances)
    if left:
        raise ApiError(422, "validation_failed", "the amount exceeds what is owed")
    for allocation in allocations:
        claim = case.claims[allocation.claim_ref]
        claim.fees_paid += allocation.fees
        claim.interest_paid += allocation.interest
        claim.principal_paid += allocation.principal
    payment_id = state.new_id("pay")
    data = {
        "payment_id": payment_id,
        "case_id": case.id,
        "paid_on": paid_on.isoformat(),
        "currency": case.currency,
        "amount": amount,
        "source": source,
        "allocations": [
            {
                "claim_ref": a.claim_ref,
                "principal": a.principal,
                "interest": a.interest,
                "fees": a.fees,
            }
            for a in allocations
        ],
    }
    _note(state, case, "payment", f"{source} paid {amount}")
    emit(state, case.account_id, "payment.received", data)
    close_if_settled(state, case)
    return data


def collector_payment(state: CollectionState, case: Case, amount: int) -> dict[str, Any]:
    today = state.clock.today()
    bring_interest(case, today)
    return apply_payment(
        state, case, amount, "collector", [balance(c) for c in active(case)], today
    )


def write_off(state: CollectionState, case: Case) -> None:
    bring_interest(case, state.clock.today())
    write_offs = [
        {"claim_ref": c.claim_ref, "principal": c.principal_original - c.principal_paid}
        for c in active(case)
    ]
    close(state, case, "written_off", {"write_offs": write_offs})
