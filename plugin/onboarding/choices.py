"""Onboarding's choices, checked and completed with defaults: a pure function of what a person
asked for (the page, ``PUT …/onboarding``, ``collectbridge onboard``) and the company's own
journals and chart of accounts.

    resolve(choices, journals=…, accounts=…) -> Resolved      or OnboardingInvalid (422)

Defaults, where the contracts leave the choice to us:

- **Journal.** e-conomic offers no way to create a journal (contracts/economic.md lists
  ``GET /journals`` only; the simulator has none either), so "the app's own journal"
  (``journal_number: null``) is *picked*: the first unrestricted journal whose name says it is
  ours (``collectbridge``), else one for debt collection (``inkasso``, ``collection``). When
  there is none, ``journal_number`` stays null and a note says what to do: create a journal
  named "collectbridge" in e-conomic and run onboarding again. A journal given by number must
  exist and take every entry type: the push-back writes customer payments *and* finance lines.
- **Accounts.** Chosen by type and name, since account numbers differ from chart to chart:
  income and loss among ``profitAndLoss`` accounts, output VAT among ``status`` accounts, by the
  words Danish (and English) charts use ("Renteindtægter", "Gebyrindtægter", "Tab på
  debitorer", "Salgsmoms"); among several, one in the range a Danish 4-digit chart keeps that
  kind in (profit and loss 1000–4999, balance 5000–9999) before others, then the lowest
  number. None found → null and a note (an admin picks it). A given account must exist, be a
  postable account (no heading or total) and not be barred.
- **Policy**: `sync.company_settings.Policy`'s defaults, checked by `sync.policy.validate_policy`
  (``min_days_overdue`` < 1 → 422). **Channels**: a non-empty ordered subset of the platform's
  channels, no repeats. **Business customer groups**: customer group numbers, none by default.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal

import msgspec

from sync.clients.collection_types import Channel
from sync.clients.economic_types import Account, Journal
from sync.company_settings import DEFAULT_CHANNELS, Accounts, Policy
from sync.errors import ValidationError
from sync.policy import validate_policy

CollectionMode = Literal["create", "link"]
Number = Annotated[int, msgspec.Meta(ge=1)]
POSTABLE = frozenset({"profitAndLoss", "status"})
APP_JOURNAL_NAME = "collectbridge"
ACCOUNT_FIELDS = ("interest_income", "fee_income", "loss", "output_vat")
ACCOUNT_LABELS = {
    "interest_income": "interest income",
    "fee_income": "fee income",
    "loss": "bad-debt loss",
    "output_vat": "output VAT",
}


class CollectionChoice(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    mode: CollectionMode = "create"
    """create: a new collection account for the company; link: one it already has (OAuth)."""


class AccountChoices(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Ledger account numbers; one left out (or null) takes its default."""

    interest_income: Number | None = None
    fee_income: Number | None = None
    loss: Number | None = None
    output_vat: Number | None = None


class OnboardingChoices(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What onboarding is asked to do; everything left out takes its default.

    ``journal_number`` null: the app's own journal. ``policy`` is the body of
    ``PUT …/policy`` (fields left out take their defaults)."""

    collection: CollectionChoice = CollectionChoice()
    journal_number: Number | None = None
    accounts: AccountChoices | None = None
    business_customer_groups: list[Number] | None = None
    policy: dict[str, Any] | None = None
    channels: list[Channel] | None = None


class Note(msgspec.Struct, frozen=True, kw_only=True):
    """Something onboarding could not settle by itself: what a person should do."""

    code: str
    message: str


class Resolved(msgspec.Struct, frozen=True, kw_only=True):
    collection_mode: CollectionMode
    journal_number: int | None
    journal_name: str | None
    accounts: Accounts
    business_customer_groups: tuple[int, ...]
    policy: Policy
    channels: tuple[Channel, ...]
    notes: tuple[Note, ...] = ()


class OnboardingError(Exception):
    """Onboarding turned away or stopped; ``message`` is safe to show, ``code`` is stable."""

    status = 409

    def __init__(self, code: str, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        if status is not None:
            self.status = status


class OnboardingInvalid(OnboardingError):
    """A choice we cannot take (422); ``field`` names it (``accounts.loss``, ``policy.mode``)."""

    status = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__("invalid_choice", f"{field}: {message}" if field else message)
        self.field = field


def resolve(
    choices: OnboardingChoices, *, journals: Sequence[Journal], accounts: Sequence[Account]
) -> Resolved:
    notes: list[Note] = []
    journal = _journal(choices.journal_number, journals, notes)
    return Resolved(
        collection_mode=choices.collection.mode,
        journal_number=journal.journal_number if journal else None,
        journal_name=journal.name if journal else None,
        accounts=_accounts(choices.accounts or AccountChoices(), accounts, notes),
        business_customer_groups=_groups(choices.business_customer_groups),
        policy=_policy(choices.policy),
        channels=_channels(choices.channels),
        notes=tuple(notes),
    )


# -- journal ------------------------------------------------------------------------------------


def _restricted(journal: Journal) -> str | None:
    return journal.settings.entry_type_restricted_to if journal.settings else None


def usable_journals(journals: Sequence[Journal]) -> list[Journal]:
    """The journals the app can book in: those that take every entry type."""
    return [j for j in journals if not _restricted(j)]


def pick_journal(journals: Sequence[Journal]) -> Journal | None:
    """The app's own journal among the company's: ours by name first, then debt collection's."""
    open_ones = usable_journals(journals)
    for words in ((APP_JOURNAL_NAME,), ("inkasso", "collection")):
        found = [j for j in open_ones if any(w in j.name.lower() for w in words)]
        if found:
            return min(found, key=lambda j: j.journal_number)
    return None


def _journal(number: int | None, journals: Sequence[Journal], notes: list[Note]) -> Journal | None:
    if number is None:
        picked = pick_journal(journals)
        if picked is None:
            notes.append(
                Note(
                    code="journal_missing",
                    message=(
                        "No journal of the app's was found, and e-conomic does not let apps "
                        f'create one. Create a journal named "{APP_JOURNAL_NAME}" in e-conomic '
                        "(Settings → Journals) and run onboarding again, or pick a journal."
                    ),
                )
            )
        return picked
    journal = next((j for j in journals if j.journal_number == number), None)
    if journal is None:
        raise OnboardingInvalid("journal_number", f"the company has no journal {number}")
    if restricted := _restricted(journal):
        raise OnboardingInvalid(
            "journal_number",
            f"journal {number} only takes {restricted} entries; the app books customer "
            "payments and finance lines, so pick a journal without that restriction",
        )
    return journal


# -- accounts -----------------------------------------------------------------------------------

Match = Callable[[str], bool]


def _words(*patterns: str) -> Match:
    compiled = [re.compile(p) for p in patterns]
    return lambda name: any(p.search(name) for p in compiled)


# Per account: the account type it must have, then the name rules, most specific first.
RULES: dict[str, tuple[str, tuple[Match, ...]]] = {
    "interest_income": (
        "profitAndLoss",
        (_words(r"renteindt", r"interest income"), _words(r"\brente", r"\binterest")),
    ),
    "fee_income": (
        "profitAndLoss",
        (_words(r"gebyrindt", r"fee income"), _words(r"gebyr", r"\bfees?\b")),
    ),
    "loss": (
        "profitAndLoss",
        (
            _words(r"tab på debitor", r"debitortab", r"bad debt"),
            _words(r"\btab\b", r"\blosse?s?\b"),
        ),
    ),
    "output_vat": (
        "status",
        (_words(r"salgsmoms", r"udgående moms", r"output vat", r"sales vat"),),
    ),
}
# Where a Danish 4-digit chart keeps each account type (a preference among name matches only).
RANGES = {"profitAndLoss": range(1000, 5000), "status": range(5000, 10000)}
EXPENSE = _words(r"udgift", r"omkostning", r"expense", r"\bcost")


def default_account(field: str, accounts: Sequence[Account]) -> Account | None:
    kind, rules = RULES[field]
    candidates = [a for a in accounts if a.account_type == kind and not a.barred]
    for rule in rules:
        found = [a for a in candidates if rule(a.name.lower()) and not EXPENSE(a.name.lower())]
        if found:
            in_range = RANGES[kind]
            return min(found, key=lambda a: (a.account_number not in in_range, a.account_number))
    return None


def _accounts(given: AccountChoices, accounts: Sequence[Account], notes: list[Note]) -> Accounts:
    chosen: dict[str, int | None] = {}
    by_number = {a.account_number: a for a in accounts}
    for field in ACCOUNT_FIELDS:
        number = getattr(given, field)
        if number is not None:
            _check_account(field, by_number.get(number), number)
            chosen[field] = number
            continue
        found = default_account(field, accounts)
        chosen[field] = found.account_number if found else None
        if found is None:
            notes.append(
                Note(
                    code=f"account_missing:{field}",
                    message=f"No {ACCOUNT_LABELS[field]} account was recognised in the chart "
                    "of accounts: an admin picks one.",
                )
            )
    return Accounts(**chosen)


def _check_account(field: str, account: Account | None, number: int) -> None:
    where = f"accounts.{field}"
    if account is None:
        raise OnboardingInvalid(where, f"the chart of accounts has no account {number}")
    if account.account_type not in POSTABLE:
        kind = account.account_type
        raise OnboardingInvalid(where, f"account {number} is a {kind}, not a postable account")
    if account.barred:
        raise OnboardingInvalid(where, f"account {number} is barred")


# -- policy, groups, channels -------------------------------------------------------------------


def _policy(document: dict[str, Any] | None) -> Policy:
    try:
        return validate_policy(document if document is not None else {})
    except ValidationError as exc:
        field = getattr(exc, "field", "")
        raise OnboardingInvalid(f"policy.{field}" if field else "policy", _first(exc)) from exc


def _first(exc: ValidationError) -> str:
    errors = exc.detail if isinstance(exc.detail, list) else []
    return str(errors[0]["message"]) if errors and isinstance(errors[0], dict) else exc.message


def _groups(groups: list[int] | None) -> tuple[int, ...]:
    if groups is None:
        return ()
    if len(set(groups)) != len(groups):
        raise OnboardingInvalid("business_customer_groups", "a customer group is named twice")
    return tuple(sorted(groups))


def _channels(channels: list[Channel] | None) -> tuple[Channel, ...]:
    if channels is None:
        return DEFAULT_CHANNELS
    if not channels:
        raise OnboardingInvalid("channels", "name at least one channel")
    if len(set(channels)) != len(channels):
        raise OnboardingInvalid("channels", "a channel is named twice")
    return tuple(channels)
