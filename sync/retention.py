"""Personal data of a revoked installation, purged after the retention period.

``COLLECTBRIDGE_RETENTION_DAYS`` (default 30; a company's ``retention_days`` setting may shorten
it, never lengthen it) after an installation was revoked, its personal data goes: the e-conomic
grant and every token and secret, the claim documents (descriptions and lines), what was kept
of its customers, and the content of its webhook deliveries. The money trail stays: claims with
their amounts, dates, states and case ids, the outbox, the audit log of what was sent and when
(which names records by number only). The installation row stays too, ``deleted``: the foreign
keys of that trail point at it. A company reinstalled within the period is ``active`` again
and picks up where it stopped; after it, a reinstall starts from its kept trail with a new grant.
"""

from __future__ import annotations

import datetime as dt

from sync.company_settings import company_settings
from sync.store.audit import AuditLog
from sync.store.db import Database
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
