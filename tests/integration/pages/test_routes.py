"""Every ``/settings`` page and every ``/api/v1`` route, walked from the router itself, needs
a signed-in person (or a token) and, for a company's page, membership of that company and a
role: so a route added tomorrow cannot slip through unguarded. Requests go over real HTTP."""

from __future__ import annotations

import re

import aiohttp
from aiohttp import web

from plugin.api.errors import API_PREFIX
from plugin.pages import PAGES
from sync.store.installations import Installations
from tests.integration.pages.company_support import person
from tests.integration.test_onboarding import Bridge

# The pages anyone may open: signing in, its second step, password reset, invitations, language.
PUBLIC_PAGES = {
    ("GET", "/settings/login"),
    ("POST", "/settings/login"),
    ("GET", "/settings/login/code"),
    ("POST", "/settings/login/code"),
    ("GET", "/settings/password/forgot"),
    ("POST", "/settings/password/forgot"),
    ("GET", "/settings/password/reset/{token}"),
    ("POST", "/settings/password/reset/{token}"),
    ("GET", "/settings/invite/{token}"),
    ("POST", "/settings/invite/{token}"),
    ("GET", "/settings/language/{language}"),
}
PUBLIC_API = {("GET", f"{API_PREFIX}/openapi.json")}


def routes(app: web.Application, prefix: str) -> list[tuple[str, str]]:
    found = set()
    for resource in app.router.resources():
        path = resource.canonical
        if path == prefix or path.startswith(prefix + "/"):
            found |= {(route.method, path) for route in resource if route.method != "HEAD"}
    return sorted(found)


def concrete(path: str, agreement: int) -> str:
    """The path with its parameters filled: the company's agreement, 1 for any other."""
    return re.sub(r"\{[a-z_]+\}", "1", path.replace("{agreement}", str(agreement)))


async def status(browser: aiohttp.ClientSession, method: str, url: str) -> int:
    async with browser.request(method, url, allow_redirects=False, data={}) as r:
        return r.status


async def test_every_page_is_in_the_guarded_table_with_a_guard(bridge: Bridge) -> None:
    table = {(r.method, r.path): r.guard for r in bridge.app[PAGES].routes}
    served = routes(bridge.app, "/settings")
    assert served and set(served) == set(table), "every /settings route came through Pages"
    assert {k for k, guard in table.items() if guard == "public"} == PUBLIC_PAGES
    for resource in bridge.app.router.resources():
        for route in resource:
            if resource.canonical.startswith("/settings") and route.method != "HEAD":
                assert (
                    route.handler.__dict__.get("page_guard")
                    == table[(route.method, resource.canonical)]
                )


async def test_without_a_session_no_page_and_no_api_route_opens(bridge: Bridge) -> None:
    async with aiohttp.ClientSession() as stranger:
        for method, path in routes(bridge.app, "/settings"):
            if (method, path) in PUBLIC_PAGES:
                continue
            got = await status(stranger, method, bridge.url + concrete(path, bridge.agreement))
            assert got == (303 if method == "GET" else 403), (method, path, got)
        for method, path in routes(bridge.app, API_PREFIX):
            if (method, path) in PUBLIC_API:
                continue
            got = await status(stranger, method, bridge.url + concrete(path, bridge.agreement))
            assert got == 401, (method, path, got)


async def test_another_companys_routes_are_404_and_a_guest_is_held_to_reading(
    bridge: Bridge,
) -> None:
    other = await Installations(bridge.db).activate(
        agreement_number=990_077, company_name="Someone Else A/S", now=bridge.clock()
    )
    table = {(r.method, r.path): r.guard for r in bridge.app[PAGES].routes}
    async with person(bridge, "guest") as guest:
        token = _csrf(await (await guest.get(f"{bridge.url}/settings")).text())
        for (method, path), guard in sorted(table.items()):
            if "{agreement}" not in path:
                continue
            data = {"csrf_token": token}
            async with guest.request(method, bridge.url + concrete(path, other.agreement_number),
                                     data=data, allow_redirects=False) as r:  # fmt: skip
                assert r.status == 404, (method, path, r.status)
            if guard != "guest":
                async with guest.request(method, bridge.url + concrete(path, bridge.agreement),
                                         data=data, allow_redirects=False) as r:  # fmt: skip
                    assert r.status == 403, (method, path, r.status)


def _csrf(text: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert found
    return found.group(1)
