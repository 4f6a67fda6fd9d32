"""``PUT /api/v1/installations/{agreement}/onboarding`` (admin): the onboarding page's choices
as JSON, for scripts (`plugin.onboarding.flow.onboard` does the work).

    body   {collection: {mode: create|link}, journal_number: int|null, accounts?,
            business_customer_groups?, policy?, channels?}   (all optional; defaults)
    200    the installation (as ``GET …/{agreement}``) with ``bootstrap_job_id`` and ``notes``
    200    {authorize_url} for ``link``: send the person there; the platform comes back to
           /install/collection/callback, which finishes onboarding
    409    ``account_exists`` with ``authorize_url`` (``create`` when the company already has a
           collection account), ``onboarding_running``, ``invalid_state`` (revoked),
           ``economic_access_lost``
    422    a body that is not the documented JSON, or a choice the company's ledger refutes
           (``invalid_body``; ``invalid_choice`` naming the field)
    502    a platform refused or garbled an answer; 503 one could not be reached, or the
           server is not configured for it
"""

from __future__ import annotations

import msgspec
from aiohttp import web

from plugin.api import shapes
from plugin.api.auth import Member
from plugin.api.errors import PROBLEM_TYPE, ApiError, Invalid
from plugin.api.installations import view_for
from plugin.api.registry import Api, reply
from plugin.keys import SERVICES
from plugin.onboarding.choices import OnboardingChoices, OnboardingError, OnboardingInvalid
from plugin.onboarding.collection import Linking
from plugin.onboarding.flow import onboard

_decoder = msgspec.json.Decoder(OnboardingChoices)


class _Refused(ApiError):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(code, detail)
        self.status = status


def choices_of(body: bytes) -> OnboardingChoices:
    try:
        return _decoder.decode(body or b"{}")
    except msgspec.ValidationError as exc:
        raise Invalid("invalid_body", str(exc)) from exc
    except msgspec.DecodeError as exc:
        raise Invalid("invalid_body", "the body is not JSON") from exc


async def put_onboarding(request: web.Request, member: Member) -> web.Response:
    choices = choices_of(await request.read())
    try:
        outcome = await onboard(
            request.app[SERVICES], member.installation, choices, actor=member.caller.user.email
        )
    except OnboardingInvalid as exc:
        raise Invalid(exc.code, exc.message) from exc
    except OnboardingError as exc:
        raise _Refused(exc.status, exc.code, exc.message) from exc
    if isinstance(outcome, Linking):
        if outcome.code == "link":
            return reply(shapes.AuthorizeRedirect(authorize_url=outcome.authorize_url))
        return _account_exists(outcome.authorize_url)
    view = await view_for(request, member.caller.user.id, outcome.installation, member.role)
    return reply(
        shapes.OnboardedInstallation(
            **msgspec.structs.asdict(view),
            bootstrap_job_id=outcome.bootstrap_job_id,
            notes=[shapes.OnboardingNote(code=n.code, message=n.message) for n in outcome.notes],
        )
    )


def _account_exists(authorize_url: str) -> web.Response:
    problem = shapes.AccountExistsProblem(
        status=409,
        code="account_exists",
        detail="the company already has a collection account: link it at authorize_url",
        authorize_url=authorize_url,
    )
    return web.Response(status=409, body=msgspec.json.encode(problem), content_type=PROBLEM_TYPE)


def add_routes(api: Api) -> None:
    api.member_route(
        "PUT",
        "/installations/{agreement}/onboarding",
        put_onboarding,
        role="admin",
        summary="Onboard the company (the onboarding page's choices); starts the bootstrap",
        response=shapes.OnboardedInstallation,
        alternatives=(shapes.AuthorizeRedirect,),
        body=OnboardingChoices,
        body_required=False,
        conflict=shapes.AccountExistsProblem,
    )
