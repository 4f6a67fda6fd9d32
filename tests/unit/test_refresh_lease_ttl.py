"""The token-refresh lease outlives the token request by construction: its length is derived
from the request's timeout, and a configured length that could end first is refused."""

from __future__ import annotations

import datetime as dt

import aiohttp
import pytest

from sync.clients.collection_auth import TokenKeeper
from sync.errors import ConfigurationError


async def keeper(request: aiohttp.ClientTimeout, **options: float) -> TokenKeeper:
    async with aiohttp.ClientSession() as session:
        return TokenKeeper(
            session,
            token_url="http://127.0.0.1:9/oauth/token",
            client_id="c",
            client_secret="s",
            installation_id=1,
            store=None,  # type: ignore[arg-type]  # never reached: construction only
            holder="h",
            now=lambda: dt.datetime.now(dt.UTC),
            timeout=request,
            **options,  # type: ignore[arg-type]
        )


@pytest.mark.parametrize("total", [1.5, 5, 15])
async def test_the_lease_is_derived_from_the_token_request_timeout(total: float) -> None:
    made = await keeper(aiohttp.ClientTimeout(total=total))
    # the request, then the retried store of its answer (0.25 + 0.5 + 1 s), still inside
    assert made.lock_ttl > total + 1.75


async def test_a_configured_lease_that_could_end_before_the_request_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="lease"):
        await keeper(aiohttp.ClientTimeout(total=15), lock_ttl=10)
    with pytest.raises(ConfigurationError, match="lease"):
        await keeper(aiohttp.ClientTimeout(total=5), lock_ttl=5)
    assert (await keeper(aiohttp.ClientTimeout(total=5), lock_ttl=12)).lock_ttl == 12


async def test_a_token_request_without_a_total_timeout_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="total"):
        await keeper(aiohttp.ClientTimeout(total=None, sock_read=5))


async def test_a_lease_too_long_for_the_reuse_interval_is_refused() -> None:
    # A successor recovers a crashed holder's pair only inside the platform's 30 s reuse
    # interval, so the lease must end well before it.
    with pytest.raises(ConfigurationError, match="reuse interval"):
        await keeper(aiohttp.ClientTimeout(total=25))
    with pytest.raises(ConfigurationError, match="reuse interval"):
        await keeper(aiohttp.ClientTimeout(total=5), lock_ttl=29)
