"""Collection events typed at the boundary, and what each one means (pure).

    event = decode(body)           # one Struct per type (a tagged union on ``type``), or Unknown
    for effect in effects(event):  # what processing does about it (`sync.inbox_processing`)
    cursor, seen = track(cursor, seen, event.sequence)   # the account's contiguous sequence

Events are ``{id, type, account_id, sequence, occurred_at, data}`` (contracts/collection-api.md).
One module-level `msgspec` decoder reads the union; an event of a type the contract does not
list (a platform newer than this code) decodes to `Unknown`, to be recorded and skipped, never a
crash; an event of a listed type whose ``data`` does not have the contract's shape, or a body
that is no event at all, raises `UnreadableEvent` (the same bytes will not read better tomorrow).
The ``data`` of ``payment.received`` and ``case.closed`` are push-back's own Structs
(`sync.collection_events`), so both read an event alike.

`effects` is where the meaning lives:

    case.opened            the claims of ``claim_refs`` are in that case (``in_collection``)
    case.step_changed      a timeline entry of the case
    letter.sent            a timeline entry of the case
    case.closed            the case's claims end (paid → closed, withdrawn → withdrawn,
                           written_off → closed); written_off → ``pushback.writeoff``
    payment.received       collector → ``pushback.payment``; creditor → nothing: it is the
                           ledger's own money, reported from there (no echo)
    claim.rejected         a problem (``rejected_by_collector``) saying what to do
    account.grant_revoked  the collection link is lost

Sequences increase by one per account, but deliveries are unordered and may be lost: `track`
keeps the highest contiguous sequence (the cursor) and the ones seen beyond it; while any is
beyond it, a gap is open and the events feed is read after the cursor. (An event stored and
not processed yet is seen: `sequence_of` reads its sequence.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, Literal

import msgspec

from sync.collection_events import CaseClosed, PaymentReceived

Step = str  # reminder_1 … bailiff: kept as text, a new step is no reason to refuse an event


class UnreadableEvent(ValueError):
    """A body that is no event of the contract's shape."""

    code = "unreadable_event"


class _Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    id: str
    account_id: str = ""
    sequence: int
    occurred_at: dt.datetime


# -- data ---------------------------------------------------------------------------------------


class CaseOpenedData(msgspec.Struct, frozen=True, kw_only=True):
    case_id: str
    debtor_ref: str = ""
    claim_refs: tuple[str, ...] = ()
    step: Step = ""


class StepChangedData(msgspec.Struct, frozen=True, kw_only=True):
    case_id: str
    from_step: Step | None = None
    to_step: Step


class LetterSentData(msgspec.Struct, frozen=True, kw_only=True):
    case_id: str
    kind: str = ""
    channel: str = ""
    sent_at: dt.datetime | None = None


class ClaimRejectedData(msgspec.Struct, frozen=True, kw_only=True):
    claim_ref: str
    code: str = ""
    detail: str = ""


class NoData(msgspec.Struct, frozen=True, kw_only=True):
    pass


# -- the union ----------------------------------------------------------------------------------


class CaseOpenedEvent(_Event, frozen=True, kw_only=True, tag="case.opened"):
    data: CaseOpenedData


class StepChangedEvent(_Event, frozen=True, kw_only=True, tag="case.step_changed"):
    data: StepChangedData


class CaseClosedEvent(_Event, frozen=True, kw_only=True, tag="case.closed"):
    data: CaseClosed


class PaymentReceivedEvent(_Event, frozen=True, kw_only=True, tag="payment.received"):
    data: PaymentReceived


class LetterSentEvent(_Event, frozen=True, kw_only=True, tag="letter.sent"):
    data: LetterSentData


class ClaimRejectedEvent(_Event, frozen=True, kw_only=True, tag="claim.rejected"):
    data: ClaimRejectedData


class GrantRevokedEvent(_Event, frozen=True, kw_only=True, tag="account.grant_revoked"):
    data: NoData = NoData()


Event = (
    CaseOpenedEvent
    | StepChangedEvent
    | CaseClosedEvent
    | PaymentReceivedEvent
    | LetterSentEvent
    | ClaimRejectedEvent
    | GrantRevokedEvent
)
TYPES: frozenset[str] = frozenset(
    str(kind.__struct_config__.tag)
    for kind in (
        CaseOpenedEvent,
        StepChangedEvent,
        CaseClosedEvent,
        PaymentReceivedEvent,
        LetterSentEvent,
        ClaimRejectedEvent,
        GrantRevokedEvent,
    )
)


class Unknown(msgspec.Struct, frozen=True, kw_only=True):
    """An event of a type this code does not know: recorded and skipped."""

    id: str
    type: str
    sequence: int


_DECODER = msgspec.json.Decoder(Event)
_ENVELOPE = msgspec.json.Decoder(Unknown)


def decode(body: bytes) -> Event | Unknown:
    try:
        return _DECODER.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        reason = str(exc)
    try:
        envelope = _ENVELOPE.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError):
        raise UnreadableEvent(f"not an event: {reason}") from None
    if envelope.type in TYPES:
        raise UnreadableEvent(f"a {envelope.type} event the contract does not describe: {reason}")
    return envelope


class _Sequence(msgspec.Struct, frozen=True):
    sequence: int


_SEQUENCE = msgspec.json.Decoder(_Sequence)


def sequence_of(body: bytes) -> int | None:
    """The sequence of a stored event, or None when the body has none."""
    try:
        return _SEQUENCE.decode(body).sequence
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


# -- effects --------------------------------------------------------------------------------------


class OpenCase(msgspec.Struct, frozen=True, kw_only=True):
    case_id: str
    invoices: tuple[int, ...]


class CloseCase(msgspec.Struct, frozen=True, kw_only=True):
    case_id: str
    reason: Literal["paid", "withdrawn", "written_off"]
    invoices: tuple[int, ...]
    """Claims the event names (a write-off's); the case's own claims are found by its id."""


class Note(msgspec.Struct, frozen=True, kw_only=True):
    """An entry on the timeline of a case (``case_id``) or of one claim (``invoice``)."""

    kind: str
    detail: dict[str, Any]
    case_id: str | None = None
    invoice: int | None = None


class PushPayment(msgspec.Struct, frozen=True, kw_only=True):
    payment_id: str
    case_id: str


class PushWriteOff(msgspec.Struct, frozen=True, kw_only=True):
    case_id: str


class Rejected(msgspec.Struct, frozen=True, kw_only=True):
    claim_ref: str
    invoice: int | None
    code: str
    detail: str


class LinkLost(msgspec.Struct, frozen=True, kw_only=True):
    pass


Effect = OpenCase | CloseCase | Note | PushPayment | PushWriteOff | Rejected | LinkLost


def invoice_of(ref: str) -> int | None:
    """The invoice number a claim ref names (we put claims as ``external_ref`` = the number)."""
    return int(ref) if ref.isascii() and ref.isdigit() and len(ref) <= 18 else None


def _invoices(refs: Iterable[str]) -> tuple[int, ...]:
    return tuple(sorted({n for ref in refs if (n := invoice_of(ref)) is not None}))


def effects(event: Event | Unknown) -> tuple[Effect, ...]:
    """What ``event`` means for us, in the order to apply it."""
    match event:
        case CaseOpenedEvent(data=d):
            detail: dict[str, Any] = {"step": d.step, "claim_refs": list(d.claim_refs)}
            return (
                OpenCase(case_id=d.case_id, invoices=_invoices(d.claim_refs)),
                Note(kind="case_opened", case_id=d.case_id, detail=detail),
            )
        case StepChangedEvent(data=d):
            detail = {"from_step": d.from_step, "to_step": d.to_step}
            return (Note(kind="step_changed", case_id=d.case_id, detail=detail),)
        case LetterSentEvent(data=d):
            sent_at = d.sent_at.isoformat() if d.sent_at else None
            detail = {"kind": d.kind, "channel": d.channel, "sent_at": sent_at}
            return (Note(kind="letter_sent", case_id=d.case_id, detail=detail),)
        case CaseClosedEvent(data=d):
            written = _invoices(w.claim_ref for w in d.write_offs)
            note = Note(kind="case_closed", case_id=d.case_id, detail={"reason": d.reason})
            close = CloseCase(case_id=d.case_id, reason=d.reason, invoices=written)
            if d.reason == "written_off":
                return (close, note, PushWriteOff(case_id=d.case_id))
            return (close, note)
        case PaymentReceivedEvent(data=d):
            detail = {
                "payment_id": d.payment_id,
                "amount": d.amount,
                "currency": d.currency,
                "source": d.source,
                "paid_on": d.paid_on.isoformat(),
                # The split per invoice, for each invoice's journey.
                "allocations": [
                    {
                        "invoice": invoice_of(a.claim_ref),
                        "principal": a.principal,
                        "interest": a.interest,
                        "fees": a.fees,
                    }
                    for a in d.allocations
                ],
            }
            note = Note(kind="payment_received", case_id=d.case_id, detail=detail)
            if d.source == "collector":
                return (note, PushPayment(payment_id=d.payment_id, case_id=d.case_id))
            return (note,)  # the creditor's own money: in the ledger already, never echoed
        case ClaimRejectedEvent(data=d):
            invoice = invoice_of(d.claim_ref)
            detail = {"code": d.code, "detail": d.detail}
            return (
                Rejected(claim_ref=d.claim_ref, invoice=invoice, code=d.code, detail=d.detail),
                Note(kind="claim_rejected", invoice=invoice, detail=detail),
            )
        case GrantRevokedEvent():
            return (LinkLost(),)
    return ()


# -- sequences ----------------------------------------------------------------------------------


def track(cursor: int, seen: Iterable[int], sequence: int) -> tuple[int, frozenset[int]]:
    """The contiguous cursor and the sequences seen beyond it, once ``sequence`` is seen too."""
    beyond = {s for s in seen if s > cursor}
    if sequence > cursor:
        beyond.add(sequence)
    while cursor + 1 in beyond:
        cursor += 1
        beyond.discard(cursor)
    return cursor, frozenset(beyond)


def caught_up(cursor: int, seen: Iterable[int], feed_after: int) -> tuple[int, frozenset[int]]:
    """After the feed was read up to ``feed_after``: nothing at or below it is missing."""
    cursor = max(cursor, feed_after)
    return track(cursor, seen, cursor)
