"""The pages' tests' company: the app against both simulators with one company installed by
its admin (`run_bridge`), whose signed-in browser is ``bridge.browser``. A module that needs
the company onboarded and bootstrapped defines its own ``bridge`` (`company_support`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fixtures.collection import CollectionSandbox
from tests.fixtures.economic import EconomicSandbox
from tests.integration.test_onboarding import Bridge, run_bridge


@pytest.fixture
async def bridge(
    database_url: str, economic_sandbox: EconomicSandbox, collection_sandbox: CollectionSandbox
) -> AsyncIterator[Bridge]:
    async with run_bridge(database_url, economic_sandbox, collection_sandbox) as running:
        yield running
