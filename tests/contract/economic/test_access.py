"""Tokens, revocation, the demo agreement, 415, the fair-use budget, faults and the call log."""

from __future__ import annotations

import datetime as dt

import aiohttp

from tests.fixtures.economic import EconomicSandbox

API_PATHS = (
    "/self",
    "/customers",
    "/customers/1",
    "/invoices/booked",
    "/invoices/overdue",
    "/journals",
    "/accounts",
    "/webhooksapi/v1.0.0/webhooks",
)


async def test_missing_or_wrong_tokens_are_401(economic_sandbox: EconomicSandbox) -> None:
    sb = economic_sandbox
    grant = sb.grant()
    cases = [
        {},
        {"X-AppSecretToken": sb.app_secret_token},
        {"X-AgreementGrantToken": grant},
        {"X-AppSecretToken": "wrong", "X-AgreementGrantToken": grant},
        {"X-AppSecretToken": sb.app_secret_token, "X-AgreementGrantToken": "wrong"},
    ]
    async with aiohttp.ClientSession(base_url=sb.url) as http:
        for headers in cases:
            async with http.get("/self", headers=headers) as response:
                body = await response.json()
                assert response.status == 401, headers
                assert body["httpStatusCode"] == 401 and body["logId"]


async def test_revoked_grant_is_401_everywhere(economic_sandbox: EconomicSandbox) -> None:
    sb = economic_sandbox
    grant, other = sb.grant(0), sb.grant(1)
    async with sb.session(grant) as http:
        async with http.get("/self") as response:
            assert response.status == 200
        async with http.post(f"/_sandbox/grants/{sb.agreement(0)}/revoke") as response:
            assert (await response.json())["revoked"] == 1
        for path in API_PATHS:
            async with http.get(path) as response:
                assert response.status == 401, path
        async with http.put("/customers/1", json={"name": "x"}) as response:
            assert response.status == 401
    async with sb.session(other) as http, http.get("/self") as response:
        assert response.status == 200
    async with sb.session(sb.grant(0)) as http, http.get("/self") as response:
        assert response.status == 200  # reinstalling gives a new, working grant


async def test_demo_tokens_are_read_only(economic_sandbox: EconomicSandbox) -> None:
    headers = {"X-AppSecretToken": "demo", "X-AgreementGrantToken": "demo"}
    async with aiohttp.ClientSession(base_url=economic_sandbox.url, headers=headers) as http:
        async with http.get("/self") as response:
            assert response.status == 200
            assert (await response.json())["agreementNumber"] == 686918
        async with http.get("/invoices/booked") as response:
            assert response.status == 200 and (await response.json())["collection"]
        async with http.put("/customers/1", json={"name": "x"}) as response:
            assert response.status == 403
        async with http.post("/journals/3/vouchers", json={}) as response:
            assert response.status == 403
        async with http.post("/journalsapi/v16.0.1/journals/3/book") as response:
            assert response.status == 403


async def test_body_without_json_content_type_is_415(economic_sandbox: EconomicSandbox) -> None:
    sb = economic_sandbox
    async with sb.session(sb.grant()) as http:
        async with http.put(
            "/customers/1",
            data=b"name=x",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ) as r:
            assert r.status == 415
            assert (await r.json())["httpStatusCode"] == 415
        async with http.post(
            "/journals/3/vouchers", data=b"{}", headers={"Content-Type": "text/plain"}
        ) as r:
            assert r.status == 415


async def test_budget_429_with_retry_after(economic_sandbox: EconomicSandbox) -> None:
    sb = economic_sandbox
    async with sb.session(sb.grant()) as http:
        async with http.post("/_sandbox/budget", json={"agreement": sb.agreement(), "limit": 3}):
            pass
        statuses = []
        for _ in range(4):
            async with http.get("/self") as response:
                statuses.append(response.status)
                retry_after = response.headers.get("Retry-After")
        assert statuses == [200, 200, 200, 429]
        assert retry_after is not None and 86_000 < int(retry_after) <= 86_400
        async with http.post(
            "/_sandbox/budget", json={"agreement": sb.agreement(), "limit": 50_000}
        ):
            pass
        async with http.get("/self") as response:
            assert response.status == 200
    async with sb.session(sb.grant(1)) as http, http.get("/self") as response:
        assert response.status == 200  # the budget is per agreement


async def test_budget_window_rolls(economic_sandbox: EconomicSandbox) -> None:
    sb = economic_sandbox
    async with sb.session(sb.grant()) as http:
        async with http.post(
            "/_sandbox/budget",
            json={"agreement": sb.agreement(), "limit": 1, "window_seconds": 0.3},
        ):
            pass
        async with http.get("/self") as response:
            assert response.status == 200
        async with http.get("/self") as response:
            assert response.status == 429 and response.headers["Retry-After"] == "1"
        budget = sb.state.budget(sb.agreement())
        budget.calls[0] -= 1.0  # age the counted call past the window instead of sleeping
        async with http.get("/self") as response:
            assert response.status == 200


async def test_fault_injection_and_call_log(economic_sandbox: EconomicSandbox) -> None:
    sb = economic_sandbox
    since = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
    async with sb.session(sb.grant()) as http:
        async with http.post(
            "/_sandbox/faults", json={"status": 503, "rate": 1.0, "retry_after": 2}
        ):
            pass
        async with http.get("/customers") as response:
            assert response.status == 503 and response.headers["Retry-After"] == "2"
            assert (await response.json())["httpStatusCode"] == 503
        async with http.post("/_sandbox/faults", json={"status": 500, "rate": 0.5}):
            pass
        statuses = []
        for _ in range(40):
            async with http.get("/self") as response:
                statuses.append(response.status)
        assert 5 < statuses.count(500) < 35 and statuses.count(200) + statuses.count(500) == 40
        async with http.post("/_sandbox/faults", json={}):
            pass
        async with http.get(
            f"/_sandbox/calls?agreement={sb.agreement()}&since={since}"
        ) as response:
            items = (await response.json())["items"]
    assert len(items) == 41
    assert items[0]["path"] == "/customers" and items[0]["status"] == 503
    assert set(items[0]) >= {"method", "path", "query", "status", "at"}
    assert dt.datetime.fromisoformat(items[0]["at"]) >= dt.datetime.fromisoformat(since)


async def test_latency_injection(economic_sandbox: EconomicSandbox) -> None:
    sb = economic_sandbox
    async with sb.session(sb.grant()) as http:
        async with http.post("/_sandbox/faults", json={"latency_ms": 300}):
            pass
        timeout = aiohttp.ClientTimeout(total=0.05)
        try:
            async with http.get("/self", timeout=timeout):
                raise AssertionError("expected a timeout")
        except TimeoutError:
            pass


async def test_same_faults_for_same_seed() -> None:
    from tests.fixtures.economic import start_economic_sandbox

    async def run() -> list[int]:
        async with start_economic_sandbox(seed=5) as sb, sb.session(sb.grant()) as http:
            async with http.post("/_sandbox/faults", json={"status": 502, "rate": 0.3}):
                pass
            out = []
            for _ in range(15):
                async with http.get("/self") as response:
                    out.append(response.status)
            return out

    assert await run() == await run()
