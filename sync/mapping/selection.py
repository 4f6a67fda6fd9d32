"""What leaves the ledger: which booked invoices become claims, which customers debtors.

- An **invoice** (gross ≥ 0) leaves when something is still owed (remainder > 0) and its due
  date has passed (``due_date < today``, today being the date in Europe/Copenhagen).
- A **credit note** (gross < 0) leaves when it is still open (remainder < 0) and its customer
  has at least one claim: never on its own. A remainder of the other sign (an overpaid invoice,
  a credit note paid out twice) is nothing the claim contract can carry, so it stays.
- A **customer** becomes a debtor only once it has a claim.

Pages stream through `select_page`, a fold: it takes the customers that have claims so far
and the credit notes deferred so far (open, but their customer had no claim yet) and returns
both updated, so no page has to be held after it was read. Credit notes still deferred when the
stream ends belong to customers without claims and are dropped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Set
from zoneinfo import ZoneInfo

import msgspec

from sync.clients.economic_types import BookedInvoice

COPENHAGEN = ZoneInfo("Europe/Copenhagen")


def today_in_copenhagen(now: dt.datetime) -> dt.date:
    """The business date at ``now`` (aware): due dates are Danish calendar days."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(COPENHAGEN).date()


def is_credit_note(invoice: BookedInvoice) -> bool:
    return invoice.gross_amount < 0


def is_overdue(invoice: BookedInvoice, *, today: dt.date) -> bool:
    """An invoice still owed whose due date has passed."""
    return (
        not is_credit_note(invoice)
        and invoice.remainder > 0
        and invoice.due_date is not None
        and invoice.due_date < today
    )


def is_open_credit_note(invoice: BookedInvoice) -> bool:
    return is_credit_note(invoice) and invoice.remainder < 0


def leaves_ledger(
    invoice: BookedInvoice, *, today: dt.date, customers_with_claims: Set[int]
) -> bool:
    """One invoice judged alone, given the customers known to have claims."""
    if is_overdue(invoice, today=today):
        return True
    customer = invoice.customer.customer_number
    return is_open_credit_note(invoice) and customer in customers_with_claims


class PageSelection(msgspec.Struct, frozen=True, kw_only=True):
    claims: tuple[BookedInvoice, ...]  # overdue invoices of this page
    credit_notes: tuple[BookedInvoice, ...]  # open credit notes now due to be sent
    deferred: tuple[BookedInvoice, ...]  # open credit notes whose customer has no claim yet
    customers: frozenset[int]  # every customer with a claim, after this page
    new_customers: frozenset[int]  # those that got their first claim on this page: push debtors


def select_page(
    page: Iterable[BookedInvoice],
    *,
    today: dt.date,
    customers_with_claims: Set[int],
    deferred: Iterable[BookedInvoice] = (),
) -> PageSelection:
    """One page of the stream, given what earlier pages (or the store) established."""
    items = tuple(page)
    claims = tuple(invoice for invoice in items if is_overdue(invoice, today=today))
    found = {invoice.customer.customer_number for invoice in claims}
    customers = frozenset(customers_with_claims) | found
    open_notes = (*deferred, *(i for i in items if is_open_credit_note(i)))
    ready = tuple(n for n in open_notes if n.customer.customer_number in customers)
    waiting = tuple(n for n in open_notes if n.customer.customer_number not in customers)
    return PageSelection(
        claims=claims,
        credit_notes=ready,
        deferred=waiting,
        customers=customers,
        new_customers=frozenset(found - set(customers_with_claims)),
    )
