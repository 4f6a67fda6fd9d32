"""Onboarding end to end over real HTTP, on SQLite and PostgreSQL: our app and both simulators
on loopback; a company installed through the real install flow (a browser with a cookie jar),
then onboarded through ``PUT …/onboarding``, the page, or ``collectbridge onboard``.

What each platform ended up with is checked in the simulator's own state (accounts, webhook
subscriptions, webhook endpoints), what we stored in the database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from yarl import URL

from plugin.app import create_app
from plugin.keys import DATABASE, QUEUE, SERVICES
from plugin.sessions import SESSION_COOKIE, open_session
from plugin.settings import Secret, Settings
from sandbox.economic.install import PATH as GRANT_PAGE
from sync.clients.collection_tokens import DatabaseTokenStore
from sync.company_settings import company_settings
from sync.store.api_tokens import ApiTokens, new_token
from sync.store.audit import AuditLog
from sync.store.db import Database
from sync.store.installations import Installation, Installations
from sync.store.leases import Leases
from sync.store.sessions import Sessions
from sync.store.users import Role, Users
from sync.store.webhook_secrets import WebhookSecrets
from tests.fixtures.collection import CollectionSandbox
from tests.fixtures.conditions import Clock
from tests.fixtures.economic import EconomicSandbox
from tests.fixtures.served import loopback_socket, served
from tests.integration.test_install import confirmed

SECRET_KEY = "onboarding-test-secret-key-0123456789abcd"
EVENT_TYPES = {
    "INVOICE_BOOKED": "invoice",
    "CUSTOMER_CREATED": "customer",
    "CUSTOMER_UPDATED": "customer",
    "CUSTOMER_DELETED": "customer",
    "DAYBOOK_BOOKED": "daybook",
}
QUERIES = {
    "invoice": "number=[INVOICENO]",
    "customer": "new=[NEWNUMBER]&old=[OLDNUMBER]",
    "daybook": "daybook=[DAYBOOKNO]&from=[FROMSERIALNO]&to=[TOSERIALNO]",
}


@dataclass
class Answer:
    status: int
    content_type: str
    body: Any

    def problem(self, status: int, code: str) -> dict[str, Any]:
        assert (self.status, self.content_type) == (status, "application/problem+json"), self
        assert self.body["status"] == status and self.body["code"] == code, self.body
        return dict(self.body)


@dataclass
class Bridge:
    """Our app against both simulators, with one company installed by its admin."""

    url: str
    app: web.Application
    clock: Clock
    settings: Settings
    economic: EconomicSandbox
    collection: CollectionSandbox
    browser: aiohttp.ClientSession
    agreement: int
    admin_token: str

    @property
    def db(self) -> Database:
        return self.app[DATABASE]

    async def installation(self) -> Installation:
        found = await Installations(self.db).get_by_agreement(self.agreement)
        assert found is not None
        return found

    async def person(self, email: str, role: Role, installation: Installation) -> str:
        users = Users(self.db)
        user_id = await users.find_or_create(email=email, name=email, now=self.clock())
        await users.grant(user_id, installation.id, role, now=self.clock())
        token = new_token()
        await ApiTokens(self.db).create(user_id=user_id, token=token, name="t", now=self.clock())
        return token

    async def call(
        self, method: str, path: str, token: str | None = None, json: Any = None
    ) -> Answer:
        headers = {"Authorization": f"Bearer {token or self.admin_token}"}
        async with aiohttp.ClientSession() as http:
            async with http.request(method, self.url + path, json=json, headers=headers) as r:
                return Answer(r.status, r.content_type, await r.json(content_type=None))

    async def onboard(self, body: Any = None, token: str | None = None) -> Answer:
        path = f"/api/v1/installations/{self.agreement}/onboarding"
        return await self.call("PUT", path, token, {} if body is None else body)

    async def view(self, token: str | None = None) -> dict[str, Any]:
        answer = await self.call("GET", f"/api/v1/installations/{self.agreement}", token)
        assert answer.status == 200, answer
        return dict(answer.body)

    async def jobs(self, kind: str = "sync.bootstrap") -> list[Any]:
        installation = await self.installation()
        jobs = await self.app[QUEUE].list(installation_id=installation.id)
        return [j for j in jobs if j.kind == kind]

    async def actions(self) -> list[str]:
        installation = await self.installation()
        return [e.action for e in await AuditLog(self.db).list(installation.id)]

    def company(self) -> Any:
        return self.economic.state.companies[self.agreement]


async def control(url: str, method: str, path: str, json: Any) -> Any:
    async with aiohttp.ClientSession() as http:
        async with http.request(method, url + path, json=json) as r:
            assert r.status < 300, await r.text()
            return await r.json()


def bridge_settings(
    database_url: str, url: str, economic: EconomicSandbox, collection: CollectionSandbox
) -> Settings:
    """The app's settings against both simulators, served at ``url``."""
    return Settings(
        database_url=database_url,
        public_url=url,
        secret_keys=(Secret(SECRET_KEY),),
        economic_app_secret_token=Secret(economic.app_secret_token),
        economic_app_public_token=Secret(economic.app_public_token),
        economic_api_url=economic.url,
        economic_openapi_url=economic.url,
        economic_install_url=economic.url + GRANT_PAGE,
        collection_api_url=collection.url,
        collection_client_id=collection.client_id,
        collection_client_secret=Secret(collection.client_secret),
    )


@asynccontextmanager
async def run_bridge(
    database_url: str, economic: EconomicSandbox, collection: CollectionSandbox
) -> AsyncIterator[Bridge]:
    sock, url = loopback_socket()
    settings = bridge_settings(database_url, url, economic, collection)
    clock = Clock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    await control(economic.url, "PUT", "/_sandbox/install", {"auto_approve": True})
    jar = aiohttp.CookieJar(unsafe=True)  # keeps cookies for 127.0.0.1
    async with (
        served(create_app(settings, run_worker=False, clock=clock), sock) as app,
        aiohttp.ClientSession(cookie_jar=jar) as browser,
    ):
        async with browser.get(f"{url}/install/economic") as r:
            landed = await confirmed(browser, r)
        assert landed.status == 200 and landed.url.path.startswith("/onboarding/"), landed.page
        agreement = int(landed.url.path.rsplit("/", 1)[1])
        company = economic.state.companies[agreement]
        admin = await Users(app[DATABASE]).get_by_email(company.email)
        assert admin is not None
        token = new_token()
        await ApiTokens(app[DATABASE]).create(user_id=admin.id, token=token, name="t", now=clock())
        yield Bridge(
            url=url,
            app=app,
            clock=clock,
            settings=settings,
            economic=economic,
            collection=collection,
            browser=browser,
            agreement=agreement,
            admin_token=token,
        )


@pytest.fixture
async def bridge(
    database_url: str, economic_sandbox: EconomicSandbox, collection_sandbox: CollectionSandbox
) -> AsyncIterator[Bridge]:
    async with run_bridge(database_url, economic_sandbox, collection_sandbox) as running:
        yield running


def our_url(bridge: Bridge, key: str, secret: str, topic: str) -> str:
    return f"{bridge.url}/webhooks/economic/{key}/{secret}/{topic}?{QUERIES[topic]}"


async def url_secret(bridge: Bridge) -> str:
    cipher = bridge.app[SERVICES].cipher
    assert cipher is not None
    secret = await WebhookSecrets(bridge.db, cipher).stored_url_secret(
        (await bridge.installation()).id
    )
    assert secret is not None
    return secret


# -- the API, with every default ----------------------------------------------------------------


async def test_onboarding_with_defaults_sets_up_both_platforms_and_starts_the_bootstrap(
    bridge: Bridge,
) -> None:
    answer = await bridge.onboard({"collection": {"mode": "create"}, "journal_number": None})
    assert answer.status == 200, answer
    body = answer.body
    installation = await bridge.installation()

    # the collection account, created in the simulator for this company, its grant stored
    company = bridge.company()
    created = [
        a for a in bridge.collection.state.accounts.values()
        if a.external_ref == f"economic:{bridge.agreement}"
    ]  # fmt: skip
    assert len(created) == 1
    account = created[0]
    assert (account.name, account.cvr, account.email) == (company.name, company.cvr, company.email)
    assert (account.country, account.base_currency) == ("DK", "DKK")
    assert body["collection"] == {"state": "ok", "account_id": account.id}
    assert installation.collection_state == "ok"
    cipher = bridge.app[SERVICES].cipher
    assert cipher is not None
    tokens = await DatabaseTokenStore(bridge.db, cipher).load_tokens(installation.id)
    assert tokens is not None and tokens.account_id == account.id

    # e-conomic: all five event types through the Webhooks API, at our URLs
    secret = await url_secret(bridge)
    key = installation.installation_key
    subscriptions = company.webhook_subscriptions
    assert set(subscriptions) == set(EVENT_TYPES)
    for event, topic in EVENT_TYPES.items():
        assert subscriptions[event]["url"] == our_url(bridge, key, secret, topic)
    economic = body["webhooks"]["economic"]
    assert economic["mode"] == "api"
    assert economic["subscriptions"] == dict.fromkeys(EVENT_TYPES, "api")
    assert economic["legacy_urls"] is None  # an admin, but nothing to paste

    # the collection webhook endpoint, its signing secret stored encrypted
    endpoints = [e for e in bridge.collection.state.endpoints.values() if not e.deleted]
    assert [(e.account_id, e.url) for e in endpoints] == [
        (account.id, f"{bridge.url}/webhooks/collection/{key}")
    ]
    assert body["webhooks"]["collection"] == {"state": "ok"}
    signing = await WebhookSecrets(bridge.db, cipher).collection_signing_secret(installation.id)
    assert signing == endpoints[0].secret
    raw = await bridge.db.fetchrow("get_webhook_secrets", id=installation.id)
    assert raw is not None and signing not in raw["collection_webhook_secret"]
    assert secret not in raw["webhook_secret"]

    # exactly one bootstrap, with the documented dedupe key, and its id answered
    jobs = await bridge.jobs()
    assert [(j.id, j.dedupe_key, j.state) for j in jobs] == [
        (body["bootstrap_job_id"], f"bootstrap:{bridge.agreement}", "queued")
    ]
    assert body["onboarding"] == {"state": "done"} and body["notes"] == []

    # the settings document, in sync.company_settings' shape
    settings = company_settings(installation.settings)
    assert settings.onboarded and settings.onboarding.collection_mode == "create"
    assert settings.onboarding.bootstrap_job_id == body["bootstrap_job_id"]
    assert settings.journal_number == 3  # the seeded "Inkasso" journal: the app's own
    assert (
        settings.accounts.interest_income,
        settings.accounts.fee_income,
        settings.accounts.loss,
        settings.accounts.output_vat,
    ) == (1310, 1320, 2750, 7200)
    assert settings.policy.mode == "manual" and settings.policy.min_days_overdue == 10
    assert settings.channels == ("nemhandel", "eboks", "ehf", "email", "sms", "letter")
    assert settings.webhooks.economic.subscription_ids == {
        event: sub["id"] for event, sub in subscriptions.items()
    }
    assert await bridge.actions() == [
        "installation.installed",
        "onboarding.choices_saved",
        "onboarding.collection_account_created",
        "onboarding.economic_webhooks",
        "onboarding.collection_webhook",
        "onboarding.completed",
    ]

    # again: the same job, nothing made twice
    again = await bridge.onboard()
    assert again.status == 200, again
    assert again.body["bootstrap_job_id"] == body["bootstrap_job_id"]
    assert len(await bridge.jobs()) == 1
    assert {e: s["id"] for e, s in company.webhook_subscriptions.items()} == {
        e: s["id"] for e, s in subscriptions.items()
    }
    accounts = [a for a in bridge.collection.state.accounts.values() if a.external_ref is not None]
    assert len(accounts) == 1
    assert len([e for e in bridge.collection.state.endpoints.values() if not e.deleted]) == 1
    after = company_settings((await bridge.installation()).settings)
    assert after.onboarding.completed_at == settings.onboarding.completed_at


async def test_answers_match_the_schemas_openapi_json_gives_them(bridge: Bridge) -> None:
    document = (await bridge.call("GET", "/api/v1/openapi.json")).body
    registry: Registry = Registry().with_resource(
        "urn:api", Resource.from_contents(document, default_specification=DRAFT202012)
    )

    def check(body: Any, schema: str) -> None:
        ref = {"$ref": f"urn:api#/components/schemas/{schema}"}
        Draft202012Validator(ref, registry=registry).validate(body)

    operation = document["paths"]["/api/v1/installations/{agreement}/onboarding"]["put"]
    assert operation["x-role"] == "admin"
    assert {"200", "401", "403", "404", "409", "422"} <= set(operation["responses"])
    body = {"collection": {"mode": "link"}, "policy": {"min_days_overdue": 5}}
    check(body, "OnboardingChoices")
    linking = await bridge.onboard(body)
    assert linking.status == 200 and set(linking.body) == {"authorize_url"}
    check(linking.body, "AuthorizeRedirect")
    done = await bridge.onboard()
    assert done.status == 200, done
    check(done.body, "OnboardedInstallation")


async def test_link_mode_answers_the_platforms_authorize_url(bridge: Bridge) -> None:
    answer = await bridge.onboard({"collection": {"mode": "link"}})
    assert answer.status == 200 and set(answer.body) == {"authorize_url"}
    url = URL(answer.body["authorize_url"])
    assert str(url.with_query(None)) == f"{bridge.collection.url}/oauth/authorize"
    assert url.query["client_id"] == bridge.collection.client_id
    assert url.query["redirect_uri"] == f"{bridge.url}/install/collection/callback"
    assert url.query["code_challenge_method"] == "S256" and url.query["state"]
    assert "webhooks:manage" in url.query["scope"].split()
    installation = await bridge.installation()
    assert installation.collection_state == "none" and await bridge.jobs() == []
    assert bridge.company().webhook_subscriptions == {}


# -- webhooks refused -----------------------------------------------------------------------------


async def test_webhooks_api_refused_goes_legacy_with_the_urls_for_admins_only(
    bridge: Bridge,
) -> None:
    refused = {"agreement": bridge.agreement, "webhooks_api": False}
    await control(bridge.economic.url, "PUT", "/_sandbox/roles", refused)
    answer = await bridge.onboard()
    assert answer.status == 200, answer
    economic = answer.body["webhooks"]["economic"]
    assert economic["mode"] == "legacy"
    assert economic["subscriptions"] == dict.fromkeys(EVENT_TYPES, "legacy")
    key, secret = (await bridge.installation()).installation_key, await url_secret(bridge)
    expected = {t: our_url(bridge, key, secret, t) for t in ("invoice", "customer", "daybook")}
    assert economic["legacy_urls"] == expected
    assert bridge.company().webhook_subscriptions == {}
    assert len(await bridge.jobs()) == 1  # onboarding still finishes

    assert (await bridge.view())["webhooks"]["economic"]["legacy_urls"] == expected
    installation = await bridge.installation()
    roles: tuple[Role, ...] = ("guest", "caseworker")
    for role in roles:
        token = await bridge.person(f"{role}@example.com", role, installation)
        shown = (await bridge.view(token))["webhooks"]["economic"]
        assert shown["mode"] == "legacy" and "legacy_urls" not in shown
        listed = await bridge.call("GET", "/api/v1/installations", token)
        assert "legacy_urls" not in listed.body["items"][0]["webhooks"]["economic"]
        assert secret not in str(listed.body)
    listed = await bridge.call("GET", "/api/v1/installations")
    assert listed.body["items"][0]["webhooks"]["economic"]["legacy_urls"] == expected

    # the page shows them to the admin, to paste into e-conomic
    async with bridge.browser.get(f"{bridge.url}/onboarding/{bridge.agreement}") as r:
        page = html.unescape(await r.text())
    assert r.status == 200 and 'id="legacy-urls"' in page
    assert all(url in page for url in expected.values())


async def test_another_integrations_subscription_sends_that_type_to_legacy(
    bridge: Bridge,
) -> None:
    grant = bridge.economic.grant(list(bridge.economic.state.companies).index(bridge.agreement))
    foreign = {
        "eventType": "CUSTOMER_UPDATED",
        "name": "another integration",
        "url": "https://other.example/hooks/customer",
        "contentType": "application/json",
        "headers": [],
    }
    async with bridge.economic.session(grant) as http:
        async with http.post("/webhooksapi/v1.0.0/webhooks", json=foreign) as r:
            assert r.status == 201, await r.text()
    answer = await bridge.onboard()
    assert answer.status == 200, answer
    economic = answer.body["webhooks"]["economic"]
    assert economic["mode"] == "mixed"
    assert economic["subscriptions"] == dict.fromkeys(EVENT_TYPES, "api") | {
        "CUSTOMER_UPDATED": "legacy"
    }
    assert set(economic["legacy_urls"]) == {"invoice", "customer", "daybook"}
    subscriptions = bridge.company().webhook_subscriptions
    assert subscriptions["CUSTOMER_UPDATED"]["url"] == foreign["url"]  # theirs, untouched
    async with bridge.browser.get(f"{bridge.url}/onboarding/{bridge.agreement}") as r:
        page = await r.text()
    assert 'id="legacy-customer"' in page and 'id="legacy-invoice"' not in page


# -- an account that exists: the link flow ------------------------------------------------------


async def existing_account(bridge: Bridge) -> str:
    """An account the company already has on the platform (same CVR, made by hand)."""
    company = bridge.company()
    token = await bridge.collection.partner_token()
    body = {
        "name": company.name,
        "cvr": company.cvr,
        "country": "DK",
        "email": "owner@example.dk",
        "base_currency": "DKK",
        "external_ref": "economic:elsewhere",
    }
    async with bridge.collection.session.post(
        f"{bridge.collection.url}/v1/accounts",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    ) as r:
        assert r.status == 201, await r.text()
        return str((await r.json())["account"]["id"])


async def test_account_exists_then_linked_through_the_callback(bridge: Bridge) -> None:
    account_id = await existing_account(bridge)
    answer = await bridge.onboard()
    problem = answer.problem(409, "account_exists")
    authorize = URL(problem["authorize_url"])
    assert str(authorize.with_query(None)) == f"{bridge.collection.url}/oauth/authorize"
    installation = await bridge.installation()
    assert installation.collection_state == "none" and await bridge.jobs() == []
    assert bridge.company().webhook_subscriptions == {}  # nothing past the collection step
    assert company_settings(installation.settings).journal_number == 3  # the choices are kept

    await bridge.collection.control("PUT", "/_sandbox/oauth", {"auto_consent": True})
    async with bridge.browser.get(authorize.update_query(account_id=account_id)) as r:
        page = await r.text()
        assert r.status == 200, page
        assert r.url.path == "/install/collection/callback"
        callback = r.url
    assert 'id="linked"' in page and f'data-account-id="{account_id}"' in page
    assert 'id="onboarding-done"' in page
    installation = await bridge.installation()
    assert (installation.collection_state, installation.collection_account_id) == (
        "ok",
        account_id,
    )
    settings = company_settings(installation.settings)
    assert settings.onboarded and settings.onboarding.collection_mode == "link"
    jobs = await bridge.jobs()
    assert [j.id for j in jobs] == [settings.onboarding.bootstrap_job_id]
    assert f'data-job-id="{jobs[0].id}"' in page
    assert set(bridge.company().webhook_subscriptions) == set(EVENT_TYPES)
    assert [e.account_id for e in bridge.collection.state.endpoints.values()] == [account_id]
    actions = await bridge.actions()
    assert actions.index("onboarding.collection_link_started") < actions.index(
        "onboarding.collection_linked"
    )
    assert "onboarding.collection_account_created" not in actions

    # the same callback again (a replay): refused, nothing changed
    cipher = bridge.app[SERVICES].cipher
    assert cipher is not None
    store = DatabaseTokenStore(bridge.db, cipher)
    before = await store.load_tokens(installation.id)
    async with bridge.browser.get(callback) as r:
        replayed = await r.text()
        assert r.status == 400
    assert 'data-code="state_used"' in replayed and "Traceback" not in replayed
    assert await store.load_tokens(installation.id) == before


async def callback(bridge: Bridge, **query: str) -> tuple[int, str]:
    url = URL(f"{bridge.url}/install/collection/callback").with_query(query)
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as r:
            return r.status, await r.text()


async def test_a_bad_callback_stores_nothing(bridge: Bridge) -> None:
    linking = await bridge.onboard({"collection": {"mode": "link"}})
    state = URL(linking.body["authorize_url"]).query["state"]

    for query, code in (
        ({"code": "ac_x"}, "state_missing"),
        ({"code": "ac_x", "state": "forged-" + state}, "state_unknown"),
        ({"error": "access_denied", "state": state}, "access_denied"),
        ({"code": "ac_x", "state": state}, "state_used"),  # the denial used it up
    ):
        status, page = await callback(bridge, **query)
        assert status == 400 and f'data-code="{code}"' in page, (query, page)
        assert "was not linked" in page and "Traceback" not in page

    another = await bridge.onboard({"collection": {"mode": "link"}})
    later = URL(another.body["authorize_url"]).query["state"]
    bridge.clock.now += dt.timedelta(minutes=31)
    status, page = await callback(bridge, code="ac_x", state=later)
    assert status == 400 and 'data-code="state_expired"' in page

    third = await bridge.onboard({"collection": {"mode": "link"}})
    fresh = URL(third.body["authorize_url"]).query["state"]
    status, page = await callback(bridge, code="ac_not-issued", state=fresh)
    assert status == 400 and 'data-code="code_refused"' in page

    installation = await bridge.installation()
    assert installation.collection_state == "none" and installation.collection_account_id is None
    cipher = bridge.app[SERVICES].cipher
    assert cipher is not None
    assert await DatabaseTokenStore(bridge.db, cipher).load_tokens(installation.id) is None
    assert await bridge.jobs() == []
    assert "onboarding.collection_linked" not in await bridge.actions()


# -- the page -------------------------------------------------------------------------------------


def field(page: str, name: str) -> str:
    """The value a form field shows: an input's value, or a select's selected option."""
    found = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', page)
    if found:
        return html.unescape(found.group(1))
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert select, name
    chosen = re.search(r'<option value="([^"]*)"\s*selected', select.group(1))
    assert chosen, name
    return chosen.group(1)


async def test_the_page_offers_the_defaults_and_its_form_needs_the_csrf_token(
    bridge: Bridge,
) -> None:
    page_url = f"{bridge.url}/onboarding/{bridge.agreement}"
    async with bridge.browser.get(page_url) as r:
        page = await r.text()
    assert r.status == 200 and 'data-state="pending"' in page
    assert "Onboarding comes next" in page
    assert field(page, "journal_number") == "3"
    assert [field(page, f"account_{f}") for f in ("interest_income", "fee_income")] == [
        "1310",
        "1320",
    ]
    assert [field(page, f"account_{f}") for f in ("loss", "output_vat")] == ["2750", "7200"]
    assert field(page, "policy_mode") == "manual"
    assert field(page, "policy_min_days_overdue") == "10"
    assert field(page, "channels") == "nemhandel, eboks, ehf, email, sms, letter"
    assert ">3 Inkasso<" in page and ">1310 Renteindtægter<" in page
    csrf = field(page, "csrf_token")

    form = {
        "collection_mode": "create",
        "journal_number": "3",
        "account_interest_income": "1310",
        "account_fee_income": "1320",
        "account_loss": "2750",
        "account_output_vat": "7200",
        "policy_mode": "automatic",
        "policy_min_days_overdue": "14",
        "policy_min_amount": "5000",
        "policy_exclude_customer_groups": "4",
        "policy_start_step": "reminder_1",
        "policy_notice_days": "0",
        "business_customer_groups": "1, 2",
        "channels": "email, letter",
    }
    for sent in (form, form | {"csrf_token": "not-the-token"}):
        async with bridge.browser.post(page_url, data=sent) as r:
            refused = await r.text()
            assert r.status == 403 and 'data-code="csrf_failed"' in refused
    assert await bridge.jobs() == [] and (await bridge.installation()).settings == {}

    async with bridge.browser.post(page_url, data=form | {"csrf_token": csrf}) as r:
        done = await r.text()
        assert r.status == 200, done
    jobs = await bridge.jobs()
    assert len(jobs) == 1 and f'data-job-id="{jobs[0].id}"' in done
    assert 'data-state="done"' in done
    settings = company_settings((await bridge.installation()).settings)
    assert settings.policy.mode == "automatic" and settings.policy.min_days_overdue == 14
    assert settings.policy.exclude_customer_groups == (4,)
    assert settings.business_customer_groups == (1, 2)
    assert settings.channels == ("email", "letter")
    assert field(done, "policy_min_days_overdue") == "14"  # the saved choices are shown

    async with bridge.browser.post(
        page_url, data=form | {"csrf_token": csrf, "policy_min_days_overdue": "0"}
    ) as r:
        bad = await r.text()
        assert r.status == 422 and 'data-code="invalid_choice"' in bad
    assert company_settings((await bridge.installation()).settings).policy.min_days_overdue == 14


async def test_members_below_admin_see_the_page_read_only(bridge: Bridge) -> None:
    installation = await bridge.installation()
    users = Users(bridge.db)
    guest = await users.find_or_create(email="guest@example.com", name="g", now=bridge.clock())
    await users.grant(guest, installation.id, "guest", now=bridge.clock())
    session = await open_session(bridge.db, user_id=guest, now=bridge.clock(), replacing=None)
    found = await Sessions(bridge.db).get(session, now=bridge.clock())
    assert found is not None
    page_url = f"{bridge.url}/onboarding/{bridge.agreement}"
    async with aiohttp.ClientSession(cookies={SESSION_COOKIE: session}) as http:
        async with http.get(page_url) as r:
            page = await r.text()
        assert r.status == 200 and 'id="read-only"' in page and "<fieldset disabled" in page
        # the frame's sign-out form carries the token; the onboarding form does not
        onboarding_form = page[
            page.index('id="onboarding"') : page.index("</form>", page.index('id="onboarding"'))
        ]
        assert 'name="csrf_token"' not in onboarding_form and 'id="submit"' not in page
        assert field(page, "journal_number") == "3"  # the same choices, to read
        form = {"collection_mode": "create", "csrf_token": found.csrf_token}
        async with http.post(page_url, data=form) as r:
            refused = await r.text()
            assert r.status == 403 and 'data-code="role_required"' in refused
    assert await bridge.jobs() == [] and (await bridge.installation()).settings == {}


# -- who may -------------------------------------------------------------------------------------


async def test_only_an_admin_of_the_company_may_onboard_it(bridge: Bridge) -> None:
    installation = await bridge.installation()
    other = await Installations(bridge.db).activate(
        agreement_number=4242, company_name="Other ApS", now=bridge.clock()
    )
    guest = await bridge.person("guest@example.com", "guest", installation)
    caseworker = await bridge.person("case@example.com", "caseworker", installation)
    stranger = await bridge.person("stranger@example.com", "admin", other)
    (await bridge.onboard(token=guest)).problem(403, "role_required")
    (await bridge.onboard(token=caseworker)).problem(403, "role_required")
    (await bridge.onboard(token=stranger)).problem(404, "not_found")
    missing = await bridge.call("PUT", "/api/v1/installations/999999/onboarding", json={})
    missing.problem(404, "not_found")
    assert await bridge.jobs() == []
    assert not [a for a in bridge.collection.state.accounts.values() if a.external_ref is not None]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"journal_number": "three"}, "invalid_body"),
        ({"colour": "blue"}, "invalid_body"),
        ({"collection": {"mode": "borrow"}}, "invalid_body"),
        ({"channels": ["pigeon"]}, "invalid_body"),
        ({"channels": []}, "invalid_choice"),
        ({"journal_number": 77}, "invalid_choice"),
        ({"journal_number": 2}, "invalid_choice"),  # only customer payments
        ({"accounts": {"loss": 1000}}, "invalid_choice"),  # a heading
        ({"accounts": {"loss": 4321}}, "invalid_choice"),
        ({"policy": {"min_days_overdue": 0}}, "invalid_choice"),
        ({"policy": {"mode": "whenever"}}, "invalid_choice"),
    ],
)
async def test_a_bad_body_is_422_and_changes_nothing(
    bridge: Bridge, body: dict[str, Any], code: str
) -> None:
    (await bridge.onboard(body)).problem(422, code)
    installation = await bridge.installation()
    assert installation.settings == {} and installation.collection_state == "none"
    assert await bridge.jobs() == []


async def test_a_body_that_is_not_json_is_422(bridge: Bridge) -> None:
    headers = {"Authorization": f"Bearer {bridge.admin_token}"}
    async with aiohttp.ClientSession() as http:
        async with http.put(
            f"{bridge.url}/api/v1/installations/{bridge.agreement}/onboarding",
            data=b"journal_number=3",
            headers=headers,
        ) as r:
            answer = Answer(r.status, r.content_type, await r.json(content_type=None))
    answer.problem(422, "invalid_body")


# -- the CLI --------------------------------------------------------------------------------------


async def cli(bridge: Bridge, *args: str) -> tuple[int, str, str]:
    """``collectbridge`` in a subprocess, while this loop keeps serving both simulators."""
    env = {
        "PATH": "/usr/bin:/bin",
        "COLLECTBRIDGE_DATABASE_URL": bridge.settings.database_url,
        "COLLECTBRIDGE_PUBLIC_URL": bridge.url,
        "COLLECTBRIDGE_SECRET_KEY": SECRET_KEY,
        "COLLECTBRIDGE_ECONOMIC_APP_SECRET_TOKEN": bridge.economic.app_secret_token,
        "COLLECTBRIDGE_ECONOMIC_APP_PUBLIC_TOKEN": bridge.economic.app_public_token,
        "COLLECTBRIDGE_ECONOMIC_API_URL": bridge.economic.url,
        "COLLECTBRIDGE_ECONOMIC_OPENAPI_URL": bridge.economic.url,
        "COLLECTBRIDGE_COLLECTION_API_URL": bridge.collection.url,
        "COLLECTBRIDGE_COLLECTION_CLIENT_ID": bridge.collection.client_id,
        "COLLECTBRIDGE_COLLECTION_CLIENT_SECRET": bridge.collection.client_secret,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "plugin.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_cli_onboard_with_defaults(bridge: Bridge) -> None:
    agreement = str(bridge.agreement)
    code, out, err = await cli(bridge, "onboard", agreement)
    assert code == 2 and "--defaults" in err, (out, err)
    assert "journal: 3 Inkasso" in out and "interest income 1310" in out
    assert (await bridge.installation()).settings == {} and await bridge.jobs() == []

    code, out, err = await cli(bridge, "onboard", agreement, "--defaults")
    assert code == 0, (out, err)
    jobs = await bridge.jobs()
    assert len(jobs) == 1 and out.strip().splitlines()[-1] == f"bootstrap job {jobs[0].id}"
    installation = await bridge.installation()
    assert installation.collection_state == "ok" and f"{installation.collection_account_id}" in out
    assert set(bridge.company().webhook_subscriptions) == set(EVENT_TYPES)
    entries = await AuditLog(bridge.db).list(installation.id)
    assert {e.actor for e in entries if e.action.startswith("onboarding.")} == {"cli"}

    code, out, err = await cli(bridge, "onboard", "4242", "--defaults")
    assert code == 2 and "4242 is not installed" in err


async def test_one_onboarding_of_a_company_at_a_time(bridge: Bridge) -> None:
    installation = await bridge.installation()
    leases = Leases(bridge.db)
    name = f"onboarding:{installation.id}"
    assert await leases.acquire(name, "another-process", ttl=60, now=bridge.clock())
    (await bridge.onboard()).problem(409, "onboarding_running")
    assert (await bridge.installation()).settings == {}
    await leases.release(name, "another-process")
    assert (await bridge.onboard()).status == 200


async def test_the_page_never_shows_the_legacy_urls_below_admin(bridge: Bridge) -> None:
    refused = {"agreement": bridge.agreement, "webhooks_api": False}
    await control(bridge.economic.url, "PUT", "/_sandbox/roles", refused)
    assert (await bridge.onboard()).status == 200
    secret = await url_secret(bridge)
    installation = await bridge.installation()
    users, now = Users(bridge.db), bridge.clock()
    roles: tuple[Role, ...] = ("guest", "caseworker")
    for role in roles:
        user_id = await users.find_or_create(email=f"{role}@x.example", name=role, now=now)
        await users.grant(user_id, installation.id, role, now=now)
        session = await open_session(bridge.db, user_id=user_id, now=now, replacing=None)
        async with aiohttp.ClientSession(cookies={SESSION_COOKIE: session}) as http:
            async with http.get(f"{bridge.url}/onboarding/{bridge.agreement}") as r:
                page = await r.text()
        assert r.status == 200 and 'data-state="done"' in page
        assert secret not in page and 'id="legacy-urls"' not in page


async def test_disconnect_deletes_our_subscriptions_and_revokes_the_collection_grant(
    bridge: Bridge,
) -> None:
    answer = await bridge.onboard({"collection": {"mode": "create"}, "journal_number": None})
    assert answer.status == 200, answer
    company = bridge.company()
    assert set(company.webhook_subscriptions) == set(EVENT_TYPES)
    assert [e for e in bridge.collection.state.endpoints.values() if not e.deleted]
    path = f"/api/v1/installations/{bridge.agreement}/disconnect"
    gone = await bridge.call("POST", path)
    assert gone.status == 200 and gone.body["status"] == "revoked", gone
    assert company.webhook_subscriptions == {}
    assert [e for e in bridge.collection.state.endpoints.values() if not e.deleted] == []
    assert all(g.revoked for g in bridge.collection.state.grants.values())
    assert "installation.webhooks_deleted" in await bridge.actions()
