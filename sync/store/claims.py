"""Claims and the customers they belong to: what the engine keeps of the ledger, and what it sent.

A claim row is an overdue invoice (or an open credit note) as last read from the ledger, with
``fingerprint`` the content hash of the claim document and ``pushed_fingerprint`` the hash of
what the collection account holds: a claim is sent again only when the two differ. ``seen_scan``
is the number of the last complete-scan generation that met it, so a scan that reached its last
page can tell which open claims left the ledger (and a partial one never concludes anything).

A customer row holds only what the handover policy needs (group, barred) and the fingerprints of
its debtor document: names, addresses and e-mails are not stored here (data minimisation).
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Iterable
from typing import Any, Literal

import msgspec

from sync.store.db import Connection, to_struct

ClaimState = Literal[
    "monitoring",
    "awaiting_approval",
    "scheduled",
    "held",
    "in_collection",
    "closed",
    "withdrawn",
]
CLAIM_STATES: tuple[ClaimState, ...] = (
    "monitoring",
    "awaiting_approval",
    "scheduled",
    "held",
    "in_collection",
    "closed",
    "withdrawn",
)


class ClaimRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A claim as read from the ledger, ready to store (amounts in minor units)."""

    invoice_number: int
    customer_number: int
    kind: Literal["invoice", "credit_note"]
    currency: str
    gross_amount: int
    remaining: int
    remaining_base: int
    issued_on: dt.date
    due_date: dt.date
    document: dict[str, Any]
    fingerprint: str
    # The policy's first decision, stored only when the row is new (a claim already stored
    # keeps its state: the policy pass moves it). A new claim is so written once, not twice.
    state: ClaimState = "monitoring"
    announced_on: dt.date | None = None
    handover_on: dt.date | None = None


class StoredClaim(msgspec.Struct, frozen=True, kw_only=True):
    installation_id: int
    invoice_number: int
    customer_number: int
    kind: Literal["invoice", "credit_note"]
    currency: str
    gross_amount: int
    remaining: int
    remaining_base: int
    issued_on: dt.date
    due_date: dt.date
    document: dict[str, Any]
    fingerprint: str
    pushed_fingerprint: str | None
    collection_id: str | None
    state: ClaimState
    disputed: bool
    held: bool
    proposed: bool
    announced_on: dt.date | None
    handover_on: dt.date | None
    case_id: str | None
    seen_scan: int
    problem: str | None
    document_at: dt.datetime | None = None
    customer_group: int | None = None
    customer_barred: bool = False
    created_at: dt.datetime
    updated_at: dt.datetime


class ClaimStanding(msgspec.Struct, frozen=True, kw_only=True):
    """What the handover policy weighs of a stored claim (its document left out)."""

    invoice_number: int
    kind: Literal["invoice", "credit_note"]
    state: ClaimState
    due_date: dt.date
    remaining: int
    remaining_base: int
    disputed: bool
    held: bool
    proposed: bool
    announced_on: dt.date | None
    handover_on: dt.date | None
    customer_group: int | None = None
    customer_barred: bool = False


class StoredPrint(msgspec.Struct, frozen=True, kw_only=True):
    """What a scan compares of a stored claim with the ledger's."""

    invoice_number: int
    fingerprint: str
    state: ClaimState
    remaining: int


class Unsent(msgspec.Struct, frozen=True, kw_only=True):
    invoice_number: int
    customer_number: int
    kind: Literal["invoice", "credit_note"]
    document: dict[str, Any]
    fingerprint: str
    document_at: dt.datetime | None = None  # when its PDF went (None: not yet)
    pushed_fingerprint: str | None = None  # what the platform was last known to hold
    updated_at: dt.datetime | None = None  # when the claim was last recorded or marked


class CustomerRecord(msgspec.Struct, frozen=True, kw_only=True):
    customer_number: int
    customer_group: int | None
    barred: bool
    fingerprint: str | None
    last_updated: dt.datetime | None = None
    problem: str | None = None


class Claims:
    def __init__(self, db: Connection) -> None:
        self.db = db

    async def record(
        self,
        installation_id: int,
        claims: Iterable[ClaimRecord],
        *,
        scan: int,
        now: dt.datetime,
    ) -> None:
        rows = [
            {
                **msgspec.structs.asdict(c),
                "installation_id": installation_id,
                "seen_scan": scan,
                "now": now,
            }
            for c in claims
        ]
        if rows:
            await self.db.executemany("upsert_claim", rows)

    async def get(self, installation_id: int, invoice_number: int) -> StoredClaim | None:
        row = await self.db.fetchrow(
            "get_claim", installation_id=installation_id, invoice_number=invoice_number
        )
        return to_struct(row, StoredClaim) if row else None

    async def after(
        self,
        installation_id: int,
        *,
        after: int = 0,
        limit: int = 1000,
        state: ClaimState | None = None,
    ) -> builtins.list[StoredClaim]:
        """A page of claims by invoice number (``after`` the last one of the previous page)."""
        if state is None:
            rows = await self.db.fetch(
                "claims_after", installation_id=installation_id, after=after, limit=limit
            )
        else:
            rows = await self.db.fetch(
                "claims_in_state_after",
                installation_id=installation_id,
                state=state,
                after=after,
                limit=limit,
            )
        return [to_struct(r, StoredClaim) for r in rows]

    async def standings_after(
        self, installation_id: int, *, after: int = 0, limit: int = 1000
    ) -> builtins.list[ClaimStanding]:
        """A page of claims by invoice number as the policy sees them: reading the whole rows
        (documents decoded) would cost the bootstrap's policy pass more than deciding."""
        rows = await self.db.fetch(
            "claim_standings_after", installation_id=installation_id, after=after, limit=limit
        )
        return [to_struct(r, ClaimStanding) for r in rows]

    async def to_push(
        self, installation_id: int, *, after: int = 0, limit: int = 500
    ) -> builtins.list[Unsent]:
        rows = await self.db.fetch(
            "claims_to_push", installation_id=installation_id, after=after, limit=limit
        )
        return [to_struct(r, Unsent) for r in rows]

    async def mark_unsure(
        self, installation_id: int, invoice_numbers: Iterable[int], *, now: dt.datetime
    ) -> None:
        """What the platform holds for these claims is not known: each goes again with the next
        send (`sync.engine.Engine.send_claims`, a send whose lease was lost)."""
        rows = [
            {"installation_id": installation_id, "invoice_number": number, "now": now}
            for number in invoice_numbers
        ]
        if rows:
            await self.db.executemany("mark_claim_unsure", rows)

    async def mark_pushed(
        self,
        installation_id: int,
        pushed: Iterable[tuple[int, str, str | None]],
        *,
        now: dt.datetime,
    ) -> None:
        """``(invoice_number, fingerprint sent, collection id)`` for every claim the platform
        took."""
        rows = [
            {
                "installation_id": installation_id,
                "invoice_number": number,
                "fingerprint": fingerprint,
                "collection_id": collection_id,
                "now": now,
            }
            for number, fingerprint, collection_id in pushed
        ]
        if rows:
            await self.db.executemany("mark_claim_pushed", rows)

    async def set_problem(
        self, installation_id: int, invoice_number: int, problem: str | None, *, now: dt.datetime
    ) -> None:
        await self.db.execute(
            "set_claim_problem",
            installation_id=installation_id,
            invoice_number=invoice_number,
            problem=problem,
            now=now,
        )

    async def customers_with_claims(self, installation_id: int) -> set[int]:
        rows = await self.db.fetch("claim_customers", installation_id=installation_id)
        return {int(r["customer_number"]) for r in rows}

    async def set_states(
        self,
        installation_id: int,
        changes: Iterable[tuple[int, ClaimState, dt.date | None, dt.date | None]],
        *,
        now: dt.datetime,
    ) -> None:
        """``(invoice_number, state, announced_on, handover_on)`` as the policy decided."""
        rows = [
            {
                "installation_id": installation_id,
                "invoice_number": number,
                "state": state,
                "announced_on": announced_on,
                "handover_on": handover_on,
                "now": now,
            }
            for number, state, announced_on, handover_on in changes
        ]
        if rows:
            await self.db.executemany("set_claim_state", rows)

    async def change_state(
        self,
        claim: StoredClaim,
        *,
        state: ClaimState,
        now: dt.datetime,
        **flags: Any,
    ) -> bool:
        """Compare-and-set from the state ``claim`` was read in; False when it moved meanwhile.
        ``flags`` may set held, disputed, proposed, announced_on, handover_on."""
        values = {
            "held": claim.held,
            "disputed": claim.disputed,
            "proposed": claim.proposed,
            "announced_on": claim.announced_on,
            "handover_on": claim.handover_on,
            **flags,
        }
        count = await self.db.execute(
            "change_claim_state",
            installation_id=claim.installation_id,
            invoice_number=claim.invoice_number,
            expected=claim.state,
            state=state,
            now=now,
            **values,
        )
        return count == 1

    async def handed_over(
        self, installation_id: int, invoice_number: int, *, case_id: str | None, now: dt.datetime
    ) -> None:
        await self.db.execute(
            "set_claim_handed_over",
            installation_id=installation_id,
            invoice_number=invoice_number,
            case_id=case_id,
            now=now,
        )

    async def unseen(self, installation_id: int, *, scan: int) -> builtins.list[int]:
        rows = await self.db.fetch("unseen_claims", installation_id=installation_id, scan=scan)
        return [int(r["invoice_number"]) for r in rows]

    async def of_customer(
        self, installation_id: int, customer_number: int
    ) -> builtins.list[StoredClaim]:
        rows = await self.db.fetch(
            "claims_of_customer", installation_id=installation_id, customer_number=customer_number
        )
        return [to_struct(r, StoredClaim) for r in rows]

    async def stored_between(
        self, installation_id: int, low: int, high: int
    ) -> dict[int, StoredPrint]:
        """Invoice number → fingerprint, state and remainder as stored, for the claims with
        numbers from ``low`` to ``high`` (a scan's page compares the ledger's with them)."""
        rows = await self.db.fetch(
            "claim_prints_between", installation_id=installation_id, low=low, high=high
        )
        return {int(r["invoice_number"]): to_struct(r, StoredPrint) for r in rows}

    async def without_document(
        self, installation_id: int, *, after: int = 0, limit: int = 1000
    ) -> builtins.list[int]:
        """Open invoice claims in the collection account whose PDF has not gone and has no
        ``sync.document`` job waiting (queued, or failed and to be tried again)."""
        rows = await self.db.fetch(
            "claims_without_document", installation_id=installation_id, after=after, limit=limit
        )
        return [int(r["invoice_number"]) for r in rows]

    async def document_sent(
        self, installation_id: int, invoice_number: int, *, now: dt.datetime
    ) -> None:
        await self.db.execute(
            "set_claim_document_sent",
            installation_id=installation_id,
            invoice_number=invoice_number,
            now=now,
        )

    async def analyze(self) -> None:
        """Refresh the planner's statistics after a bulk load (PostgreSQL; nothing on SQLite)."""
        await self.db.execute("analyze_claims")

    async def count_by_state(self, installation_id: int) -> dict[str, int]:
        rows = await self.db.fetch("count_claims_by_state", installation_id=installation_id)
        return {str(r["state"]): int(r["claims"]) for r in rows}


class Customers:
    def __init__(self, db: Connection) -> None:
        self.db = db

    async def record(
        self, installation_id: int, customers: Iterable[CustomerRecord], *, now: dt.datetime
    ) -> None:
        rows = [
            {**msgspec.structs.asdict(c), "installation_id": installation_id, "now": now}
            for c in customers
        ]
        if rows:
            await self.db.executemany("upsert_customer", rows)

    async def analyze(self) -> None:
        """Refresh the planner's statistics after a bulk load (PostgreSQL; nothing on SQLite)."""
        await self.db.execute("analyze_customers")

    async def forget(self, installation_id: int, customer_number: int) -> None:
        await self.db.execute(
            "forget_customer", installation_id=installation_id, customer_number=customer_number
        )

    async def pushed_fingerprints(self, installation_id: int) -> dict[int, str | None]:
        rows = await self.db.fetch("customer_fingerprints", installation_id=installation_id)
        return {int(r["customer_number"]): r["pushed_fingerprint"] for r in rows}

    async def mark_pushed(
        self,
        installation_id: int,
        pushed: Iterable[tuple[int, str, str | None]],
        *,
        now: dt.datetime,
    ) -> None:
        rows = [
            {
                "installation_id": installation_id,
                "customer_number": number,
                "fingerprint": fingerprint,
                "collection_id": collection_id,
                "now": now,
            }
            for number, fingerprint, collection_id in pushed
        ]
        if rows:
            await self.db.executemany("mark_customer_pushed", rows)
