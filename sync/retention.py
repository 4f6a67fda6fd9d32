"""Personal data of a revoked installation, purged after the retention period.

``COLLECTBRIDGE_RETENTION_DAYS`` (default 30; a company's ``retention_days`` setting may shorten
it, never lengthen it) after an installation was revoked, its personal data goes: the e-conomic
grant and every token and secret, the claim documents (descriptions and lines), what was kept
of its customers, and the content of its webhook deliveries. The money trail stays: claims with
their amounts, dates, states and case ids, the outbox, the audit log of what was sent and when
(which names records by number only). The installation row stays too, ``deleted``: the foreign
keys of that trail point at it. A company reinstalled within the period is ``active`` again
and picks up where it stopped; after it, a reinstall starts from its kept trail with a new grant.

One debtor's personal data goes on request (`erase_debtor`, the API's ``…/debtors/{n}/erase``)
the same way, within an installation that keeps running: its claims' documents keep only the
money trail (`pseudonymised_document`: amounts, dates, references; descriptions and lines go),
the fingerprints of its debtor document go, and so do the texts of the problems about it. The
audit entry names the debtor by a pseudonym (`pseudonym`), never by number. A customer still in
the ledger with open invoices is read again by the next sync: the ledger is the company's.

Processed e-conomic hints older than `HINT_RETENTION` (a day) are deleted in the housekeeping
(`purge_processed_hints`), whatever the installation's state: a hint's row holds a record number
and a time, its job was enqueued with it, and the inbox would otherwise grow by a row a hint
for ever. Each installation's newest hint of each topic stays, so the installation view's
``webhooks.economic.last_received`` reads the same after the purge. Collection events stay:
they are the account's event history, deduplicated by id against the feed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any

import msgspec

from sync.company_settings import company_settings
from sync.store.audit import AuditLog
from sync.store.db import Database
from sync.store.debtors import Debtors
from sync.store.inbox import Inbox
from sync.store.installations import Installation, Installations


def retention_of(installation: Installation, default_days: int) -> dt.timedelta:
    own = company_settings(installation.settings).retention_days
    days = min(default_days, own) if own is not None and own > 0 else default_days
    return dt.timedelta(days=days)


def due_for_purge(installation: Installation, *, now: dt.datetime, default_days: int) -> bool:
    revoked_at = installation.revoked_at
    if installation.status != "revoked" or revoked_at is None:
        return False
    return now - revoked_at >= retention_of(installation, default_days)


async def purge_expired(db: Database, *, now: dt.datetime, default_days: int) -> list[int]:
    """Purge every installation past its retention; the agreement numbers purged."""
    purged = []
    for installation in await Installations(db).list():
        if due_for_purge(installation, now=now, default_days=default_days):
            async with db.transaction() as tx:
                if await tx.execute("purge_installation_secrets", id=installation.id, now=now):
                    for query in ("purge_claim_documents", "purge_customers", "purge_inbox_bodies"):
                        await tx.execute(query, id=installation.id, now=now)
                    await AuditLog(tx).record(
                        installation_id=installation.id,
                        actor="retention",
                        action="personal_data.purged",
                        detail={
                            "revoked_at": installation.revoked_at.isoformat()
                            if installation.revoked_at
                            else None
                        },
                        at=now,
                    )
                    purged.append(installation.agreement_number)
    return purged


# -- e-conomic hints, once their jobs exist ----------------------------------------------------

HINT_RETENTION = dt.timedelta(days=1)
HINT_PURGE_BATCH = 5_000


async def purge_processed_hints(
    db: Database, *, now: dt.datetime, keep: dt.timedelta = HINT_RETENTION
) -> int:
    """Delete the processed e-conomic hints received more than ``keep`` before ``now``, each
    installation's newest of each topic kept, in transactions of `HINT_PURGE_BATCH` rows (no
    long lock on the inbox the receivers write to); how many went."""
    purged = 0
    while True:
        async with db.transaction() as tx:
            gone = await Inbox(tx).purge_processed_hints(before=now - keep, limit=HINT_PURGE_BATCH)
        purged += gone
        if gone < HINT_PURGE_BATCH:
            return purged


# -- one debtor, on request ---------------------------------------------------------------------

MONEY_TRAIL = (
    "debtor_ref",
    "kind",
    "invoice_number",
    "issued_on",
    "due_on",
    "currency",
    "net_amount",
    "vat_amount",
    "gross_amount",
    "remaining_amount",
)
ERASED_PROBLEM = "The debtor's personal data was erased on request ({pseudonym})."


class Erased(msgspec.Struct, frozen=True, kw_only=True):
    pseudonym: str
    claims: int
    problems: int


def pseudonym(key: bytes, agreement: int, customer_number: int) -> str:
    """``erased-<hash>``: the same debtor always gets the same one, and only the holder of the
    key (derived from the operator's secret) can tell whose it is."""
    digest = hmac.new(key, f"{agreement}:{customer_number}".encode(), hashlib.sha256)
    return f"erased-{digest.hexdigest()[:16]}"


def pseudonymised_document(document: dict[str, Any]) -> dict[str, Any]:
    """A claim document with the money trail only (still a claim the platform would take)."""
    return {key: document[key] for key in MONEY_TRAIL if key in document}


async def erase_debtor(
    db: Database,
    installation: Installation,
    customer_number: int,
    *,
    key: bytes,
    actor: str,
    now: dt.datetime,
) -> Erased:
    """Erase what we hold of one debtor's personal data, in one transaction with its audit
    entry (who, when, the pseudonym and counts: no personal data)."""
    name = pseudonym(key, installation.agreement_number, customer_number)
    async with db.transaction() as tx:
        debtors = Debtors(tx)
        held = await debtors.read(installation.id, installation.agreement_number, customer_number)
        for claim in held.claims:
            document = pseudonymised_document(claim.document)
            await debtors.replace_document(installation.id, claim.invoice_number, document, now=now)
        await debtors.forget_documents(installation.id, customer_number, now=now)
        problems = await debtors.blank_problems(
            installation.id, customer_number, message=ERASED_PROBLEM.format(pseudonym=name)
        )
        erased = Erased(pseudonym=name, claims=len(held.claims), problems=problems)
        await AuditLog(tx).record(
            installation_id=installation.id,
            actor=actor,
            action="debtor.erased",
            detail={"debtor": name, "claims": erased.claims, "problems": problems},
            at=now,
        )
    return erased
