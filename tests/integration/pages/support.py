"""A browser-like client of the settings pages: a cookie jar, forms read from the page and
posted back with their hidden fields (the CSRF token among them), as a person's browser does."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

HIDDEN = re.compile(r'<input type="hidden" name="([\w-]+)" value="([^"]*)"')


@dataclass
class Page:
    status: int
    url: URL
    text: str

    def hidden(self, nth: int = 0) -> dict[str, str]:
        """The hidden fields of the ``nth`` form on the page."""
        forms = re.findall(r"<form.*?</form>", self.text, flags=re.DOTALL)
        return {k: html.unescape(v) for k, v in HIDDEN.findall(forms[nth])}

    def form_with(self, **wanted: str) -> dict[str, str]:
        """The hidden fields of the first form whose hidden fields include ``wanted``."""
        for form in re.findall(r"<form.*?</form>", self.text, flags=re.DOTALL):
            fields = {k: html.unescape(v) for k, v in HIDDEN.findall(form)}
            if all(fields.get(k) == v for k, v in wanted.items()):
                return fields
        raise AssertionError(f"no form with {wanted} on {self.url}")


async def get(browser: aiohttp.ClientSession, url: str, **kw: Any) -> Page:
    async with browser.get(url, **kw) as r:
        return Page(r.status, r.url, await r.text())


async def post(browser: aiohttp.ClientSession, url: str, data: dict[str, str]) -> Page:
    async with browser.post(url, data=data) as r:
        return Page(r.status, r.url, await r.text())


async def sign_in(browser: aiohttp.ClientSession, url: str, email: str, password: str) -> Page:
    """The sign-in form filled in and posted, as a person would."""
    form = await get(browser, f"{url}/settings/login")
    return await post(
        browser, f"{url}/settings/login", {**form.hidden(), "email": email, "password": password}
    )
