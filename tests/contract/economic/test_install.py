"""The "Add app" page: a form a person clicks, auto-approve for tests, and its errors."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import aiohttp

from tests.fixtures.economic import EconomicSandbox

PAGE = "/secure/api1/requestaccess.aspx"


async def test_click_add_app(economic_sandbox: EconomicSandbox) -> None:
    sb = economic_sandbox
    redirect = "https://app.example/install/economic/callback?x=1"
    params = {"appPublicToken": sb.app_public_token, "redirectUrl": redirect, "locale": "en-US"}
    async with aiohttp.ClientSession(base_url=sb.url) as http:
        async with http.get(PAGE, params=params) as r:
            assert r.status == 200 and r.content_type == "text/html"
            html = await r.text()
        assert "<form" in html and "Add app" in html
        assert f'value="{sb.agreement(0)}" checked' in html
        form = dict(re.findall(r'name="(\w+)" value="([^"]*)"', html))
        form["agreement"] = str(sb.agreement(1))  # pick the second company on the page
        async with http.post(PAGE, data=form, allow_redirects=False) as r:
            assert r.status == 302
            location = r.headers["Location"]
    query = parse_qs(urlsplit(location).query)
    assert location.startswith("https://app.example/install/economic/callback?")
    assert query["x"] == ["1"]
    token = query["token"][0]
    async with sb.session(token) as http, http.get("/self") as r:
        assert (await r.json())["agreementNumber"] == sb.agreement(1)


async def test_auto_approve_redirects_at_once(economic_sandbox: EconomicSandbox) -> None:
    sb = economic_sandbox
    params = {
        "appPublicToken": sb.app_public_token,
        "redirectUrl": "http://127.0.0.1:9/cb",
        "locale": "da-DK",
    }
    async with aiohttp.ClientSession(base_url=sb.url) as http:
        async with http.put("/_sandbox/install", json={"auto_approve": True}) as r:
            assert r.status == 200
        agreements = []
        for _ in range(3):
            async with http.get(PAGE, params=params, allow_redirects=False) as r:
                assert r.status == 302
                token = parse_qs(urlsplit(r.headers["Location"]).query)["token"][0]
            agreements.append(sb.state.grants[token].agreement)
    # first company not yet granted, then the next, then (all granted) the first again
    assert agreements == [sb.agreement(0), sb.agreement(1), sb.agreement(0)]


async def test_without_redirect_the_token_is_shown(economic_sandbox: EconomicSandbox) -> None:
    sb = economic_sandbox
    async with aiohttp.ClientSession(base_url=sb.url) as http:
        async with http.post(PAGE, data={"appPublicToken": sb.app_public_token}) as r:
            html = await r.text()
    token = re.search(r'<code id="token">([^<]+)</code>', html)
    assert token and sb.state.grants[token.group(1)].agreement == sb.agreement(0)


async def test_wrong_public_token_is_an_error_page(economic_sandbox: EconomicSandbox) -> None:
    sb = economic_sandbox
    async with aiohttp.ClientSession(base_url=sb.url) as http:
        async with http.get(
            PAGE, params={"appPublicToken": "nope", "redirectUrl": "http://x/cb"}
        ) as r:
            assert r.status == 400 and r.content_type == "text/html"
        async with http.post(PAGE, data={"appPublicToken": "nope"}, allow_redirects=False) as r:
            assert r.status == 400
    assert sb.state.grants == {}
