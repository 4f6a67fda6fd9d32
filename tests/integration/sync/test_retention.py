"""Retention: personal data of a disconnected company goes after COLLECTBRIDGE_RETENTION_DAYS
(by the injected clock), the money trail and the installation row stay."""

from __future__ import annotations

import datetime as dt

from plugin.lifecycle import Lifecycle
from sync import schedules
from sync.store.audit import AuditLog
from sync.store.economic_grants import EconomicGrants
from sync.store.installations import Installations
from tests.integration.sync.support import Company, running_company


async def housekeeping(company: Company) -> None:
    job = await company.services.queue.enqueue(
        schedules.housekeeping(run_at=company.bridge.clock()), now=company.bridge.clock()
    )
    await company.settle()
    assert (await company.job(job)).state == "succeeded"


async def test_personal_data_goes_after_the_retention_and_the_money_trail_stays(
    database_url: str,
) -> None:
    async with running_company(database_url, invoices=40, app={"retention_days": 30}) as company:
        job = await company.services.queue.enqueue(
            schedules.bootstrap(company.installation.id, company.agreement),
            now=company.bridge.clock(),
        )
        await company.settle()
        assert (await company.job(job)).state == "succeeded"
        before = {c.invoice_number: c for c in await company.claims()}
        installation = await Installations(company.bridge.db).get(company.installation.id)
        assert installation is not None
        await Lifecycle(company.services).disconnect(installation, actor="admin@example.dk")
        cipher = company.services.cipher
        assert cipher is not None
        grants = EconomicGrants(company.bridge.db, cipher)

        company.bridge.clock.now += dt.timedelta(days=29, hours=23)
        await housekeeping(company)
        kept = await Installations(company.bridge.db).get(company.installation.id)
        assert kept is not None and kept.status == "revoked"
        assert await grants.load(company.installation.id) is not None

        company.bridge.clock.now += dt.timedelta(hours=2)
        await housekeeping(company)
        gone = await Installations(company.bridge.db).get(company.installation.id)
        assert gone is not None and gone.status == "deleted"
        assert await grants.load(company.installation.id) is None
        after = {c.invoice_number: c for c in await company.claims()}
        assert set(after) == set(before)
        for number, claim in after.items():
            assert claim.document == {}
            assert (claim.remaining, claim.currency, claim.state) == (
                before[number].remaining,
                before[number].currency,
                before[number].state,
            )
        actions = [
            e.action for e in await AuditLog(company.bridge.db).list(company.installation.id)
        ]
        assert "personal_data.purged" in actions
