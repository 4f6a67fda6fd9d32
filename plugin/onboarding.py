"""Onboarding, ``GET /onboarding/{agreement}``, where an install lands.

For now it only confirms the install to a signed-in member of the company; the onboarding
itself (collection account, journal, accounts, policy, webhooks) comes next. No session → the
start page; a company the person is no member of, or that does not exist → 404, the same answer
for both, so agreement numbers cannot be probed.
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from plugin.keys import DATABASE
from plugin.sessions import signed_in
from sync.store.installations import Installations
from sync.store.users import Users


async def onboarding(request: web.Request) -> web.Response:
    me = await signed_in(request)
    if me is None:
        return web.Response(status=302, headers={"Location": "/"})
    db = request.app[DATABASE]
    installation = await Installations(db).get_by_agreement(int(request.match_info["agreement"]))
    role = await Users(db).role_in(me.user.id, installation.id) if installation else None
    if installation is None or role is None:
        response = aiohttp_jinja2.render_template("not_found.html", request, {})
        response.set_status(404)
        return response
    return aiohttp_jinja2.render_template(
        "onboarding.html", request, {"installation": installation, "user": me.user, "role": role}
    )


def setup_routes(app: web.Application) -> None:
    app.router.add_get(r"/onboarding/{agreement:\d{1,18}}", onboarding)
