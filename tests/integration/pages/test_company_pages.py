"""A company's pages over real HTTP after a real bootstrap against the simulators: the
dashboard, the claims list and one invoice's journey with its actions, the approvals queue,
resync with its progress, the settings forms; each role sees and does what it may, and no
more."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from sync.store.claims import Claims
from sync.store.installations import Installations
from tests.integration.pages.company_support import company_bridge, drain, person
from tests.integration.pages.support import get, post
from tests.integration.test_onboarding import Bridge


@pytest.fixture
async def bridge(database_url: str) -> AsyncIterator[Bridge]:
    async with company_bridge(database_url) as running:
        yield running


async def claims_in(bridge: Bridge, state: str) -> list[int]:
    installation = await bridge.installation()
    found = await Claims(bridge.db).after(installation.id, after=0, limit=1000, state=state)  # type: ignore[arg-type]
    return [c.invoice_number for c in found]


async def test_the_dashboard_shows_connections_problems_and_the_aging_chart(bridge: Bridge) -> None:
    page = await get(bridge.browser, f"{bridge.url}/settings/{bridge.agreement}")
    assert page.status == 200, page.text
    assert 'id="economic-state"' in page.text and "<svg" in page.text
    assert re.search(r'id="calls-used">[\d,]+<', page.text)
    overview = await get(bridge.browser, f"{bridge.url}/settings")
    assert f'data-agreement="{bridge.agreement}"' in overview.text


async def test_the_claims_list_filters_and_searches(bridge: Bridge) -> None:
    waiting = await claims_in(bridge, "awaiting_approval")
    assert waiting
    base = f"{bridge.url}/settings/{bridge.agreement}/claims"
    listed = await get(bridge.browser, f"{base}?state=awaiting_approval")
    shown = {int(n) for n in re.findall(r'data-invoice="(\d+)"', listed.text)}
    assert shown == set(waiting)
    one = await get(bridge.browser, f"{base}?q={waiting[0]}")
    assert f'data-invoice="{waiting[0]}"' in one.text


async def test_approving_on_the_journey_page_hands_the_claim_over(bridge: Bridge) -> None:
    number = (await claims_in(bridge, "awaiting_approval"))[0]
    url = f"{bridge.url}/settings/{bridge.agreement}/claims/{number}"
    journey = await get(bridge.browser, url)
    assert 'id="action-approve"' in journey.text
    fields = journey.hidden(
        nth=next(
            i
            for i, f in enumerate(re.findall(r"<form.*?</form>", journey.text, flags=re.DOTALL))
            if "/approve" in f
        )
    )
    done = await post(bridge.browser, f"{url}/approve", fields)
    assert done.status == 200 and done.url.path.endswith(f"/claims/{number}"), done.text
    await drain(bridge)
    assert number in await claims_in(bridge, "in_collection")
    after = await get(bridge.browser, url)
    assert "Handed over to collection" in after.text and "Handover approved" in after.text


async def test_bulk_approval_approves_the_ticked_claims(bridge: Bridge) -> None:
    waiting = await claims_in(bridge, "awaiting_approval")
    url = f"{bridge.url}/settings/{bridge.agreement}/approvals"
    page = await get(bridge.browser, url)
    fields = {"csrf_token": _csrf(page.text)}
    async with bridge.browser.post(
        url, data=[*fields.items(), *(("invoice", str(n)) for n in waiting[:2])]
    ) as r:
        assert r.status == 200
        text = await r.text()
    assert 'id="results"' in text
    await drain(bridge)
    assert set(waiting[:2]) <= set(await claims_in(bridge, "in_collection"))


async def test_a_caseworker_resyncs_and_the_job_runs_to_the_end(bridge: Bridge) -> None:
    url = f"{bridge.url}/settings/{bridge.agreement}/resync"
    async with person(bridge, "caseworker") as caseworker:
        form = await get(caseworker, url)
        started = await post(caseworker, url, {"csrf_token": _csrf(form.text), "scope": "invoices"})
        assert started.status == 200 and "job=" in str(started.url), started.text
        job_id = int(started.url.query["job"])
        assert f'data-job="{job_id}"' in started.text
        await drain(bridge)
        finished = await get(caseworker, str(started.url))
        assert re.search(rf'id="progress-label-{job_id}"[^>]*>100 %', finished.text), finished.text


async def test_each_role_is_held_to_what_it_may_do(bridge: Bridge) -> None:
    base = f"{bridge.url}/settings/{bridge.agreement}"
    number = (await claims_in(bridge, "awaiting_approval"))[0]
    async with person(bridge, "guest") as guest:
        assert (await get(guest, f"{base}/claims")).status == 200
        page = await get(guest, f"{base}/resync")
        assert 'id="resync"' not in page.text
        refused = await post(
            guest, f"{base}/resync", {"csrf_token": _csrf(page.text), "scope": "all"}
        )
        assert refused.status == 403
    async with person(bridge, "caseworker") as caseworker:
        page = await get(caseworker, f"{base}/settings")
        assert page.status == 200 and 'id="save-policy"' not in page.text
        refused = await post(
            caseworker,
            f"{base}/settings/policy",
            {"csrf_token": _csrf(page.text), "mode": "automatic"},
        )
        assert refused.status == 403
        approve = await post(
            caseworker, f"{base}/claims/{number}/approve", {"csrf_token": _csrf(page.text)}
        )
        assert approve.status == 403
    assert number in await claims_in(bridge, "awaiting_approval")


async def test_another_companys_pages_are_not_found(bridge: Bridge) -> None:
    other = await Installations(bridge.db).activate(
        agreement_number=999_001, company_name="Not Yours ApS", now=bridge.clock()
    )
    for path in ("", "/claims", "/resync", "/settings", "/users", "/audit"):
        page = await get(bridge.browser, f"{bridge.url}/settings/{other.agreement_number}{path}")
        assert page.status == 404, path
    missing = await get(bridge.browser, f"{bridge.url}/settings/123456789{''}")
    assert missing.status == 404


async def test_an_admin_saves_the_policy_in_kroner_and_the_api_reads_minor_units(
    bridge: Bridge,
) -> None:
    url = f"{bridge.url}/settings/{bridge.agreement}/settings"
    page = await get(bridge.browser, url)
    saved = await post(
        bridge.browser,
        f"{url}/policy",
        {"csrf_token": _csrf(page.text), "mode": "manual", "min_days_overdue": "14",
         "min_amount": "1.250,50", "exclude_customer_groups": "", "start_step": "reminder_1",
         "notice_days": "3"},
    )  # fmt: skip
    assert saved.status == 200 and 'id="message"' in saved.text, saved.text
    policy = await bridge.call("GET", f"/api/v1/installations/{bridge.agreement}/policy")
    assert policy.body["min_amount"] == 125050 and policy.body["notice_days"] == 3
    channels = await post(
        bridge.browser,
        f"{url}/channels",
        {"csrf_token": _csrf(page.text), "channel_1": "email", "channel_2": "letter"},
    )
    assert channels.status == 200, channels.text
    settings = await bridge.call("GET", f"/api/v1/installations/{bridge.agreement}/settings")
    assert settings.body["channels"] == ["email", "letter"]
    twice = await post(
        bridge.browser,
        f"{url}/channels",
        {"csrf_token": _csrf(page.text), "channel_1": "sms", "channel_2": "sms"},
    )
    assert twice.status == 422
    settings = await bridge.call("GET", f"/api/v1/installations/{bridge.agreement}/settings")
    assert settings.body["channels"] == ["email", "letter"]


def _csrf(text: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert found
    return found.group(1)


async def test_without_smtp_notices_show_on_the_dashboard_until_marked_read(bridge: Bridge) -> None:
    from plugin.keys import SETTINGS
    from plugin.notices import send_notices
    from sync.store.problems import Problems

    installation = await bridge.installation()
    await Problems(bridge.db).record(
        installation_id=installation.id,
        category="ledger_refused",
        code="voucher_refused",
        subject="voucher:1",
        message="e-conomic refused voucher 1",
        now=bridge.clock(),
    )
    await send_notices(bridge.db, bridge.app[SETTINGS], now=bridge.clock())
    url = f"{bridge.url}/settings/{bridge.agreement}"
    page = await get(bridge.browser, url)
    found = re.search(r'data-notice="(\d+)"', page.text)
    assert found and "e-conomic refused voucher 1" in page.text, page.text
    assert 'data-code="voucher_refused"' in page.text and "What to do:" in page.text
    read = await post(
        bridge.browser, f"{url}/notices/{found.group(1)}/read", {"csrf_token": _csrf(page.text)}
    )
    assert read.status == 200 and 'data-notice="' not in read.text
    again = await post(
        bridge.browser, f"{url}/notices/{found.group(1)}/read", {"csrf_token": _csrf(page.text)}
    )
    assert again.status == 404


async def test_an_admin_exports_and_erases_a_debtor_from_the_journey_page(bridge: Bridge) -> None:
    number = (await claims_in(bridge, "awaiting_approval"))[0]
    url = f"{bridge.url}/settings/{bridge.agreement}/claims/{number}"
    journey = await get(bridge.browser, url)
    export = re.search(r'id="export-debtor" href="([^"]+)"', journey.text)
    assert export
    async with bridge.browser.get(bridge.url + export.group(1)) as r:
        assert r.status == 200
        held = await r.json()
    customer = held["customer_number"]
    erase = f"{bridge.url}/settings/{bridge.agreement}/debtors/{customer}/erase"
    unconfirmed = await post(bridge.browser, erase, {"csrf_token": _csrf(journey.text)})
    assert unconfirmed.status == 422
    done = await post(
        bridge.browser,
        erase,
        {"csrf_token": _csrf(journey.text), "confirm": "yes", "back": url[len(bridge.url) :]},
    )
    assert done.status == 200 and 'id="erased"' in done.text, done.text
    async with person(bridge, "caseworker") as caseworker:
        page = await get(caseworker, url)
        assert 'id="erase-debtor"' not in page.text
        refused = await post(caseworker, erase, {"csrf_token": _csrf(page.text), "confirm": "yes"})
        assert refused.status == 403


async def test_disconnect_asks_for_confirmation_and_settings_solve_onboardings_problems(
    bridge: Bridge,
) -> None:
    from plugin.onboarding.flow import ACCOUNTS_MISSING
    from sync.store.problems import Problems

    installation = await bridge.installation()
    await Problems(bridge.db).record(
        installation_id=installation.id, category="missing_data", code=ACCOUNTS_MISSING,
        subject="onboarding:accounts", message="no loss account", now=bridge.clock(),
    )  # fmt: skip
    url = f"{bridge.url}/settings/{bridge.agreement}/settings"
    page = await get(bridge.browser, url)
    refused = await post(bridge.browser, f"{url}/disconnect", {"csrf_token": _csrf(page.text)})
    assert refused.status == 422
    assert (await bridge.installation()).status == "active"
    fields = {"csrf_token": _csrf(page.text), "journal_number": "3", "interest_income": "3010",
              "fee_income": "3020", "loss": "3030", "output_vat": "3040"}  # fmt: skip
    saved = await post(bridge.browser, f"{url}/booking", fields)
    assert saved.status == 200 and 'id="message"' in saved.text, saved.text
    assert ACCOUNTS_MISSING not in {p.code for p in await Problems(bridge.db).open(installation.id)}
    gone = await post(
        bridge.browser, f"{url}/disconnect", {"csrf_token": _csrf(page.text), "confirm": "yes"}
    )
    assert gone.status == 200 and (await bridge.installation()).status == "revoked"


async def test_the_bookkeeping_page_reconciles_and_an_admin_retries_a_dead_write(
    bridge: Bridge,
) -> None:
    from tests.integration.test_schemathesis import write

    await write(bridge, "page-dead", dead=True)
    url = f"{bridge.url}/settings/{bridge.agreement}/bookkeeping"
    page = await get(bridge.browser, f"{url}?month=2026-11")
    assert page.status == 200 and 'id="no-payments"' in page.text and 'id="balanced"' in page.text
    found = re.search(r'id="retry-(\d+)"', page.text)
    assert found, page.text
    async with bridge.browser.get(f"{url}.csv?month=2026-11") as r:
        assert r.status == 200 and r.content_type == "text/csv"
    async with person(bridge, "guest") as guest:
        seen = await get(guest, url)
        assert seen.status == 200 and 'id="retry-' not in seen.text
        retry = f"{bridge.url}/settings/{bridge.agreement}/outbox/{found.group(1)}/retry"
        refused = await post(guest, retry, {"csrf_token": _csrf(seen.text)})
        assert refused.status == 403
    retried = await post(
        bridge.browser,
        f"{bridge.url}/settings/{bridge.agreement}/outbox/{found.group(1)}/retry",
        {"csrf_token": _csrf(page.text)},
    )
    assert retried.status == 200 and f'id="retry-{found.group(1)}"' not in retried.text
    again = await post(
        bridge.browser,
        f"{bridge.url}/settings/{bridge.agreement}/outbox/{found.group(1)}/retry",
        {"csrf_token": _csrf(page.text)},
    )
    assert again.status == 409
