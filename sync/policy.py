"""The handover policy: which claims wait, which are announced, which go to collection now.

Pure functions over values, ``today`` included (the date in Europe/Copenhagen):

    decide(facts, policy, today=...) -> Decision    what the policy makes of one claim now
    validate_policy(document) -> Policy             the body of ``PUT …/policy``, or InvalidPolicy
    claim_action(state, action) -> state            a person's action, or InvalidClaimState

`decide`, in this order (the first that applies gives the reason):
1. ``in_collection``, ``closed``, ``withdrawn`` are not the policy's to change.
2. ``held`` (state or flag): stays held until released, whatever the policy says.
3. Never handed over: credit notes (they only travel with their customer's claims), paid
   claims (remaining ≤ 0), time-barred ones (due more than 3 years ago), customers in an
   excluded group, barred customers, disputed claims. They fall back to ``monitoring``.
4. Eligible: ``today − due_date ≥ min_days_overdue`` and ``remaining_base ≥ min_amount``.
   ``manual``: eligible, or proposed by a caseworker though outside the thresholds →
   ``awaiting_approval`` (an admin's ``approve`` hands over). ``automatic``: a proposed claim
   outside the thresholds also waits for approval; an eligible one is handed over now when
   ``notice_days`` is 0, else announced (today, unless it already was) and ``scheduled`` for
   ``handover_on = announced_on + notice_days``, handed over once today reaches that day. A
   changed ``notice_days`` moves ``handover_on`` at the next decision; 0 sends them at once.
A claim within 90 days of its limitation date carries the warning ``time_bar_soon``.

The actions (`claim_action`); a state not listed for an action → `InvalidClaimState` (409
``invalid_state``). Repeating propose, hold or withdraw where it already holds is a no-op.

    action     allowed in                                   → new state
    approve    awaiting_approval, scheduled                 → in_collection (hand over now)
    propose    monitoring, awaiting_approval                → awaiting_approval
    hold       monitoring, awaiting_approval, scheduled,    → held
               held
    release    held                                         → monitoring (the policy decides)
    dispute    monitoring, awaiting_approval, scheduled     → monitoring (excluded while disputed)
               held                                         → held
    undispute  monitoring, held                             → unchanged (the policy decides)
    withdraw   monitoring, awaiting_approval, scheduled,    → withdrawn
               held, in_collection, withdrawn
A claim in collection is disputed with the collector by withdrawing it (reason ``disputed``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Literal

import msgspec

from sync.company_settings import Policy
from sync.errors import ConflictError, ValidationError

ClaimState = Literal[
    "monitoring", "awaiting_approval", "scheduled", "held", "in_collection", "closed", "withdrawn"
]
Action = Literal["approve", "propose", "hold", "release", "dispute", "undispute", "withdraw"]
Reason = Literal[
    "in_collection", "closed", "withdrawn", "held", "credit_note", "paid", "time_barred",
    "excluded_customer_group", "customer_barred", "disputed", "not_overdue_enough",
    "below_min_amount", "proposed", "eligible", "notice_period", "notice_over",
]  # fmt: skip

LIMITATION_YEARS = 3  # domain.md: 3 years from the due date
WARN_DAYS = 90
MAX_MIN_DAYS_OVERDUE = 365 * LIMITATION_YEARS  # beyond it every claim would be time-barred
MAX_NOTICE_DAYS = 365


class ClaimFacts(msgspec.Struct, frozen=True, kw_only=True):
    """What the policy looks at; amounts in minor units."""

    kind: Literal["invoice", "credit_note"]
    due_date: dt.date
    remaining: int  # invoice currency
    remaining_base: int  # base currency, compared with min_amount
    state: ClaimState = "monitoring"
    customer_group: int | None = None
    customer_barred: bool = False
    disputed: bool = False
    held: bool = False
    proposed: bool = False  # a caseworker proposed it
    announced_on: dt.date | None = None  # first announced (notice_days > 0)


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    state: ClaimState  # the target state
    reason: Reason
    hand_over: bool = False  # hand over now (after re-reading the invoice)
    handover_on: dt.date | None = None
    announced_on: dt.date | None = None  # store it: today when this decision announces
    warning: Literal["time_bar_soon"] | None = None
    time_barred_on: dt.date | None = None


def decide(facts: ClaimFacts, policy: Policy, *, today: dt.date) -> Decision:
    barred_on = _years_after(facts.due_date, LIMITATION_YEARS)
    decision = _decide(facts, policy, today=today, barred_on=barred_on)
    owed = facts.kind == "invoice" and facts.remaining > 0 and facts.state not in _FINAL
    soon = owed and barred_on - dt.timedelta(days=WARN_DAYS) <= today <= barred_on
    warning: Literal["time_bar_soon"] | None = "time_bar_soon" if soon else None
    return msgspec.structs.replace(decision, warning=warning, time_barred_on=barred_on)


# Past the policy: in the collector's hands or ended.
_FINAL: dict[ClaimState, Reason] = {
    "in_collection": "in_collection",
    "closed": "closed",
    "withdrawn": "withdrawn",
}


def _decide(facts: ClaimFacts, policy: Policy, *, today: dt.date, barred_on: dt.date) -> Decision:
    if facts.state in _FINAL:
        return Decision(state=facts.state, reason=_FINAL[facts.state])
    keep = facts.announced_on
    if facts.held or facts.state == "held":
        return Decision(state="held", reason="held", announced_on=keep)
    excluded = _exclusion(facts, policy, today=today, barred_on=barred_on)
    if excluded is not None:
        return Decision(state="monitoring", reason=excluded, announced_on=keep)
    shortfall = _shortfall(facts, policy, today=today)
    if shortfall is None and policy.mode == "automatic":
        return _automatic(facts, policy, today=today)
    if shortfall is None or facts.proposed:
        reason: Reason = "eligible" if shortfall is None else "proposed"
        return Decision(state="awaiting_approval", reason=reason, announced_on=keep)
    return Decision(state="monitoring", reason=shortfall, announced_on=keep)


def _exclusion(
    facts: ClaimFacts, policy: Policy, *, today: dt.date, barred_on: dt.date
) -> Reason | None:
    if facts.kind == "credit_note":
        return "credit_note"
    if facts.remaining <= 0:
        return "paid"
    if today > barred_on:
        return "time_barred"
    if facts.customer_group is not None and facts.customer_group in policy.exclude_customer_groups:
        return "excluded_customer_group"
    if facts.customer_barred:
        return "customer_barred"
    if facts.disputed:
        return "disputed"
    return None


def _shortfall(facts: ClaimFacts, policy: Policy, *, today: dt.date) -> Reason | None:
    """Why the thresholds are not met, or None when they are."""
    if (today - facts.due_date).days < policy.min_days_overdue:
        return "not_overdue_enough"
    if facts.remaining_base < policy.min_amount:
        return "below_min_amount"
    return None


def _automatic(facts: ClaimFacts, policy: Policy, *, today: dt.date) -> Decision:
    if policy.notice_days == 0:
        return Decision(
            state="in_collection", reason="eligible", hand_over=True, handover_on=today,
            announced_on=facts.announced_on,
        )  # fmt: skip
    announced = facts.announced_on or today
    handover_on = announced + dt.timedelta(days=policy.notice_days)
    if today >= handover_on:
        return Decision(
            state="in_collection", reason="notice_over", hand_over=True,
            handover_on=handover_on, announced_on=announced,
        )  # fmt: skip
    return Decision(
        state="scheduled", reason="notice_period", handover_on=handover_on, announced_on=announced
    )


def _years_after(day: dt.date, years: int) -> dt.date:
    """The same calendar day ``years`` later; 29 February becomes the 28th (the earlier day)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


# -- the policy document (PUT …/policy) -----------------------------------------------------


class InvalidPolicy(ValidationError):
    """A policy document we refuse (422); ``errors`` lists ``{field, message}``."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        first = errors[0]
        where = f"policy.{first['field']}: " if first["field"] else ""
        super().__init__(where + first["message"], detail=errors)
        self.errors = tuple(errors)
        self.field = first["field"]


def validate_policy(document: object) -> Policy:
    """The whole policy from a PUT body; fields left out take their defaults."""
    if not isinstance(document, dict):
        raise InvalidPolicy([{"field": "", "message": "the policy is a JSON object"}])
    errors = [
        {"field": str(name), "message": "not a policy field"}
        for name in document
        if name not in _CHECKS
    ]
    values: dict[str, Any] = {}
    for name, check in _CHECKS.items():
        if name not in document:
            continue
        try:
            values[name] = check(document[name])
        except _FieldError as exc:
            errors.append({"field": name, "message": str(exc)})
    if errors:
        raise InvalidPolicy(errors)
    return Policy(**values)


class _FieldError(ValueError):
    pass


_Check = Callable[[object], object]


def _choice(*allowed: str) -> _Check:
    def check(value: object) -> str:
        if not isinstance(value, str) or value not in allowed:
            raise _FieldError("one of " + ", ".join(allowed))
        return value

    return check


def _whole(low: int, high: int | None = None) -> _Check:
    def check(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _FieldError("a whole number")
        if value < low or (high is not None and value > high):
            raise _FieldError(
                f"at least {low}" + (f" and at most {high}" if high is not None else "")
            )
        return value

    return check


def _groups(value: object) -> tuple[int, ...]:
    if not isinstance(value, list) or any(
        isinstance(g, bool) or not isinstance(g, int) or g < 1 for g in value
    ):
        raise _FieldError("a list of customer group numbers")
    return tuple(dict.fromkeys(value))


_CHECKS: dict[str, _Check] = {
    "mode": _choice("manual", "automatic"),
    "min_days_overdue": _whole(1, MAX_MIN_DAYS_OVERDUE),
    "min_amount": _whole(0),
    "exclude_customer_groups": _groups,
    "start_step": _choice("reminder_1", "collection_notice"),
    "notice_days": _whole(0, MAX_NOTICE_DAYS),
}


# -- a person's actions on a claim ----------------------------------------------------------


class InvalidClaimState(ConflictError):
    """The claim's state forbids the action (409 ``invalid_state``)."""

    code = "invalid_state"

    def __init__(self, state: ClaimState, action: Action) -> None:
        super().__init__(f"a claim in state {state} cannot be {_PAST[action]}")
        self.state = state
        self.action = action


_OPEN: tuple[ClaimState, ...] = ("monitoring", "awaiting_approval", "scheduled")
ACTIONS: dict[Action, dict[ClaimState, ClaimState]] = {
    "approve": {"awaiting_approval": "in_collection", "scheduled": "in_collection"},
    "propose": {"monitoring": "awaiting_approval", "awaiting_approval": "awaiting_approval"},
    "hold": {**{s: "held" for s in _OPEN}, "held": "held"},
    "release": {"held": "monitoring"},
    "dispute": {**{s: "monitoring" for s in _OPEN}, "held": "held"},
    "undispute": {"monitoring": "monitoring", "held": "held"},
    "withdraw": {s: "withdrawn" for s in (*_OPEN, "held", "in_collection", "withdrawn")},
}
_PAST: dict[Action, str] = {
    "approve": "approved", "propose": "proposed", "hold": "held", "release": "released",
    "dispute": "disputed", "undispute": "undisputed", "withdraw": "withdrawn",
}  # fmt: skip


def claim_action(state: ClaimState, action: Action) -> ClaimState:
    """The state after ``action``, or `InvalidClaimState` when ``state`` forbids it."""
    try:
        return ACTIONS[action][state]
    except KeyError:
        raise InvalidClaimState(state, action) from None
