"""``collectbridge demo``: both simulators, the app on SQLite, two companies syncing.

Three companies are seeded (20,000, 2,000 and 400 invoices; ``--invoices N`` shrinks them);
the app runs with its embedded worker on SQLite under ``var/demo``. Two companies are installed
through the real HTTP flow (our install link, the simulator's grant page auto-approved, our
callback) and onboarded with every default through ``PUT /api/v1/installations/{a}/onboarding``
as a demo bookkeeper, admin of every installed company, whose login for the settings pages (a
fresh password each run) and API token (with a ``curl`` line) are printed; their first sync
starts by itself and the collection simulator's counts are printed as they grow. The third
company is left for the person: signed in, "Add a client company" on the overview installs it
(its "Add app" needs a click) and links it to the bookkeeper. ``--reset``
starts from an empty ``var/demo``; otherwise a second run finds the companies installed.

Demo secrets (the encryption key and the sandbox credentials) are generated once and kept in
``var/demo/demo.env``, so the demo database stays readable across runs. The file is created
with mode 0600 from its first byte (never readable by others, not even between a write and a
chmod) and appears whole or not at all.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import secrets
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from plugin import logs
from plugin.app import create_app
from plugin.bootstrap import Services
from plugin.credentials import hash_password
from plugin.keys import SERVICES
from plugin.sandbox_cli import SandboxUrls, credentials_from, running_sandboxes, stop_requested
from plugin.settings import load_settings
from sandbox.collection.state import STATE as COLLECTION_STATE
from sync.company_settings import company_settings
from sync.redaction import masked_url
from sync.store.accounts import Accounts
from sync.store.api_tokens import ApiTokens, new_token
from sync.store.installations import Installations
from sync.store.users import Users

DEMO_DIR = Path("var/demo")


def demo_environment(environ: Mapping[str, str], directory: Path = DEMO_DIR) -> dict[str, str]:
    """The demo's settings: kept secrets from ``var/demo/demo.env``, generated on the first run."""
    directory.mkdir(parents=True, exist_ok=True)
    env_file = directory / "demo.env"
    if not env_file.exists():
        values = {
            "COLLECTBRIDGE_SECRET_KEY": secrets.token_urlsafe(32),
            "COLLECTBRIDGE_ECONOMIC_APP_SECRET_TOKEN": secrets.token_urlsafe(24),
            "COLLECTBRIDGE_ECONOMIC_APP_PUBLIC_TOKEN": secrets.token_urlsafe(12),
            "COLLECTBRIDGE_COLLECTION_CLIENT_ID": "collectbridge-demo",
            "COLLECTBRIDGE_COLLECTION_CLIENT_SECRET": secrets.token_urlsafe(24),
        }
        write_private(env_file, "".join(f"{k}={v}\n" for k, v in values.items()))
    kept = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    return {**kept, **{k: v for k, v in environ.items() if k.startswith("COLLECTBRIDGE_")}}


def _private(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_EXCL, 0o600)  # mode 0600 from the first byte


def write_private(path: Path, text: str) -> None:
    """Create ``path`` holding ``text``, mode 0600 from the start; an existing file is kept.

    The text goes to a private temporary file beside it, which is then linked into place: a
    crash leaves no half-written file, and a demo started at the same moment keeps its own.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        with open(temporary, "x", encoding="utf-8", opener=_private) as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


DEMO_USER = "bogholder@demo.collectbridge.example"
SIZES = (20_000, 2_000, 400)  # invoices of the three companies: one large, two ordinary


def demo_sizes(invoices: int | None) -> tuple[int, ...]:
    """The companies' sizes; ``--invoices N`` makes the largest N (the others no larger)."""
    if invoices is None:
        return SIZES
    return tuple(min(size, invoices) if i else invoices for i, size in enumerate(SIZES))


async def _control(http: aiohttp.ClientSession, method: str, url: str, body: Any) -> None:
    async with http.request(method, url, json=body) as resp:
        if resp.status >= 300:
            raise RuntimeError(f"simulator control {url} answered {resp.status}")


async def install_through_the_browser_flow(public_url: str) -> int:
    """One company installed as a person would: our install link, e-conomic's grant page
    (auto-approved), back to our callback. The agreement number installed."""
    jar = aiohttp.CookieJar(unsafe=True)  # 127.0.0.1 cookies
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        async with browser.get(f"{public_url}/install/economic") as resp:
            page, url = await resp.text(), resp.url
        # "Continue as …": the sign-in is confirmed on our page, as the person would.
        fields = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', page))
        async with browser.post(url.with_query(None), data=fields) as resp:
            if resp.status != 200 or "/onboarding/" not in str(resp.url):
                raise RuntimeError(f"install did not reach onboarding ({resp.status} {resp.url})")
            return int(str(resp.url).rstrip("/").rsplit("/", 1)[1])


async def bookkeeper_token(services: Services) -> tuple[str, str]:
    """The demo bookkeeper, admin of every installed company: a new API token and a new
    password to sign in to the settings pages with."""
    now = services.clock()
    users = Users(services.db)
    user_id = await users.find_or_create(email=DEMO_USER, name="Demo Bogholder", now=now)
    for installation in await Installations(services.db).list():
        await users.grant(user_id, installation.id, "admin", now=now)
    token = new_token()
    await ApiTokens(services.db).create(user_id=user_id, token=token, name="demo", now=now)
    password = secrets.token_urlsafe(12)
    await Accounts(services.db).set_password_hash(user_id, hash_password(password))
    return token, password


async def onboard_over_the_api(public_url: str, token: str, agreement: int) -> int:
    """Onboarding with every default through ``PUT …/onboarding``; the bootstrap job id."""
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        url = f"{public_url}/api/v1/installations/{agreement}/onboarding"
        async with http.put(url, json={"collection": {"mode": "create"}}) as resp:
            body = await resp.json(content_type=None)
            if resp.status != 200:
                raise RuntimeError(f"onboarding {agreement} answered {resp.status}: {body}")
            return int(body["bootstrap_job_id"])


def collection_counts(urls: SandboxUrls) -> dict[str, tuple[int, int]]:
    """Per collection account: (debtors, claims), read from the simulator itself."""
    state = urls.apps[1][COLLECTION_STATE]
    counts: dict[str, list[int]] = {a.external_ref or a.id: [0, 0] for a in state.accounts.values()}
    names = {a.id: a.external_ref or a.id for a in state.accounts.values()}
    for account, _ in state.debtors:
        counts[names[account]][0] += 1
    for account, _ in state.claims:
        counts[names[account]][1] += 1
    return {ref: (d, c) for ref, (d, c) in counts.items() if ref.startswith("economic:")}


async def show_progress(urls: SandboxUrls, stop: asyncio.Event) -> None:
    """Print the collection simulator's counts whenever they change, until ``stop``."""
    last: dict[str, tuple[int, int]] = {}
    while not stop.is_set():
        counts = collection_counts(urls)
        if counts != last:
            line = "  ".join(f"{ref}: {d} debtors, {c} claims" for ref, (d, c) in counts.items())
            print(f"collection account  {line}", flush=True)
            last = counts
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


async def run_demo(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    if args.reset:
        shutil.rmtree(DEMO_DIR, ignore_errors=True)
    env = demo_environment(environ)
    public_url = f"http://127.0.0.1:{args.port}"
    async with running_sandboxes(
        credentials_from(env),
        host="127.0.0.1",
        economic_port=args.economic_port,
        collection_port=args.collection_port,
        seed=args.seed,
        companies=len(SIZES),
        invoices=demo_sizes(args.invoices),
        public_url=public_url,
    ) as urls:
        env.setdefault("COLLECTBRIDGE_DATABASE_URL", f"sqlite:///{DEMO_DIR}/demo.db")
        env["COLLECTBRIDGE_PUBLIC_URL"] = public_url
        env["COLLECTBRIDGE_ECONOMIC_API_URL"] = urls.economic
        env["COLLECTBRIDGE_ECONOMIC_OPENAPI_URL"] = urls.economic
        env["COLLECTBRIDGE_ECONOMIC_INSTALL_URL"] = (
            f"{urls.economic}/secure/api1/requestaccess.aspx"
        )
        env["COLLECTBRIDGE_COLLECTION_API_URL"] = urls.collection
        settings = load_settings(env)
        logs.configure(settings.log_level, settings.log_format, settings.secret_values())
        app = create_app(settings)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", args.port).start()
            stop = stop_requested()  # before saying it is ready: an early Ctrl-C stops cleanly
            print(f"collectbridge:        {public_url}  (health: {public_url}/readyz)")
            print(f"e-conomic simulator:  {urls.economic}")
            print(f"collection simulator: {urls.collection}")
            print(f"database:             {masked_url(settings.database_url)}", flush=True)
            await set_up_companies(app[SERVICES], urls, public_url)
            progress = asyncio.create_task(show_progress(urls, stop))
            print("Ctrl-C stops.", flush=True)
            await stop.wait()
            await progress
        finally:
            await runner.cleanup()
    return 0


async def set_up_companies(services: Services, urls: SandboxUrls, public_url: str) -> None:
    """Two companies installed and onboarded over HTTP (a second run finds them installed);
    the third left for the person to install by clicking."""
    async with aiohttp.ClientSession() as http:
        await _control(http, "PUT", f"{urls.economic}/_sandbox/install", {"auto_approve": True})
        await _control(http, "PUT", f"{urls.collection}/_sandbox/oauth", {"auto_consent": True})
        installed = await Installations(services.db).list()
        for _ in range(max(0, 2 - len(installed))):
            agreement = await install_through_the_browser_flow(public_url)
            print(f"installed:            agreement {agreement}", flush=True)
        # The third company: "Add app" is for the person to click.
        await _control(http, "PUT", f"{urls.economic}/_sandbox/install", {"auto_approve": False})
    token, password = await bookkeeper_token(services)
    for installation in await Installations(services.db).list():
        if not company_settings(installation.settings).onboarded:
            job = await onboard_over_the_api(public_url, token, installation.agreement_number)
            print(
                f"onboarded:            agreement {installation.agreement_number}, "
                f"first sync: job {job}",
                flush=True,
            )
    print(f"settings pages:       {public_url}/settings/login")
    print(f"  sign in as          {DEMO_USER}")
    print(f"  with the password   {password}")
    print('install the third:    sign in, then "Add a client company" (and "Add app")')
    print(f"bookkeeper API token: {token}")
    print(
        f"  curl -H 'Authorization: Bearer {token}' {public_url}/api/v1/installations", flush=True
    )
