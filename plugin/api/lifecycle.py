"""``POST /api/v1/installations/{agreement}/pause``, ``…/resume`` and ``…/disconnect`` (admin).

Each answers the installation as it is afterwards (the shape of ``GET …/{agreement}``); asking
for the status it already has is a 200 that changes nothing; a move its status forbids (pausing
a revoked installation, say) is 409 ``invalid_state``. What each does to the jobs and the
collection grant is `plugin.lifecycle`'s; the audit log names the caller by e-mail.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from plugin.api import shapes
from plugin.api.auth import Member
from plugin.api.errors import Conflict
from plugin.api.installations import view_for
from plugin.api.registry import Api, reply
from plugin.keys import SERVICES
from plugin.lifecycle import InvalidState, Lifecycle
from sync.store.installations import Installation

Act = Callable[[Lifecycle, Installation, str], Awaitable[Installation]]


async def _acting(request: web.Request, member: Member, act: Act) -> web.Response:
    try:
        after = await act(
            Lifecycle(request.app[SERVICES]), member.installation, member.caller.user.email
        )
    except InvalidState as exc:
        raise Conflict(exc.code, exc.message) from exc
    return reply(await view_for(request, member.caller.user.id, after, member.role))


async def pause_installation(request: web.Request, member: Member) -> web.Response:
    return await _acting(request, member, lambda life, i, actor: life.pause(i, actor=actor))


async def resume_installation(request: web.Request, member: Member) -> web.Response:
    return await _acting(request, member, lambda life, i, actor: life.resume(i, actor=actor))


async def disconnect_installation(request: web.Request, member: Member) -> web.Response:
    return await _acting(request, member, lambda life, i, actor: life.disconnect(i, actor=actor))


def add_routes(api: Api) -> None:
    for path, handler, summary in (
        ("pause", pause_installation, "Pause syncing: jobs wait (new ones too), webhooks are kept"),
        ("resume", resume_installation, "Resume a paused installation: its waiting jobs run now"),
        (
            "disconnect",
            disconnect_installation,
            "Disconnect: revoked, jobs parked, the collection grant revoked",
        ),
    ):
        api.member_route(
            "POST",
            f"/installations/{{agreement}}/{path}",
            handler,
            role="admin",
            summary=summary,
            response=shapes.Installation,
            conflicts=True,
        )
