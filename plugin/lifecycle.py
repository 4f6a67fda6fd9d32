"""What a person (or e-conomic) does to an installation as a whole: pause, resume, disconnect,
and access to e-conomic lost.

    action       from                    to        jobs
    pause        active                  paused    waiting ones parked; new ones wait too
    resume       paused                  active    parked ones run now
    disconnect   pending|active|paused   revoked   parked; the collection grant revoked
    access lost  pending|active|paused   revoked   parked; one open problem (economic_auth_lost)

Asking for the status an installation already has changes nothing and is no error (a retried
call converges); any other move is `InvalidState` (409 ``invalid_state`` in the API): a
revoked installation is made active again only by a reinstall (`plugin.install`), which also
resolves the access-lost problem and unparks the jobs. The status is written with a
compare-and-set on the status it was read with, together with its audit entry, and before the
jobs are parked, so a job enqueued meanwhile is held too (`sync.installation_queue`).

Resume unparks every parked job of the installation: a job parked for a lost collection link
runs again, meets the lost link at once (no call is made) and parks again.

A running job is not stopped by any of these: it ends its current run (stopping it needs the
worker, which is not changed here). Disconnect also deletes the webhook subscriptions
onboarding registered on both sides (the e-conomic Webhooks API ones and the collection
endpoint), before it revokes the collection grant.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import TYPE_CHECKING, Any, Literal

import aiohttp

from plugin.connections import Connections
from sync.clients.collection_auth import TokenKeeper
from sync.clients.collection_tokens import DatabaseTokenStore
from sync.clients.economic_wire import PLATFORM as ECONOMIC
from sync.company_settings import company_settings
from sync.errors import AuthLostError, SyncError
from sync.jobs import Job
from sync.store.audit import AuditLog
from sync.store.installations import Installation, Installations, Status
from sync.store.problems import Problems
from webhooks import forget_installation

if TYPE_CHECKING:
    from plugin.bootstrap import Services

log = logging.getLogger(__name__)
Action = Literal["pause", "resume", "disconnect", "economic_lost"]
GrantOutcome = Literal["revoked", "not_linked", "not_configured", "failed"]
ECONOMIC_AUTH_LOST = "economic_auth_lost"
ECONOMIC_AUTH_LOST_SUBJECT = "economic:grant"
ECONOMIC_AUTH_LOST_MESSAGE = (
    "e-conomic no longer accepts this company's grant (the app was removed or its access "
    "revoked in e-conomic). Sync has stopped: an admin of the company must install the app "
    "again from e-conomic's app store; the history is kept and sync picks up where it stopped."
)
REVOKE_TIMEOUT = aiohttp.ClientTimeout(total=15)
_RUNNING: frozenset[Status] = frozenset({"pending", "active", "paused"})
TRANSITIONS: dict[Action, tuple[frozenset[Status], Status]] = {
    "pause": (frozenset({"active"}), "paused"),
    "resume": (frozenset({"paused"}), "active"),
    "disconnect": (_RUNNING, "revoked"),
    "economic_lost": (_RUNNING, "revoked"),
}


class InvalidState(Exception):
    """The installation's status does not allow the action; ``message`` says why."""

    code = "invalid_state"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def next_status(action: Action, status: Status) -> Status | None:
    """The status ``action`` moves an installation in ``status`` to; None when it is there
    already; `InvalidState` when the move is not allowed."""
    allowed, target = TRANSITIONS[action]
    if status == target:
        return None
    if status not in allowed:
        hint = " (install the app again from e-conomic)" if status == "revoked" else ""
        raise InvalidState(f"a {status} installation cannot be {_done(action)}{hint}")
    return target


def _done(action: Action) -> str:
    return {"pause": "paused", "resume": "resumed", "disconnect": "disconnected"}.get(
        action, "revoked"
    )


class Lifecycle:
    """The actions over the shared adapters; each returns the installation as it is after."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.db = services.db
        self.queue = services.queue

    async def pause(self, installation: Installation, *, actor: str) -> Installation:
        now = self.services.clock()
        if await self._move(installation, "pause", actor=actor, now=now):
            await self.queue.park_installation(installation.id, now=now)
        return await self._reread(installation)

    async def resume(self, installation: Installation, *, actor: str) -> Installation:
        now = self.services.clock()
        if await self._move(installation, "resume", actor=actor, now=now):
            await self.queue.unpark_installation(installation.id, now=now)
        return await self._reread(installation)

    async def disconnect(self, installation: Installation, *, actor: str) -> Installation:
        """Revoked and its jobs parked at once; then the collection grant revoked (RFC 7009)
        when the link is ``ok``. A grant the platform could not revoke is logged and written
        to the audit log; disconnecting again tries once more."""
        now = self.services.clock()
        moved = await self._move(installation, "disconnect", actor=actor, now=now)
        await self.queue.park_installation(installation.id, now=now)
        removed = await self._delete_subscriptions(installation)
        if removed:
            await AuditLog(self.db).record(
                installation_id=installation.id,
                actor=actor,
                action="installation.webhooks_deleted",
                at=self.services.clock(),
                detail=removed,
            )
        grant = await self._revoke_collection_grant(installation)
        if grant != "not_linked":
            await AuditLog(self.db).record(
                installation_id=installation.id,
                actor=actor,
                action="installation.collection_grant_revoked",
                at=self.services.clock(),
                detail={"outcome": grant, "disconnected_now": moved},
            )
        return await self._reread(installation)

    async def economic_access_lost(
        self,
        installation_id: int,
        *,
        detail: dict[str, Any] | None = None,
        seen_at: dt.datetime | None = None,
    ) -> None:
        """e-conomic refused the grant (401): revoked, one open problem, jobs parked.

        ``seen_at`` is when the refused run started: an installation (re)activated since then
        holds a newer grant than the one refused, so a late report of the old grant's 401
        changes nothing (the worker's park is then a no-op too: parking needs a held status)."""
        now = self.services.clock()
        installation = await Installations(self.db).get(installation_id)
        if installation is None:
            return
        if (
            seen_at is not None
            and installation.status in ("pending", "active")
            and installation.updated_at > seen_at
        ):
            return
        async with self.db.transaction() as tx:
            if installation.status in _RUNNING:
                await Installations(tx).change_status(
                    installation_id, expected=installation.status, status="revoked", now=now
                )
                await AuditLog(tx).record(
                    installation_id=installation_id,
                    actor="economic",
                    action="installation.economic_access_lost",
                    at=now,
                    detail={"previous_status": installation.status},
                )
            if installation.status != "deleted":
                await Problems(tx).record(
                    installation_id=installation_id,
                    category="auth_lost",
                    code=ECONOMIC_AUTH_LOST,
                    subject=ECONOMIC_AUTH_LOST_SUBJECT,
                    message=ECONOMIC_AUTH_LOST_MESSAGE,
                    detail={"platform": detail} if detail else {},
                    now=now,
                )
        forget_installation(installation_id)  # the receivers of this process answer 410 now
        await self.queue.park_installation(installation_id, now=now)

    async def _move(
        self, installation: Installation, action: Action, *, actor: str, now: dt.datetime
    ) -> bool:
        """Write the action's status and its audit entry; False when there was nothing to do."""
        target = next_status(action, installation.status)
        if target is None:
            return False
        async with self.db.transaction() as tx:
            changed = await Installations(tx).change_status(
                installation.id, expected=installation.status, status=target, now=now
            )
            if not changed:
                raise InvalidState("the installation changed meanwhile; look again and retry")
            await AuditLog(tx).record(
                installation_id=installation.id,
                actor=actor,
                action=f"installation.{_done(action)}",
                at=now,
                detail={"previous_status": installation.status, "status": target},
            )
        forget_installation(installation.id)  # the receivers of this process see the status
        return True

    async def _reread(self, installation: Installation) -> Installation:
        found = await Installations(self.db).get(installation.id)
        assert found is not None  # installations are never deleted (personal data is purged)
        return found

    async def _delete_subscriptions(self, installation: Installation) -> dict[str, Any]:
        """Our webhook subscriptions on both sides, deleted (before the collection grant is
        revoked: deleting the endpoint needs it). Each one that could not be deleted is logged
        and left for the platform (e-conomic stops delivering to a revoked app; the collection
        platform disables an endpoint that keeps failing)."""
        hooks = company_settings(installation.settings).webhooks
        connections = Connections(self.services)
        done: dict[str, Any] = {}
        if hooks.economic.subscription_ids:
            try:
                economic = await connections.economic(installation)
                for webhook_id in sorted(hooks.economic.subscription_ids.values()):
                    await economic.delete_webhook(
                        webhook_id, idempotency_key=f"unwebhook:{installation.id}:{webhook_id}"
                    )
                done["economic"] = sorted(hooks.economic.subscription_ids)
            except (SyncError, aiohttp.ClientError) as exc:
                log.warning("e-conomic webhooks not deleted: %s", type(exc).__name__)
        endpoint = hooks.collection.endpoint_id
        if endpoint and installation.collection_state == "ok":
            try:
                await connections.collection(installation).delete_webhook_endpoint(endpoint)
                done["collection"] = endpoint
            except (SyncError, aiohttp.ClientError) as exc:
                log.warning("collection webhook endpoint not deleted: %s", type(exc).__name__)
        return done

    async def _revoke_collection_grant(self, installation: Installation) -> GrantOutcome:
        if installation.collection_state != "ok":
            return "not_linked"
        settings, cipher = self.services.settings, self.services.cipher
        api_url, secret = settings.collection_api_url, settings.collection_client_secret
        if cipher is None or api_url is None or not settings.collection_client_id or not secret:
            log.warning("collection grant not revoked: the collection client is not configured")
            return "not_configured"
        store = DatabaseTokenStore(self.db, cipher)
        keeper = TokenKeeper(
            self.services.http,
            token_url=api_url.rstrip("/") + "/oauth/token",
            client_id=settings.collection_client_id,
            client_secret=secret.reveal(),
            installation_id=installation.id,
            store=store,
            holder=f"disconnect:{os.getpid()}",
            now=self.services.clock,
            timeout=REVOKE_TIMEOUT,
        )
        try:
            revoked = await keeper.revoke(api_url.rstrip("/") + "/oauth/revoke")
        except SyncError as exc:
            log.warning("collection grant not revoked: %s", exc.message)
            return "failed"
        except aiohttp.ClientError as exc:
            log.warning("collection grant not revoked: %s", type(exc).__name__)
            return "failed"
        await self.db.execute(
            "forget_collection_grant", id=installation.id, now=self.services.clock()
        )
        return "revoked" if revoked else "not_linked"


class JobProblems:
    """The worker's `ProblemSink`: permanent refusals become problems (`Problems`), and an
    e-conomic `AuthLostError` revokes the installation (`Lifecycle.economic_access_lost`).

    A lost collection link is recorded by the collection client itself (one problem,
    ``collection_auth_lost``), so its `AuthLostError` records nothing more here.

    The worker calls it for both the ``problem`` and the ``park`` outcome, so a job's e-conomic
    401 revokes the installation as well as parking its jobs.
    """

    def __init__(self, services: Services) -> None:
        self.services = services
        self.problems = Problems(services.db)

    async def record_job_problem(self, job: Job, exc: BaseException, now: dt.datetime) -> None:
        if isinstance(exc, AuthLostError):
            if exc.platform == ECONOMIC and job.installation_id is not None:
                detail = exc.detail if isinstance(exc.detail, dict) else None
                await Lifecycle(self.services).economic_access_lost(
                    job.installation_id, detail=detail, seen_at=job.started_at or job.created_at
                )
            return
        await self.problems.record_job_problem(job, exc, now)
