"""Shared fixtures: PostgreSQL discovery (required in CI) and the simulator fixtures."""

from __future__ import annotations

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.proxy",
    "tests.fixtures.collection",
    "tests.fixtures.economic",
]
