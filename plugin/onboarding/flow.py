"""``onboard(services, installation, choices, *, actor)``: onboarding's one core, used by the
page, ``PUT /api/v1/installations/{agreement}/onboarding`` and ``collectbridge onboard``.

Steps, in order; every one is safe to run again, so an onboarding that stopped anywhere
(a platform down, the browser gone to the platform's consent page) is resumed by running it
again with the same choices:

1. **Choices** (`plugin.onboarding.choices`): the company's journals and chart of accounts are
   read from e-conomic and the choices checked and completed with defaults — nothing is written
   before they pass (422). Then they go into the settings document (`sync.company_settings`),
   keys we do not know kept, with a problem (``missing_data``) for a journal or account that
   could not be chosen (resolved once one is).
2. **Collection account** (`plugin.onboarding.collection`): skipped when the link is ``ok``;
   else created, or the link flow begun: onboarding then stops with `Linking` (the browser goes
   to the platform) and the callback runs it again.
3. **Webhooks** (`plugin.onboarding.webhooks`): the e-conomic URL secret (made once, stored
   encrypted), the Webhooks-API subscriptions (or legacy), the collection webhook endpoint.
4. **Finish**: ``onboarding.completed_at`` (the first completion is kept) and the bootstrap:
   ``sync.bootstrap`` with dedupe key ``bootstrap:<agreement>``. While the bootstrap a previous
   run started is still queued, running, failed (to be retried) or parked, its id is answered
   and nothing is enqueued; after it ended, finishing again starts a new one (it never
   duplicates anything, and the choices may have changed).

One onboarding of an installation at a time, across processes: a database lease
(``onboarding:<installation id>``); a second one meanwhile is turned away (409
``onboarding_running``). Each step writes its audit entry (``onboarding.*``), naming ``actor``.
Platform failures become `OnboardingError` with a status for the API: the platforms
unreachable 503, a refusal 502, e-conomic's grant refused (401: the installation is revoked,
`plugin.lifecycle`) 409.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import msgspec

from plugin.connections import Connections
from plugin.lifecycle import Lifecycle
from plugin.onboarding.choices import Note, OnboardingChoices, OnboardingError, Resolved, resolve
from plugin.onboarding.collection import Linking, connect
from plugin.onboarding.webhook_urls import (
    collection_webhook_url,
    economic_webhook_urls,
)
from plugin.onboarding.webhooks import ensure_collection_endpoint, subscribe_economic
from sync import schedules
from sync.clients.economic import EconomicClient
from sync.company_settings import WebhookSettings, company_settings
from sync.errors import (
    AuthLostError,
    ConfigurationError,
    PermanentError,
    SyncError,
    TransientError,
)
from sync.store.audit import AuditLog
from sync.store.installations import Installation, Installations
from sync.store.leases import Leases
from sync.store.problems import Problems
from sync.store.webhook_secrets import WebhookSecrets

if TYPE_CHECKING:
    from plugin.bootstrap import Services

log = logging.getLogger(__name__)
BOOTSTRAP = "sync.bootstrap"
LEASE_SECONDS = 300.0
STILL_GOING = frozenset({"queued", "running", "failed", "parked"})
JOURNAL_MISSING = "onboarding_journal_missing"
ACCOUNTS_MISSING = "onboarding_accounts_missing"


class Finished(msgspec.Struct, frozen=True, kw_only=True):
    installation: Installation
    bootstrap_job_id: int
    resolved: Resolved
    notes: tuple[Note, ...] = ()


Outcome = Finished | Linking


async def onboard(
    services: Services, installation: Installation, choices: OnboardingChoices, *, actor: str
) -> Outcome:
    if installation.status in ("revoked", "deleted"):
        raise OnboardingError(
            "invalid_state",
            f"a {installation.status} installation cannot be onboarded "
            "(install the app again from e-conomic)",
        )
    async with _one_at_a_time(services, installation), _platform_errors(services, installation):
        economic = await Connections(services).economic(installation)
        resolved = await plan(economic, choices)
        await _save_choices(services, installation, resolved, actor=actor)
        linking = await connect(services, installation, choices, economic, actor=actor)
        if linking is not None:
            return linking
        installation = await _reread(services, installation)
        webhooks, notes = await _webhooks(services, installation, economic, actor=actor)
        return await _finish(services, installation, resolved, webhooks, notes, actor=actor)


async def plan(economic: EconomicClient, choices: OnboardingChoices) -> Resolved:
    """The choices checked against the company's journals and accounts (read from e-conomic)."""
    journals = [j async for j in economic.journals()]
    accounts = [a async for a in economic.accounts()]
    return resolve(choices, journals=journals, accounts=accounts)


@contextlib.asynccontextmanager
async def _one_at_a_time(services: Services, installation: Installation) -> AsyncIterator[None]:
    name, holder = f"onboarding:{installation.id}", secrets.token_hex(8)
    leases = Leases(services.db)
    if not await leases.acquire(name, holder, ttl=LEASE_SECONDS, now=services.clock()):
        raise OnboardingError(
            "onboarding_running",
            "onboarding of this company is already under way; look again in a minute",
        )
    try:
        yield
    finally:
        await leases.release(name, holder)


@contextlib.asynccontextmanager
async def _platform_errors(services: Services, installation: Installation) -> AsyncIterator[None]:
    """A platform's failure as an `OnboardingError` a person can act on."""
    try:
        yield
    except AuthLostError as exc:
        if exc.platform == "economic":
            await Lifecycle(services).economic_access_lost(installation.id)
            raise OnboardingError(
                "economic_access_lost",
                "e-conomic no longer accepts the company's grant: install the app again",
            ) from exc
        raise OnboardingError("collection_access_lost", exc.message) from exc
    except ConfigurationError as exc:
        raise OnboardingError("not_configured", exc.message, status=503) from exc
    except TransientError as exc:
        where = "e-conomic" if exc.platform == "economic" else "the collection platform"
        raise OnboardingError(
            "platform_unavailable",
            f"{where} could not be reached ({exc.message}); nothing is lost, try again",
            status=503,
        ) from exc
    except PermanentError as exc:
        raise OnboardingError("platform_refused", exc.message, status=502) from exc
    except (SyncError, msgspec.MsgspecError) as exc:
        log.warning("onboarding stopped: %s", type(exc).__name__)
        raise OnboardingError(
            "platform_garbled", "a platform's answer was not understood", status=502
        ) from exc


async def _reread(services: Services, installation: Installation) -> Installation:
    found = await Installations(services.db).get(installation.id)
    assert found is not None  # installations are never deleted
    return found


Change = Callable[[dict[str, Any]], None]


async def _change_settings(services: Services, installation_id: int, change: Change) -> None:
    """Read the settings document, change it in place, check and store it (unknown keys kept)."""
    async with services.db.transaction() as tx:
        found = await Installations(tx).get(installation_id)
        assert found is not None
        document = dict(found.settings)
        change(document)
        company_settings(document)  # what we write must read back
        await Installations(tx).save_settings(installation_id, document, now=services.clock())


async def _save_choices(
    services: Services, installation: Installation, resolved: Resolved, *, actor: str
) -> None:
    def change(document: dict[str, Any]) -> None:
        onboarding = dict(document.get("onboarding") or {})
        onboarding["collection_mode"] = resolved.collection_mode
        document.update(
            onboarding=onboarding,
            journal_number=resolved.journal_number,
            accounts=msgspec.to_builtins(resolved.accounts),
            business_customer_groups=list(resolved.business_customer_groups),
            policy=msgspec.to_builtins(resolved.policy),
            channels=list(resolved.channels),
        )

    await _change_settings(services, installation.id, change)
    now = services.clock()
    await _problems(services, installation, resolved, now=now)
    await AuditLog(services.db).record(
        installation_id=installation.id,
        actor=actor,
        action="onboarding.choices_saved",
        at=now,
        detail={
            "collection_mode": resolved.collection_mode,
            "journal_number": resolved.journal_number,
            "accounts": msgspec.to_builtins(resolved.accounts),
            "policy_mode": resolved.policy.mode,
            "channels": list(resolved.channels),
        },
    )


async def _problems(
    services: Services, installation: Installation, resolved: Resolved, *, now: dt.datetime
) -> None:
    """A journal or account that could not be chosen is a problem to act on, until it is."""
    problems = Problems(services.db)
    missing_accounts = [n for n in resolved.notes if n.code.startswith("account_missing:")]
    journal = [n for n in resolved.notes if n.code == "journal_missing"]
    for code, notes, subject in (
        (JOURNAL_MISSING, journal, "onboarding:journal"),
        (ACCOUNTS_MISSING, missing_accounts, "onboarding:accounts"),
    ):
        if not notes:
            await problems.resolve_open(installation.id, code, now=now)
            continue
        await problems.record(
            installation_id=installation.id,
            category="missing_data",
            code=code,
            subject=subject,
            message=" ".join(n.message for n in notes),
            detail={"notes": [n.code for n in notes]},
            now=now,
        )


async def _webhooks(
    services: Services, installation: Installation, economic: EconomicClient, *, actor: str
) -> tuple[WebhookSettings, tuple[Note, ...]]:
    cipher, public = services.cipher, services.settings.public_url
    assert cipher is not None  # Connections.economic needs it too
    now = services.clock()
    secrets_store = WebhookSecrets(services.db, cipher)
    url_secret = await secrets_store.economic_url_secret(installation.id, now=now)
    urls = economic_webhook_urls(public, installation.installation_key, url_secret)
    economic_part = await subscribe_economic(
        economic, urls, agreement=installation.agreement_number
    )
    recorded = company_settings(installation.settings).webhooks.collection
    collection_part, note = await ensure_collection_endpoint(
        Connections(services).collection(installation),
        secrets_store,
        installation_id=installation.id,
        agreement=installation.agreement_number,
        account_id=installation.collection_account_id,
        url=collection_webhook_url(public, installation.installation_key),
        recorded=recorded,
        now=services.clock(),
    )
    audit = AuditLog(services.db)
    await audit.record(
        installation_id=installation.id,
        actor=actor,
        action="onboarding.economic_webhooks",
        at=services.clock(),
        detail={"mode": economic_part.mode, "subscriptions": economic_part.subscriptions},
    )
    await audit.record(
        installation_id=installation.id,
        actor=actor,
        action="onboarding.collection_webhook",
        at=services.clock(),
        detail={"state": collection_part.state, "endpoint_id": collection_part.endpoint_id},
    )
    webhooks = WebhookSettings(economic=economic_part, collection=collection_part)
    return webhooks, (note,) if note else ()


async def _finish(
    services: Services,
    installation: Installation,
    resolved: Resolved,
    webhooks: WebhookSettings,
    notes: tuple[Note, ...],
    *,
    actor: str,
) -> Finished:
    now = services.clock()
    before = company_settings(installation.settings).onboarding
    job_id = await _bootstrap(services, installation, before.bootstrap_job_id, now=now)

    def change(document: dict[str, Any]) -> None:
        onboarding = dict(document.get("onboarding") or {})
        onboarding["completed_at"] = (before.completed_at or now).astimezone(dt.UTC)
        onboarding["bootstrap_job_id"] = job_id
        document["onboarding"] = msgspec.to_builtins(onboarding)
        document["webhooks"] = msgspec.to_builtins(webhooks)

    await _change_settings(services, installation.id, change)
    await AuditLog(services.db).record(
        installation_id=installation.id,
        actor=actor,
        action="onboarding.completed",
        at=now,
        detail={"bootstrap_job_id": job_id, "first": before.completed_at is None},
    )
    return Finished(
        installation=await _reread(services, installation),
        bootstrap_job_id=job_id,
        resolved=resolved,
        notes=resolved.notes + notes,
    )


async def _bootstrap(
    services: Services, installation: Installation, previous: int | None, *, now: dt.datetime
) -> int:
    if previous is not None:
        found = await services.queue.get(previous)
        if found is not None and found.state in STILL_GOING:
            return previous
    job = schedules.bootstrap(installation.id, installation.agreement_number)
    # The collection events feed's safety net starts with the first sync (then every 5 min).
    feed = schedules.events(
        installation.id, installation.agreement_number, run_at=now + schedules.EVENTS_EVERY
    )
    await services.queue.enqueue(feed, now=now)
    return await services.queue.enqueue(job, now=now)
