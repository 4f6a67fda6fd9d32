"""`EconomicClient`'s in-process retries against the simulator (see `sync.clients.retrying`)."""

from __future__ import annotations

import aiohttp
import pytest

from sync.errors import RateLimitedError, TransientError
from tests.fixtures.economic import EconomicSandbox
from tests.integration.economic.conftest import ClientFactory
from tests.integration.economic.test_client import control


async def test_long_retry_after_on_a_503_is_raised_not_waited(
    economic_sandbox: EconomicSandbox, make_client: ClientFactory, http: aiohttp.ClientSession
) -> None:
    sb = economic_sandbox
    await control(
        http, f"{sb.url}/_sandbox/faults", {"status": 503, "rate": 1.0, "retry_after": 120}
    )
    with pytest.raises(TransientError) as caught:
        await make_client().self_info()
    assert not isinstance(caught.value, RateLimitedError)
    assert caught.value.retry_after == 120
    assert [c.status for c in sb.state.calls] == [503]


@pytest.mark.parametrize("status", [501, 505])
async def test_other_5xx_are_unavailable_without_in_process_retries(
    economic_sandbox: EconomicSandbox,
    make_client: ClientFactory,
    http: aiohttp.ClientSession,
    status: int,
) -> None:
    sb = economic_sandbox
    await control(http, f"{sb.url}/_sandbox/faults", {"status": status, "rate": 1.0})
    with pytest.raises(TransientError) as caught:
        await make_client().self_info()
    assert caught.value.code == "unavailable"
    assert [c.status for c in sb.state.calls] == [status]
