"""A company's audit log on the settings pages over real HTTP: the action filter, the search,
paging newest first, read by a guest, and no other company's log."""

from __future__ import annotations

import datetime as dt
import html
import re

from sync.store.audit import AuditLog
from tests.integration.pages.support import Page, get
from tests.integration.pages.test_members import browser, join, second_company
from tests.integration.test_onboarding import Bridge

ENTRY = re.compile(r'data-entry="(\d+)" data-action="([^"]+)"')


def entries(page: Page) -> list[tuple[int, str]]:
    return [(int(i), a) for i, a in ENTRY.findall(page.text)]


async def seed(bridge: Bridge) -> dict[str, int]:
    installation = await bridge.installation()
    log, at = AuditLog(bridge.db), bridge.clock()
    ids = {
        "invited": await log.record(
            installation_id=installation.id,
            actor="boss@example.com",
            action="member.invited",
            at=at,
            detail={"email": "Anna.Berg@example.com", "role": "guest"},
        ),
        "approved": await log.record(
            installation_id=installation.id,
            actor="clerk@example.com",
            action="claim.approved",
            at=at + dt.timedelta(seconds=1),
            detail={"invoice_number": 40417},
        ),
        "paused": await log.record(
            installation_id=installation.id,
            actor="boss@example.com",
            action="installation.paused",
            at=at + dt.timedelta(seconds=2),
            detail={"reason": "50%_off"},
        ),
    }
    return ids


async def test_the_filter_and_the_search_find_the_right_entries(bridge: Bridge) -> None:
    ids = await seed(bridge)
    url = f"{bridge.url}/settings/{bridge.agreement}/audit"
    everything = await get(bridge.browser, url)
    assert everything.status == 200, everything.text
    shown = entries(everything)
    assert [i for i, _ in shown] == sorted((i for i, _ in shown), reverse=True)  # newest first
    assert {ids["invited"], ids["approved"], ids["paused"]} <= {i for i, _ in shown}
    for action in ("member.invited", "claim.approved", "installation.paused"):
        assert f'<option value="{action}"' in everything.text
    approved = await get(bridge.browser, url, params={"action": "claim.approved"})
    assert entries(approved) == [(ids["approved"], "claim.approved")]
    assert '<option value="claim.approved" selected>' in approved.text
    by_detail = await get(bridge.browser, url, params={"q": "ANNA.berg"})  # any case
    assert entries(by_detail) == [(ids["invited"], "member.invited")]
    by_actor = await get(bridge.browser, url, params={"q": "clerk@"})
    assert entries(by_actor) == [(ids["approved"], "claim.approved")]
    by_action = await get(bridge.browser, url, params={"q": "paused"})
    assert entries(by_action) == [(ids["paused"], "installation.paused")]
    by_number = await get(bridge.browser, url, params={"q": "40417"})
    assert entries(by_number) == [(ids["approved"], "claim.approved")]
    # What a person types is matched as text: % and _ are no wildcards.
    assert entries(await get(bridge.browser, url, params={"q": "50%_"})) == [
        (ids["paused"], "installation.paused")
    ]
    assert entries(await get(bridge.browser, url, params={"q": "5%f"})) == []
    both = await get(bridge.browser, url, params={"q": "boss", "action": "member.invited"})
    assert entries(both) == [(ids["invited"], "member.invited")]
    unknown = await get(bridge.browser, url, params={"action": "no.such", "cursor": "x" * 40})
    assert unknown.status == 200 and len(entries(unknown)) == len(shown)


async def test_the_log_pages_a_hundred_at_a_time(bridge: Bridge) -> None:
    installation = await bridge.installation()
    log, at = AuditLog(bridge.db), bridge.clock()
    for n in range(130):
        await log.record(
            installation_id=installation.id,
            actor="robot@example.com",
            action="claim.held",
            at=at + dt.timedelta(seconds=n),
            detail={"n": n},
        )
    url = f"{bridge.url}/settings/{bridge.agreement}/audit"
    first = await get(bridge.browser, url, params={"action": "claim.held"})
    assert len(entries(first)) == 100
    older = re.search(r'href="([^"]+)" id="audit-older"', first.text)
    assert older, first.text
    second = await get(bridge.browser, bridge.url + html.unescape(older.group(1)))
    assert len(entries(second)) == 30
    assert 'id="audit-older"' not in second.text and 'id="audit-newest"' in second.text
    seen = [i for i, _ in entries(first) + entries(second)]
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == 130


async def test_a_guest_reads_the_log_and_another_company_is_404(bridge: Bridge) -> None:
    await seed(bridge)
    mine = f"{bridge.url}/settings/{bridge.agreement}/audit"
    async with browser() as http:
        await join(bridge, http, "reader@example.com", "guest")
        assert (await get(http, mine)).status == 200
    async with browser() as http:
        other = await second_company(bridge, http, "other.admin@example.com")
        theirs = f"{bridge.url}/settings/{other}/audit"
        assert (await get(http, theirs)).status == 200
        refused = await get(http, mine)
        assert refused.status == 404 and "Anna" not in refused.text
    assert (await get(bridge.browser, theirs)).status == 404
    assert (await get(bridge.browser, f"{bridge.url}/settings/999999/audit")).status == 404
