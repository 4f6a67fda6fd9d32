"""Server-rendered pages: the template environment (Jinja2, autoescaped), the start page ``/``
and, until the settings pages bring the real one, a sign-in placeholder at ``/settings/login``."""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

TEMPLATES = Path(__file__).with_name("templates")


def setup_templates(app: web.Application) -> None:
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


@aiohttp_jinja2.template("start.html")
async def start(request: web.Request) -> dict[str, object]:
    return {}


@aiohttp_jinja2.template("login.html")
async def login(request: web.Request) -> dict[str, object]:
    return {}


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/", start)
    app.router.add_get("/settings/login", login)
