"""e-conomic webhook hints: the placeholders of a hint's URL parsed, and the job each one makes.

e-conomic signs nothing and sends no body of use (contracts/economic.md): a hint is its URL,
``/webhooks/economic/<key>/<url secret>/<topic>`` with the placeholders as query parameters
(`plugin.onboarding.webhook_urls` writes them):

    invoice    ?number=[INVOICENO]                                   → sync.invoice
    customer   ?new=[NEWNUMBER]&old=[OLDNUMBER]                      → sync.customer
    daybook    ?daybook=[DAYBOOKNO]&from=[FROMSERIALNO]&to=[TOSERIALNO] → sync.remainders

Nothing in a hint is trusted beyond "record X may have changed": the job re-reads the record.
A placeholder is a positive integer (ASCII digits, at most 18 of them: a BIGINT); a parameter
given twice, left unfilled (``[INVOICENO]``) or empty where it is needed is malformed
(`HintError`, a 400). For a customer either number may be missing (what e-conomic fills in
for a created or deleted customer is unverified), not both; the job is for the new number when
there is one. Parameters we do not know are ignored.

The dedupe key of a hint's inbox row ends in a random id, unique per delivery: the same record
changing again later is a new hint, never a duplicate of the first, and e-conomic's retry of a
delivery cannot be told from a new change anyway. Repeated hints coalesce in the jobs instead
(a queued ``invoice:<agreement>:<n>`` absorbs the next one; `sync.schedules`).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable

import msgspec

from sync import schedules
from sync.jobs import NewJob

TOPICS = ("invoice", "customer", "daybook")
_NUMBER = re.compile(r"[0-9]{1,18}")


class HintError(Exception):
    code = "malformed_placeholder"


class InvoiceHint(msgspec.Struct, frozen=True, kw_only=True, tag="invoice"):
    number: int


class CustomerHint(msgspec.Struct, frozen=True, kw_only=True, tag="customer"):
    number: int
    old: int | None = None


class DaybookHint(msgspec.Struct, frozen=True, kw_only=True, tag="daybook"):
    daybook: int
    first: int
    last: int


Hint = InvoiceHint | CustomerHint | DaybookHint


def _single(query: Iterable[tuple[str, str]]) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in query:
        if name in values:
            raise HintError(f"the parameter {name!r} is given twice")
        values[name] = value
    return values


def _number(values: dict[str, str], name: str, *, required: bool = True) -> int | None:
    raw = values.get(name, "")
    if not raw and not required:
        return None
    if not _NUMBER.fullmatch(raw) or int(raw) == 0:
        raise HintError(f"{name} must be a positive integer")
    return int(raw)


def parse_hint(topic: str, query: Iterable[tuple[str, str]]) -> Hint:
    """The hint of a URL's ``topic`` (one of `TOPICS`) and query parameters, or `HintError`."""
    values = _single(query)
    if topic == "invoice":
        return InvoiceHint(number=_required(values, "number"))
    if topic == "customer":
        new, old = _number(values, "new", required=False), _number(values, "old", required=False)
        number = new if new is not None else old
        if number is None:
            raise HintError("new or old must be a customer number")
        return CustomerHint(number=number, old=old)
    if topic == "daybook":
        return DaybookHint(
            daybook=_required(values, "daybook"),
            first=_required(values, "from"),
            last=_required(values, "to"),
        )
    raise HintError(f"unknown topic {topic!r}")


def _required(values: dict[str, str], name: str) -> int:
    number = _number(values, name)
    assert number is not None
    return number


def hint_job(hint: Hint, installation_id: int, agreement: int) -> NewJob:
    """The coalescing re-fetch job a hint asks for (kinds and keys of DESIGN.md, Jobs)."""
    if isinstance(hint, InvoiceHint):
        return schedules.invoice(installation_id, agreement, hint.number)
    if isinstance(hint, CustomerHint):
        return schedules.customer(installation_id, agreement, hint.number, hint.old)
    return schedules.remainders(installation_id, agreement)


def hint_record(hint: Hint) -> int:
    """The record a hint names: the invoice, the customer, the day book."""
    if isinstance(hint, DaybookHint):
        return hint.daybook
    return hint.number


def hint_dedupe_key(installation_id: int, topic: str, hint: Hint, delivery: str) -> str:
    """``economic:<installation>:<topic>:<record>:<delivery>``, ``delivery`` unique per request."""
    return f"economic:{installation_id}:{topic}:{hint_record(hint)}:{delivery}"


def new_delivery_id() -> str:
    return secrets.token_hex(8)


def encode_hint(hint: Hint) -> bytes:
    """What the inbox keeps of a hint: its parsed placeholders (never the URL, which carries
    the secret), e.g. ``{"type":"invoice","number":10001}``."""
    return msgspec.json.encode(hint)
