"""Named queries: parsing, placeholders per engine, comments never taken for parameters."""

from __future__ import annotations

import pytest

from sync.store.queries import load, parse

TEXT = """
-- name: pick
-- Pick things for :who.
-- (a second comment line that mentions :ghost)
SELECT * FROM t WHERE a = :a AND b = :b AND c = :a::text

-- name: other
-- Another.
DELETE FROM t
"""


def test_placeholders_per_engine() -> None:
    lite, pg = parse(TEXT, "sqlite")["pick"], parse(TEXT, "postgresql")["pick"]
    assert lite.sql.endswith("a = ? AND b = ? AND c = ?::text")
    assert lite.params == ("a", "b", "a")
    assert pg.sql.endswith("a = $1 AND b = $2 AND c = $1::text")
    assert pg.params == ("a", "b")
    assert lite.description == "Pick things for :who."
    assert "ghost" not in lite.sql
    assert pg.bind({"a": 1, "b": 2}) == [1, 2]
    with pytest.raises(KeyError, match="needs parameters"):
        pg.bind({"a": 1})


def test_a_query_without_description_is_refused() -> None:
    with pytest.raises(ValueError, match="description"):
        parse("-- name: bare\nSELECT 1\n", "sqlite")


def test_engine_files_replace_common_ones() -> None:
    lite, pg = load("sqlite"), load("postgresql")
    assert "FOR UPDATE SKIP LOCKED" in pg["claim_jobs"].sql
    assert "FOR UPDATE" not in lite["claim_jobs"].sql
    assert "pg_try_advisory_xact_lock" in pg["claim_installations"].sql
    assert "clock_timestamp()" in pg["sweep_expired_leases"].sql
    assert "clock_timestamp" not in lite["sweep_expired_leases"].sql
    assert set(lite) == set(pg)  # every query exists for both engines
    assert lite["get_job"].sql == "SELECT * FROM jobs WHERE id = ?"
