"""A written-off case's proposal waits on the approvals page until an admin approves it there;
then its voucher is sent to e-conomic (the push-back tests check its lines to the øre)."""

from __future__ import annotations

import re
from typing import Any

from tests.integration.pages.company_support import person
from tests.integration.pages.support import get, post
from tests.integration.sync.support import Company, control, running_company
from tests.integration.sync.test_pushback import SETTINGS, api, arrives, case_event, handed_over
from tests.integration.sync.test_reconciliation import reachable
from tests.integration.test_debtor_data import book


async def test_a_write_off_is_approved_on_the_approvals_page(database_url: str) -> None:
    async with running_company(database_url, invoices=0, settings=SETTINGS) as company:
        (customer,) = reachable(company, 1)
        number = await book(company, customer, amount="500.00", text="Havearbejde")
        case_id = await handed_over(company, number)
        await control(
            company, company.collection.url, "POST", f"/_sandbox/cases/{case_id}/write-off"
        )
        assert (
            await arrives(company, await case_event(company, "case.closed", case_id))
            == "written_off"
        )
        await company.settle()
        url = f"{company.bridge.url}/settings/{company.agreement}/approvals"
        async with person(
            company.bridge, "caseworker", installation=company.installation
        ) as caseworker:
            page = await get(caseworker, url)
            assert 'data-writeoff="' in page.text and 'id="approve-writeoff-' not in page.text
        async with person(company.bridge, "admin", installation=company.installation) as admin:
            page = await get(admin, url)
            found = re.search(r'id="approve-writeoff-(\d+)"', page.text)
            assert found, page.text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            done = await post(
                admin,
                f"{company.bridge.url}/settings/{company.agreement}/write-offs/{found.group(1)}/approve",
                {"csrf_token": token},
            )
            assert done.status == 200 and "approved=" in str(done.url), done.text
            assert 'id="no-writeoffs"' in done.text
            await company.settle()
            status, listed = await _writeoffs(company)
            assert status == 200
            assert [w["state"] for w in listed["items"]] == ["approved"]
            assert listed["items"][0]["outbox_state"] == "sent"


async def _writeoffs(company: Company) -> tuple[int, Any]:
    admin = await company.bridge.person("api@example.com", [(company.installation, "admin")])
    return await api(company, "GET", "write-offs", admin)
