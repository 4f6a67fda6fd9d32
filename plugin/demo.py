"""``collectbridge demo``: both simulators, the app on SQLite, ready to try in a browser.

Demo secrets (the encryption key and the sandbox credentials) are generated once and kept in
``var/demo.env``, so the demo database stays readable across runs. The file is created with mode
0600 from its first byte (never readable by others, not even between a write and a chmod) and
appears whole or not at all.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from aiohttp import web

from plugin import logs
from plugin.app import create_app
from plugin.sandbox_cli import credentials_from, running_sandboxes, stop_requested
from plugin.settings import load_settings
from sync.redaction import masked_url

DEMO_DIR = Path("var")


def demo_environment(environ: Mapping[str, str], directory: Path = DEMO_DIR) -> dict[str, str]:
    """The demo's settings: kept secrets from ``var/demo.env``, generated on the first run."""
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


async def run_demo(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    env = demo_environment(environ)
    public_url = f"http://127.0.0.1:{args.port}"
    async with running_sandboxes(
        credentials_from(env),
        host="127.0.0.1",
        economic_port=args.economic_port,
        collection_port=args.collection_port,
        seed=args.seed,
        companies=3,
        invoices=args.invoices,
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
        runner = web.AppRunner(create_app(settings), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", args.port).start()
            stop = stop_requested()  # before saying it is ready: an early Ctrl-C stops cleanly
            print(
                f"collectbridge:        {public_url}  (health: {public_url}/readyz, "
                f"metrics: {public_url}/metrics)"
            )
            print(f"e-conomic simulator:  {urls.economic}")
            print(f"collection simulator: {urls.collection}")
            print(f"database:             {masked_url(settings.database_url)}")
            print(f'install a company:    {public_url}/install/economic  (then "Add app")')
            print("Ctrl-C stops.", flush=True)
            await stop.wait()
        finally:
            await runner.cleanup()
    return 0
