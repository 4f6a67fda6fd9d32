"""Every URL in ``manifest.json`` is one the app serves, or is listed here as planned.

The app's URLs are resolved against the router of the app `create_app` builds (placeholders
filled with sample values), for each method the listing names. The e-conomic endpoints the
listing claims to use are resolved against the e-conomic simulator (faithful to the contract),
and the simulator's ``/self`` names the role the listing asks for.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from yarl import URL

from plugin.app import create_app
from plugin.settings import Settings
from tests.fixtures.economic import EconomicSandbox

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = json.loads((ROOT / "manifest.json").read_text())
PUBLIC = "https://bridge.example"

# URLs of the listing that no route serves yet, each with the issue that brings it. The test
# fails when a URL here becomes served (take it off) and when the listing gains a URL that is
# neither served nor here.
PLANNED: dict[str, str] = {}  # URL → the issue that serves it (none left: every URL is served)

# Sample values shaped like the real ones: keys and secrets are `secrets.token_urlsafe(16)`.
SAMPLES = {
    "{public}": PUBLIC,
    "{installation_key}": "Xq3vT8pL0aZ-k_2mNc7RbA",
    "{url_secret}": "u9Wd4Hs_Qe1Lr-6YtPz0gK",
    "[INVOICENO]": "10001",
    "[NEWNUMBER]": "42",
    "[OLDNUMBER]": "41",
    "[DAYBOOKNO]": "3",
    "[FROMSERIALNO]": "120",
    "[TOSERIALNO]": "131",
}
ECONOMIC_SAMPLES = {
    "{customerNumber}": "1",
    "{bookedInvoiceNumber}": "1",
    "{journalNumber}": "1",
    "{id}": "00000000-0000-0000-0000-000000000000",
}


def app_urls(node: Any, methods: tuple[str, ...] = ("GET",)) -> Iterator[tuple[str, str]]:
    """(template, method) for every app URL in the listing: an object with ``methods`` gives
    them to every URL inside it (the webhook receivers); any other URL is a page (GET)."""
    if isinstance(node, dict):
        inner = tuple(node.get("methods", methods))
        for value in node.values():
            yield from app_urls(value, inner)
    elif isinstance(node, list):
        for value in node:
            yield from app_urls(value, methods)
    elif isinstance(node, str) and node.startswith("{public}"):
        for method in methods:
            yield node, method


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        node = list(node.values())
    if isinstance(node, list):
        for value in node:
            yield from strings(value)
    elif isinstance(node, str):
        yield node


def filled(template: str, samples: dict[str, str]) -> str:
    for placeholder, value in samples.items():
        template = template.replace(placeholder, value)
    assert not re.search(r"[{}\[\]]", template), f"unfilled placeholder in {template}"
    return template


async def resolves(app: web.Application, method: str, url: str) -> str:
    """``"ok"``, or the status the router would answer (404, 405)."""
    request = make_mocked_request(method, URL(url).raw_path_qs, app=app)
    match = await app.router.resolve(request)
    error = match.http_exception
    return "ok" if error is None else str(error.status)


def test_the_listing_names_app_urls() -> None:
    found = {template for template, _ in app_urls(MANIFEST)}
    assert "{public}/install/economic" in found and set(PLANNED) <= found
    assert not [s for s in strings(MANIFEST) if s.startswith("/")], "paths must start {public}"


async def test_every_url_is_served_or_planned() -> None:
    app = create_app(Settings(public_url=PUBLIC), run_worker=False)
    answers = {
        (template, method): await resolves(app, method, filled(template, SAMPLES))
        for template, method in app_urls(MANIFEST)
    }
    wrong_method = {key: status for key, status in answers.items() if status == "405"}
    assert wrong_method == {}, "served, but not for the method the listing names"
    unresolved = {template for (template, _), status in answers.items() if status != "ok"}
    assert unresolved == set(PLANNED), {
        "neither served nor planned": sorted(unresolved - set(PLANNED)),
        "served now, take off PLANNED": sorted(set(PLANNED) - unresolved),
    }
    # A planned URL is planned for every method it names: half a receiver is not a receiver.
    partly = {t for (t, _), s in answers.items() if t in PLANNED and s == "ok"}
    assert partly == set()


async def test_economic_endpoints_exist_and_the_role_is_the_registered_one(
    economic_sandbox: EconomicSandbox,
) -> None:
    sandbox = economic_sandbox
    economic = MANIFEST["economic"]
    for module in economic["modules"]:
        for endpoint in module["endpoints"]:
            method, path = endpoint.split(" ", 1)
            answer = await resolves(sandbox.app, method, filled(path, ECONOMIC_SAMPLES))
            assert answer == "ok", f"{module['id']}: {endpoint} is no e-conomic endpoint"

    async with sandbox.session(sandbox.grant()) as http:
        async with http.get("/self") as r:
            assert r.status == 200
            roles = [role["name"] for role in (await r.json())["application"]["requiredRoles"]]
    assert roles == [economic["role"]["name"]]
