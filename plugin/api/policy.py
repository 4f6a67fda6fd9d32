"""A company's handover policy and its problems: ``/api/v1/installations/{agreement}/…``.

    GET  …/policy      guest   the handover policy
    PUT  …/policy      admin   replace it whole, and apply it
    GET  …/problems    guest   the open problems, latest first

``PUT …/policy`` takes the whole policy (fields left out take their defaults; unknown fields,
``min_days_overdue`` < 1 and other bad values → 422 naming the field), keeps every other key of
the settings document, and then applies the policy to the company's claims inline: that is
store I/O only (a page of 1000 claims a statement), and the hand-overs it makes due are queued
as ``handover.claim`` jobs for the worker. A changed ``notice_days`` so moves ``handover_on``
at once.
"""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from plugin.api import shapes
from plugin.api.auth import Member
from plugin.api.claims import audit
from plugin.api.errors import Invalid
from plugin.api.registry import Api, reply
from plugin.api.values import as_utc
from plugin.keys import CLOCK, DATABASE, QUEUE
from sync.company_settings import Policy, company_settings
from sync.engine import Engine
from sync.mapping import today_in_copenhagen
from sync.policy import InvalidPolicy, validate_policy
from sync.store.installations import Installations
from sync.store.problems import Problems
from sync.store.sync_state import SyncState


def policy_view(policy: Policy) -> shapes.PolicyView:
    return shapes.PolicyView(
        mode=policy.mode,
        min_days_overdue=policy.min_days_overdue,
        min_amount=policy.min_amount,
        exclude_customer_groups=list(policy.exclude_customer_groups),
        start_step=policy.start_step,
        notice_days=policy.notice_days,
    )


# -- the policy -------------------------------------------------------------------------------


async def show_policy(request: web.Request, member: Member) -> web.Response:
    return reply(policy_view(company_settings(member.installation.settings).policy))


async def _json_body(request: web.Request) -> Any:
    try:
        return msgspec.json.decode(await request.read())
    except msgspec.DecodeError:
        raise Invalid("invalid_body", "the body is not JSON") from None


async def replace_policy(request: web.Request, member: Member) -> web.Response:
    return reply(policy_view(await apply_policy(request, member, await _json_body(request))))


async def apply_policy(request: web.Request, member: Member, document: Any) -> Policy:
    """Validate ``document`` as the whole policy, save it and apply it to the claims at once
    (the API's PUT and the settings page alike); `Invalid` names every field refused."""
    try:
        policy = validate_policy(document)
    except InvalidPolicy as exc:
        detail = "; ".join(
            (f"{e['field']}: " if e["field"] else "") + e["message"] for e in exc.errors
        )
        raise Invalid("invalid_policy", detail) from exc
    db, clock = request.app[DATABASE], request.app[CLOCK]
    now = clock()
    installations = Installations(db)
    current = await installations.get(member.installation.id)
    assert current is not None
    before = company_settings(current.settings).policy
    await installations.save_settings(
        current.id, {**current.settings, "policy": msgspec.to_builtins(policy)}, now=now
    )
    saved = await installations.get(current.id)
    assert saved is not None
    engine = Engine(
        db,
        saved,
        company_settings(saved.settings),
        collection=None,  # deciding writes to the store only; hand-overs become jobs
        queue=request.app[QUEUE],
        clock=clock,
        base_currency=await base_currency(request, saved.id),
    )
    due = await engine.apply_policy(today=today_in_copenhagen(now))
    await audit(
        request,
        member,
        "policy.changed",
        now,
        before=msgspec.to_builtins(before),
        after=msgspec.to_builtins(policy),
        handovers_queued=due,
    )
    return policy


async def base_currency(request: web.Request, installation_id: int) -> str:
    """The base currency of the cached reference data (the engine's mapping needs it; deciding
    does not)."""
    reference = await SyncState(request.app[DATABASE]).get(installation_id, "reference")
    currency = reference.checkpoint.get("base_currency")
    return currency if isinstance(currency, str) else "DKK"


# -- problems ---------------------------------------------------------------------------------


async def list_problems(request: web.Request, member: Member) -> web.Response:
    found = await Problems(request.app[DATABASE]).open(member.installation.id)
    return reply(
        shapes.ProblemList(
            items=[
                shapes.ProblemView(
                    id=p.id,
                    category=p.category,
                    code=p.code,
                    subject=p.subject,
                    message=p.message,
                    occurrences=p.occurrences,
                    first_seen_at=as_utc(p.first_seen_at),
                    last_seen_at=as_utc(p.last_seen_at),
                )
                for p in found
            ]
        )
    )


def add_routes(api: Api) -> None:
    base = "/installations/{agreement}"
    api.member_route(
        "GET",
        f"{base}/policy",
        show_policy,
        role="guest",
        summary="The company's handover policy",
        response=shapes.PolicyView,
    )
    api.member_route(
        "PUT",
        f"{base}/policy",
        replace_policy,
        role="admin",
        summary="Replace the handover policy whole (fields left out take their defaults) and "
        "apply it to the claims at once",
        response=shapes.PolicyView,
        body=shapes.PolicyChange,
    )
    api.member_route(
        "GET",
        f"{base}/problems",
        list_problems,
        role="guest",
        summary="The company's open problems, most recently seen first",
        response=shapes.ProblemList,
    )
