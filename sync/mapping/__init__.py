"""Pure mapping from ledger records to what the collection platform receives.

No I/O and no clock: every function takes values (``today`` included) and returns values.

    debtor_of(customer, settings) -> Mapped[Debtor]              (debtors.py)
    claim_of(invoice, base_currency=...) -> Mapped[ClaimDraft]   (claims.py)
    fingerprint(value) -> str                                    (fingerprints.py)
    select_page(page, today=..., customers_with_claims=...)      (selection.py)
    leaves_ledger(invoice, today=..., customers_with_claims=...)
    today_in_copenhagen(now) -> date

A mapping never raises for bad ledger data: it returns ``Mapped(value, problems)`` (problems.py),
so the caller records the problems and still decides what to do with the rest.
"""

from sync.mapping.claims import ClaimDraft, claim_of, vat_rate_of
from sync.mapping.countries import country_code, language_of
from sync.mapping.debtors import debtor_of, opened_channels
from sync.mapping.fingerprints import fingerprint
from sync.mapping.problems import Mapped, MappingProblem
from sync.mapping.selection import (
    PageSelection,
    is_credit_note,
    is_open_credit_note,
    is_overdue,
    leaves_ledger,
    select_page,
    today_in_copenhagen,
)

__all__ = [
    "ClaimDraft",
    "Mapped",
    "MappingProblem",
    "PageSelection",
    "claim_of",
    "country_code",
    "debtor_of",
    "fingerprint",
    "is_credit_note",
    "is_open_credit_note",
    "is_overdue",
    "language_of",
    "leaves_ledger",
    "opened_channels",
    "select_page",
    "today_in_copenhagen",
    "vat_rate_of",
]
