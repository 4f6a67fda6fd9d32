"""The onboarding page and the collection link callback in the settings frame, in English and
Danish, over real HTTP on both engines: the installing admin's browser from the install flow."""

from __future__ import annotations

import itertools
import re
from html.parser import HTMLParser

import aiohttp

from plugin.onboarding.collection import REFUSALS
from plugin.onboarding.pages import SAID, said
from plugin.pages.texts import LANGUAGE_COOKIE, TEXTS, translator
from tests.integration.pages.support import Page, get, post
from tests.integration.test_onboarding import Bridge, field

FIELDS = (
    "collection_mode",
    "journal_number",
    "account_interest_income",
    "account_fee_income",
    "account_loss",
    "account_output_vat",
    "policy_mode",
    "policy_min_days_overdue",
    "policy_min_amount",
    "policy_exclude_customer_groups",
    "policy_start_step",
    "policy_notice_days",
    "business_customer_groups",
    "channels",
    "csrf_token",
)
ENGLISH = ("Collection account", "Journal", "Accounts", "Handover policy", "Customers and letters")
DANISH = ("Inkassokonto", "Kassekladde", "Konti", "Overdragelse til inkasso", "Kunder og breve")


class Outline(HTMLParser):
    """The page's headings, its form controls and what labels them."""

    def __init__(self) -> None:
        super().__init__()
        self.lang: str | None = None
        self.headings: list[tuple[int, str]] = []
        self.controls: list[tuple[str, bool]] = []  # (id or name, inside a <label>)
        self.labelled: set[str] = set()
        self._label_depth = 0
        self._heading: int | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        elif tag == "label":
            self._label_depth += 1
            if a.get("for"):
                self.labelled.add(str(a["for"]))
        elif re.fullmatch(r"h[1-6]", tag):
            self._heading = int(tag[1])
            self.headings.append((self._heading, ""))
        elif tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.controls.append((str(a.get("id") or a.get("name")), self._label_depth > 0))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label_depth -= 1
        elif re.fullmatch(r"h[1-6]", tag):
            self._heading = None

    def handle_data(self, data: str) -> None:
        if self._heading is not None and self.headings:
            level, text = self.headings[-1]
            self.headings[-1] = (level, (text + data).strip())


def outline(page: Page) -> Outline:
    parsed = Outline()
    parsed.feed(page.text)
    return parsed


def assert_accessible(page: Page) -> None:
    parsed = outline(page)
    levels = [level for level, _ in parsed.headings]
    assert levels.count(1) == 1 and levels[0] == 1, parsed.headings
    assert all(b <= a + 1 for a, b in itertools.pairwise(levels)), parsed.headings
    unlabelled = [c for c, wrapped in parsed.controls if not wrapped and c not in parsed.labelled]
    assert unlabelled == [], unlabelled


def h2s(page: Page) -> list[str]:
    return [text for level, text in outline(page).headings if level == 2]


def the_form(page: Page) -> dict[str, str]:
    """What the admin's browser sends: every field as the page shows it."""
    return {name: field(page.text, name) for name in FIELDS}


async def test_english_by_default_in_the_settings_frame(bridge: Bridge) -> None:
    page = await get(bridge.browser, f"{bridge.url}/onboarding/{bridge.agreement}")
    assert page.status == 200 and outline(page).lang == "en"
    assert f"agreement {bridge.agreement}</h1>" in page.text
    assert h2s(page) == list(ENGLISH)
    assert 'id="company-in-view"' in page.text and 'id="switch-company"' in page.text
    language = f'href="/settings/language/da?next=/onboarding/{bridge.agreement}"'
    assert language in page.text and 'lang="da">Dansk</a>' in page.text
    assert 'id="onboarding"' in page.text and 'id="submit"' in page.text
    assert_accessible(page)


async def test_danish_after_choosing_it_and_submitting_still_onboards(bridge: Bridge) -> None:
    onboarding = f"/onboarding/{bridge.agreement}"
    page = await get(bridge.browser, f"{bridge.url}/settings/language/da?next={onboarding}")
    assert page.status == 200 and page.url.path == onboarding
    assert outline(page).lang == "da"
    assert "Installeret: " in page.text and f"aftale {bridge.agreement}</h1>" in page.text
    assert h2s(page) == list(DANISH)
    assert "Nu mangler opsætningen" in page.text and "Onboarding comes next" not in page.text
    assert ">Første rykker<" in page.text and ">Inkassovarsel<" in page.text
    assert ">Afslut opsætningen</button>" in page.text
    assert_accessible(page)

    refused = await post(
        bridge.browser, bridge.url + onboarding, the_form(page) | {"csrf_token": "x"}
    )
    assert refused.status == 403 and 'data-code="csrf_failed"' in refused.text
    assert "Formularen er forældet" in refused.text and await bridge.jobs() == []

    done = await post(bridge.browser, bridge.url + onboarding, the_form(page))
    assert done.status == 200, done.text
    [job] = await bridge.jobs()
    assert 'id="onboarding-done"' in done.text and f'data-job-id="{job.id}"' in done.text
    assert "Opsætningen er færdig – valgene nedenfor er gemt." in done.text
    assert outline(done).lang == "da" and ">Gem valgene</button>" in done.text
    assert_accessible(done)

    back = await get(bridge.browser, f"{bridge.url}/settings/language/en?next={onboarding}")
    assert outline(back).lang == "en" and "Onboarding is done." in back.text


async def test_the_form_may_go_on_to_the_collection_platforms_authorize_page(
    bridge: Bridge,
) -> None:
    """A link-mode POST answers with a redirect there; browsers hold it to ``form-action``."""
    async with bridge.browser.get(f"{bridge.url}/onboarding/{bridge.agreement}") as r:
        policy = r.headers["Content-Security-Policy"]
    assert f"form-action 'self' {bridge.collection.url};" in policy
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy


async def test_a_company_not_ones_own_is_404_in_the_chosen_language(bridge: Bridge) -> None:
    await get(bridge.browser, f"{bridge.url}/settings/language/da?next=/settings")
    page = await get(bridge.browser, f"{bridge.url}/onboarding/999999")
    assert page.status == 404 and outline(page).lang == "da" and "Ikke fundet" in page.text


async def test_the_callback_speaks_the_readers_language(bridge: Bridge) -> None:
    url = f"{bridge.url}/install/collection/callback?code=ac_x"
    for language, heading in (
        ("en", "The collection account was not linked"),
        ("da", "Inkassokontoen blev ikke tilknyttet"),
    ):
        async with aiohttp.ClientSession(cookies={LANGUAGE_COOKIE: language}) as http:
            page = await get(http, url)
        assert page.status == 400 and 'data-code="state_missing"' in page.text
        assert outline(page).lang == language and f"<h1>{heading}</h1>" in page.text
        assert_accessible(page)
    assert "Start tilknytningen igen fra opsætningssiden." in page.text
    assert 'href="/settings/language/en?next=/"' in page.text  # never back to the callback


def test_every_coded_message_is_said_in_both_languages() -> None:
    assert all(key in TEXTS for key in SAID.values())
    assert all(f"link_refused_{code}" in TEXTS for code in REFUSALS)
    da = translator("da")
    assert said(da, "account_missing:loss", "No bad-debt loss account…") == (
        "Ingen konto til tab på debitorer blev genkendt i kontoplanen: en administrator vælger en."
    )
    assert "collectbridge" in said(da, "journal_missing", "")
    assert said(da, "invalid_choice", "channels: x") == "Et valg blev ikke godtaget: channels: x"
    assert said(da, "something_new", "as it came") == "as it came"
