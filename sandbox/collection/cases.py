"""The case engine's rules, pure: step schedule, fees, allocation and channel choice.

Schedule (days after entering the step): reminder_1 → reminder_2 → reminder_3 → collection_notice
(10 days after the last reminder) → collection_letter (10 days after the notice, the notice's
deadline) → court_claim (30 days later). ``payment_plan`` is only entered when a debtor agrees to
one, which the sandbox does not simulate; ``bailiff`` is never reached automatically.

Fees (DKK claims only, charged per claim): DKK 100 per reminder, at most 3; DKK 100 once when the
collection letter goes out (the first collection cost, after the notice's deadline); the DKK 310
compensation (§ 9 a) once per claim of a company debtor when the claim enters a case. Other
currencies get interest only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

STEPS = (
    "reminder_1",
    "reminder_2",
    "reminder_3",
    "collection_notice",
    "collection_letter",
    "payment_plan",
    "court_claim",
    "bailiff",
)
START_STEPS = ("reminder_1", "collection_notice")
_SCHEDULE: dict[str, tuple[str, int]] = {
    "reminder_1": ("reminder_2", 10),
    "reminder_2": ("reminder_3", 10),
    "reminder_3": ("collection_notice", 10),
    "collection_notice": ("collection_letter", 10),
    "collection_letter": ("court_claim", 30),
}
LETTER_STEPS = frozenset(
    {
        "reminder_1",
        "reminder_2",
        "reminder_3",
        "collection_notice",
        "collection_letter",
        "court_claim",
    }
)
FEE_CURRENCY = "DKK"
REMINDER_FEE = 10_000
MAX_REMINDER_FEES = 3
COLLECTION_FEE = 10_000
COMPENSATION = 31_000


@dataclass(frozen=True)
class Transition:
    from_step: str
    to_step: str
    on: dt.date


def transitions(step: str, entered_on: dt.date, until: dt.date) -> list[Transition]:
    """Every step change due after ``entered_on`` up to and including ``until``, in order."""
    found: list[Transition] = []
    while step in _SCHEDULE:
        to_step, gap = _SCHEDULE[step]
        on = entered_on + dt.timedelta(days=gap)
        if on > until:
            break
        found.append(Transition(step, to_step, on))
        step, entered_on = to_step, on
    return found


def step_fees(step: str, currency: str, reminder_fees_so_far: int) -> list[tuple[str, int]]:
    """Fees one claim is charged when its case enters ``step``: ``[(kind, amount)]``."""
    if currency != FEE_CURRENCY:
        return []
    if step.startswith("reminder_") and reminder_fees_so_far < MAX_REMINDER_FEES:
        return [("reminder_fee", REMINDER_FEE)]
    if step == "collection_letter":
        return [("collection_fee", COLLECTION_FEE)]
    return []


def joining_fees(currency: str, company: bool) -> list[tuple[str, int]]:
    """Fees one claim is charged when it enters a case."""
    if currency == FEE_CURRENCY and company:
        return [("compensation", COMPENSATION)]
    return []


def is_company(debtor: Mapping[str, Any]) -> bool:
    """Company when the debtor has a CVR or an EAN number (domain.md: B2B or B2C)."""
    return bool(debtor.get("cvr") or debtor.get("ean"))


@dataclass(frozen=True)
class Balance:
    claim_ref: str
    due_on: dt.date
    fees: int
    interest: int
    principal: int


@dataclass(frozen=True)
class Allocation:
    claim_ref: str
    principal: int
    interest: int
    fees: int

    @property
    def total(self) -> int:
        return self.principal + self.interest + self.fees


def allocate(amount: int, balances: Iterable[Balance]) -> tuple[list[Allocation], int]:
    """Spread ``amount`` oldest due date first, costs → interest → principal within a claim.

    Returns the allocations (claims that got nothing are left out) and what was left over.
    """
    left = amount
    result: list[Allocation] = []
    for balance in sorted(balances, key=lambda b: (b.due_on, b.claim_ref)):
        fees = min(left, balance.fees)
        interest = min(left - fees, balance.interest)
        principal = min(left - fees - interest, balance.principal)
        allocation = Allocation(balance.claim_ref, principal, interest, fees)
        if allocation.total:
            result.append(allocation)
            left -= allocation.total
    return result, left


DEFAULT_CHANNELS = ("nemhandel", "eboks", "ehf", "email", "sms", "letter")


def usable_channels(debtor: Mapping[str, Any]) -> set[str]:
    """Channels the debtor's identifiers open (domain.md's channel table)."""
    address = debtor.get("address") or {}
    country = str(address.get("country", "")).upper()
    usable: set[str] = set()
    if debtor.get("ean") or (debtor.get("cvr") and country in ("", "DK")):
        usable.add("nemhandel")
    if debtor.get("cvr") and country in ("", "DK"):
        usable.add("eboks")
    if debtor.get("cvr") and country == "NO":
        usable.add("ehf")
    if debtor.get("email"):
        usable.add("email")
    if debtor.get("phone"):
        usable.add("sms")
    if all(address.get(field) for field in ("street", "zip", "city")):
        usable.add("letter")
    return usable


def choose_channel(debtor: Mapping[str, Any]) -> str | None:
    """The first channel of the debtor's list that its identifiers open, else None."""
    preferred: Sequence[str] = debtor.get("channels") or DEFAULT_CHANNELS
    usable = usable_channels(debtor)
    return next((channel for channel in preferred if channel in usable), None)
