"""The handover policy: thresholds to the day and the øre, notice, hold, exclusions, limitation,
the PUT document's validation and the claim actions' state table."""

from __future__ import annotations

import datetime as dt
from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.company_settings import Policy
from sync.policy import (
    ACTIONS,
    Action,
    ClaimFacts,
    ClaimState,
    InvalidClaimState,
    InvalidPolicy,
    claim_action,
    decide,
    validate_policy,
)

TODAY = dt.date(2026, 10, 15)
MANUAL = Policy(mode="manual", min_days_overdue=10, min_amount=10_000)
AUTO = Policy(mode="automatic", min_days_overdue=10, min_amount=10_000)
NOTICE = Policy(mode="automatic", min_days_overdue=10, min_amount=10_000, notice_days=14)


def facts(days_overdue: int = 30, **fields: object) -> ClaimFacts:
    base: dict[str, object] = {
        "kind": "invoice",
        "due_date": TODAY - dt.timedelta(days=days_overdue),
        "remaining": 125_000,
        "remaining_base": 125_000,
    }
    return ClaimFacts(**{**base, **fields})  # type: ignore[arg-type]


# -- thresholds ------------------------------------------------------------------------------


@pytest.mark.parametrize(("days", "eligible"), [(10, True), (9, False), (11, True), (0, False)])
def test_exactly_min_days_overdue_passes_one_day_less_does_not(days: int, eligible: bool) -> None:
    decision = decide(facts(days), AUTO, today=TODAY)
    assert decision.hand_over is eligible
    assert decision.reason == ("eligible" if eligible else "not_overdue_enough")
    assert decision.state == ("in_collection" if eligible else "monitoring")


@pytest.mark.parametrize(("base", "eligible"), [(10_000, True), (9_999, False), (10_001, True)])
def test_min_amount_is_compared_with_the_base_remaining_equal_passes(
    base: int, eligible: bool
) -> None:
    decision = decide(facts(remaining=1_341, remaining_base=base), AUTO, today=TODAY)
    assert decision.hand_over is eligible
    assert decision.reason == ("eligible" if eligible else "below_min_amount")


def test_a_zero_min_amount_lets_any_owed_amount_through() -> None:
    policy = Policy(mode="automatic", min_amount=0)
    assert decide(facts(remaining=1, remaining_base=1), policy, today=TODAY).hand_over


# -- manual ----------------------------------------------------------------------------------


def test_manual_mode_puts_eligible_claims_up_for_approval() -> None:
    decision = decide(facts(), MANUAL, today=TODAY)
    assert (decision.state, decision.reason, decision.hand_over) == (
        "awaiting_approval", "eligible", False,
    )  # fmt: skip
    assert decision.handover_on is None


def test_manual_mode_leaves_claims_outside_the_thresholds_monitored() -> None:
    assert decide(facts(3), MANUAL, today=TODAY).state == "monitoring"


@pytest.mark.parametrize("policy", [MANUAL, AUTO], ids=["manual", "automatic"])
def test_a_proposed_claim_outside_the_thresholds_waits_for_approval(policy: Policy) -> None:
    decision = decide(facts(3, remaining_base=50, proposed=True), policy, today=TODAY)
    assert (decision.state, decision.reason, decision.hand_over) == (
        "awaiting_approval", "proposed", False,
    )  # fmt: skip


def test_a_proposal_does_not_override_an_exclusion() -> None:
    decision = decide(facts(3, proposed=True, disputed=True), MANUAL, today=TODAY)
    assert (decision.state, decision.reason) == ("monitoring", "disputed")


def test_an_awaiting_claim_that_falls_below_the_thresholds_returns_to_monitoring() -> None:
    decision = decide(facts(state="awaiting_approval", remaining_base=500), MANUAL, today=TODAY)
    assert (decision.state, decision.reason) == ("monitoring", "below_min_amount")


# -- automatic, notice -----------------------------------------------------------------------


def test_automatic_without_notice_hands_over_today() -> None:
    decision = decide(facts(), AUTO, today=TODAY)
    assert (decision.state, decision.hand_over, decision.handover_on) == (
        "in_collection", True, TODAY,
    )  # fmt: skip


def test_with_notice_an_eligible_claim_is_announced_today_and_scheduled() -> None:
    decision = decide(facts(), NOTICE, today=TODAY)
    assert (decision.state, decision.reason, decision.hand_over) == (
        "scheduled", "notice_period", False,
    )  # fmt: skip
    assert decision.announced_on == TODAY
    assert decision.handover_on == TODAY + dt.timedelta(days=14)


@pytest.mark.parametrize(("ago", "due"), [(13, False), (14, True), (20, True)])
def test_a_scheduled_claim_goes_once_the_notice_has_run(ago: int, due: bool) -> None:
    announced = TODAY - dt.timedelta(days=ago)
    decision = decide(facts(state="scheduled", announced_on=announced), NOTICE, today=TODAY)
    assert decision.hand_over is due
    assert decision.handover_on == announced + dt.timedelta(days=14)
    assert decision.announced_on == announced
    assert decision.state == ("in_collection" if due else "scheduled")
    assert decision.reason == ("notice_over" if due else "notice_period")


def test_a_changed_notice_moves_handover_on_and_zero_sends_at_once() -> None:
    announced = TODAY - dt.timedelta(days=3)
    scheduled = facts(state="scheduled", announced_on=announced)
    longer = Policy(mode="automatic", notice_days=30)
    assert decide(scheduled, longer, today=TODAY).handover_on == announced + dt.timedelta(30)
    now = decide(scheduled, Policy(mode="automatic", notice_days=0), today=TODAY)
    assert now.hand_over and now.state == "in_collection"


# -- hold ------------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", [MANUAL, AUTO, NOTICE], ids=["manual", "auto", "notice"])
def test_a_held_claim_stays_held_whatever_the_policy(policy: Policy) -> None:
    announced = TODAY - dt.timedelta(days=60)
    for held in (facts(held=True, announced_on=announced), facts(state="held")):
        decision = decide(held, policy, today=TODAY)
        assert (decision.state, decision.reason, decision.hand_over) == ("held", "held", False)
    assert decide(facts(held=True, announced_on=announced), policy, today=TODAY).announced_on == (
        announced
    )


# -- never handed over -----------------------------------------------------------------------


@pytest.mark.parametrize("remaining", [0, -100])
def test_a_paid_claim_is_never_eligible(remaining: int) -> None:
    for policy in (MANUAL, AUTO, NOTICE):
        decision = decide(facts(remaining=remaining, remaining_base=0), policy, today=TODAY)
        assert (decision.state, decision.reason, decision.hand_over) == (
            "monitoring", "paid", False,
        )  # fmt: skip


def test_a_scheduled_claim_paid_meanwhile_is_not_handed_over() -> None:
    paid = facts(state="scheduled", announced_on=TODAY - dt.timedelta(30), remaining=0)
    assert not decide(paid, NOTICE, today=TODAY).hand_over


def test_a_credit_note_is_never_handed_over_on_its_own() -> None:
    note = facts(kind="credit_note", remaining=-12_500, remaining_base=-12_500, proposed=True)
    decision = decide(note, AUTO, today=TODAY)
    assert (decision.state, decision.reason, decision.hand_over) == (
        "monitoring", "credit_note", False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"customer_group": 3}, "excluded_customer_group"),
        ({"customer_barred": True}, "customer_barred"),
        ({"disputed": True}, "disputed"),
    ],
)
def test_exclusions(fields: dict[str, object], reason: str) -> None:
    policy = Policy(mode="automatic", exclude_customer_groups=(3, 4))
    decision = decide(facts(**fields), policy, today=TODAY)
    assert (decision.state, decision.reason, decision.hand_over) == ("monitoring", reason, False)
    other_group = decide(facts(customer_group=2), policy, today=TODAY)
    assert other_group.hand_over


def test_an_excluded_scheduled_claim_falls_back_to_monitoring() -> None:
    scheduled = facts(state="scheduled", announced_on=TODAY, disputed=True)
    assert decide(scheduled, NOTICE, today=TODAY).state == "monitoring"


# -- limitation ------------------------------------------------------------------------------


def test_due_more_than_three_years_ago_is_time_barred() -> None:
    due = dt.date(2023, 10, 14)
    decision = decide(facts(due_date=due), AUTO, today=TODAY)
    assert (decision.reason, decision.hand_over) == ("time_barred", False)
    assert decision.time_barred_on == dt.date(2026, 10, 14)


def test_due_exactly_three_years_ago_still_goes_with_a_warning() -> None:
    decision = decide(facts(due_date=dt.date(2023, 10, 15)), AUTO, today=TODAY)
    assert decision.hand_over and decision.warning == "time_bar_soon"


@pytest.mark.parametrize(("days_left", "warned"), [(0, True), (90, True), (91, False)])
def test_a_warning_within_90_days_of_the_limitation(days_left: int, warned: bool) -> None:
    barred_on = TODAY + dt.timedelta(days=days_left)
    due = barred_on.replace(year=barred_on.year - 3)
    decision = decide(facts(due_date=due), MANUAL, today=TODAY)
    assert decision.warning == ("time_bar_soon" if warned else None)
    assert decision.state == "awaiting_approval"


def test_no_warning_for_what_is_not_owed_or_already_handed_over() -> None:
    due = dt.date(2023, 11, 1)
    assert decide(facts(due_date=due, remaining=0), AUTO, today=TODAY).warning is None
    in_case = facts(due_date=due, state="in_collection")
    assert decide(in_case, AUTO, today=TODAY).warning is None


def test_a_leap_day_due_date_is_barred_from_the_28th() -> None:
    decision = decide(facts(due_date=dt.date(2024, 2, 29)), AUTO, today=dt.date(2027, 3, 1))
    assert decision.time_barred_on == dt.date(2027, 2, 28)
    assert decision.reason == "time_barred"


# -- states past the policy ------------------------------------------------------------------


@pytest.mark.parametrize("state", ["in_collection", "closed", "withdrawn"])
def test_claims_past_the_policy_keep_their_state(state: ClaimState) -> None:
    decision = decide(facts(state=state, held=True), AUTO, today=TODAY)
    assert (decision.state, decision.reason, decision.hand_over) == (state, state, False)


@given(
    days=st.integers(min_value=-30, max_value=1200),
    remaining=st.integers(min_value=-(10**6), max_value=10**7),
    base=st.integers(min_value=-(10**6), max_value=10**7),
    kind=st.sampled_from(["invoice", "credit_note"]),
    flags=st.fixed_dictionaries(
        {k: st.booleans() for k in ("held", "disputed", "customer_barred", "proposed")}
    ),
    mode=st.sampled_from(["manual", "automatic"]),
    notice=st.integers(min_value=0, max_value=30),
)
def test_nothing_unowed_held_or_below_the_thresholds_is_ever_handed_over(
    days: int, remaining: int, base: int, kind: str, flags: dict, mode: str, notice: int
) -> None:
    policy = Policy(mode=mode, notice_days=notice)  # type: ignore[arg-type]
    claim = facts(days, remaining=remaining, remaining_base=base, kind=kind, **flags)
    decision = decide(claim, policy, today=TODAY)
    if decision.hand_over:
        assert mode == "automatic" and kind == "invoice" and remaining > 0
        assert not (flags["held"] or flags["disputed"] or flags["customer_barred"])
        assert days >= policy.min_days_overdue and base >= policy.min_amount
        assert decision.state == "in_collection" and decision.handover_on is not None
        assert decision.handover_on <= TODAY


# -- the policy document ---------------------------------------------------------------------


def test_an_empty_document_is_the_default_policy() -> None:
    assert validate_policy({}) == Policy()


def test_a_full_document() -> None:
    policy = validate_policy(
        {
            "mode": "automatic",
            "min_days_overdue": 1,
            "min_amount": 0,
            "exclude_customer_groups": [3, 4, 3],
            "start_step": "collection_notice",
            "notice_days": 0,
        }
    )
    assert policy == Policy(
        mode="automatic",
        min_days_overdue=1,
        min_amount=0,
        exclude_customer_groups=(3, 4),
        start_step="collection_notice",
        notice_days=0,
    )


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"min_days_overdue": 0}, "min_days_overdue"),
        ({"min_days_overdue": -5}, "min_days_overdue"),
        ({"min_days_overdue": "10"}, "min_days_overdue"),
        ({"min_days_overdue": 10.0}, "min_days_overdue"),
        ({"min_days_overdue": True}, "min_days_overdue"),
        ({"min_days_overdue": 5000}, "min_days_overdue"),
        ({"min_amount": -1}, "min_amount"),
        ({"min_amount": 100.5}, "min_amount"),
        ({"min_amount": None}, "min_amount"),
        ({"notice_days": -1}, "notice_days"),
        ({"notice_days": 366}, "notice_days"),
        ({"mode": "sometimes"}, "mode"),
        ({"start_step": "bailiff"}, "start_step"),
        ({"exclude_customer_groups": 3}, "exclude_customer_groups"),
        ({"exclude_customer_groups": ["3"]}, "exclude_customer_groups"),
        ({"exclude_customer_groups": [0]}, "exclude_customer_groups"),
        ({"min_days": 10}, "min_days"),
    ],
)
def test_a_bad_field_is_refused_by_name(document: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidPolicy) as caught:
        validate_policy(document)
    assert caught.value.field == field
    assert caught.value.code == "validation_failed"
    assert str(caught.value).startswith(f"policy.{field}: ")


def test_every_bad_field_is_listed() -> None:
    with pytest.raises(InvalidPolicy) as caught:
        validate_policy({"min_days_overdue": 0, "notice_days": -1, "extra": 1})
    assert {e["field"] for e in caught.value.errors} == {"min_days_overdue", "notice_days", "extra"}
    assert caught.value.detail == list(caught.value.errors)


@pytest.mark.parametrize("document", [[], "manual", None, 3])
def test_a_document_that_is_not_an_object_is_refused(document: object) -> None:
    with pytest.raises(InvalidPolicy, match="JSON object"):
        validate_policy(document)


# -- actions ---------------------------------------------------------------------------------

ALLOWED: dict[Action, dict[ClaimState, ClaimState]] = {
    "approve": {"awaiting_approval": "in_collection", "scheduled": "in_collection"},
    "propose": {"monitoring": "awaiting_approval", "awaiting_approval": "awaiting_approval"},
    "hold": {
        "monitoring": "held", "awaiting_approval": "held", "scheduled": "held", "held": "held",
    },
    "release": {"held": "monitoring"},
    "dispute": {
        "monitoring": "monitoring", "awaiting_approval": "monitoring",
        "scheduled": "monitoring", "held": "held",
    },
    "undispute": {"monitoring": "monitoring", "held": "held"},
    "withdraw": {
        "monitoring": "withdrawn", "awaiting_approval": "withdrawn", "scheduled": "withdrawn",
        "held": "withdrawn", "in_collection": "withdrawn", "withdrawn": "withdrawn",
    },
}  # fmt: skip
CASES = [(action, state) for action in get_args(Action) for state in get_args(ClaimState)]


def test_the_table_is_the_documented_one() -> None:
    assert ACTIONS == ALLOWED


@pytest.mark.parametrize(("action", "state"), CASES)
def test_each_action_in_each_state(action: Action, state: ClaimState) -> None:
    if state in ALLOWED[action]:
        assert claim_action(state, action) == ALLOWED[action][state]
        return
    with pytest.raises(InvalidClaimState) as caught:
        claim_action(state, action)
    assert caught.value.code == "invalid_state"
    assert (caught.value.state, caught.value.action) == (state, action)
    assert state in str(caught.value)


def test_a_closed_claim_allows_nothing() -> None:
    for action in get_args(Action):
        with pytest.raises(InvalidClaimState):
            claim_action("closed", action)
