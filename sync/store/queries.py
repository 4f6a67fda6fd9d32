"""Named SQL queries loaded from ``.sql`` files.

A file holds one or more queries, each introduced by a header and a one-line description:

    -- name: claim_jobs
    -- Claim up to :limit runnable jobs for one worker.
    UPDATE jobs SET ...

Parameters are written ``:name`` (``::`` stays a PostgreSQL cast). Queries under ``sql/common``
serve both engines; a query of the same name under ``sql/sqlite`` or ``sql/postgresql`` replaces
it for that engine, which is where the few engine differences live.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec

Dialect = Literal["sqlite", "postgresql"]
SQL_DIR = Path(__file__).with_name("sql")
_HEADER = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)
_PARAM = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


class Query(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    description: str
    sql: str
    params: tuple[str, ...]

    def bind(self, values: Mapping[str, Any]) -> list[Any]:
        missing = [p for p in self.params if p not in values]
        if missing:
            raise KeyError(f"query {self.name} needs parameters {missing}")
        return [values[p] for p in self.params]


def parse(text: str, dialect: Dialect) -> dict[str, Query]:
    """Split a file into queries and rewrite ``:name`` into the engine's placeholders."""
    queries: dict[str, Query] = {}
    parts = _HEADER.split(text)
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        lines = body.strip().splitlines()
        if not lines or not lines[0].startswith("--"):
            raise ValueError(f"query {name} has no one-line description")
        description = lines[0].lstrip("-").strip()
        # Comment lines are dropped, so that a ":name" in prose is never taken for a parameter.
        body_lines = [line for line in lines[1:] if not line.lstrip().startswith("--")]
        sql = "\n".join(body_lines).strip().rstrip(";")
        queries[name] = _compile(name, description, sql, dialect)
    return queries


def _compile(name: str, description: str, sql: str, dialect: Dialect) -> Query:
    order: list[str] = []

    def placeholder(match: re.Match[str]) -> str:
        param = match.group(1)
        if dialect == "sqlite":
            order.append(param)
            return "?"
        if param not in order:
            order.append(param)
        return f"${order.index(param) + 1}"

    compiled = _PARAM.sub(placeholder, sql)
    return Query(name=name, description=description, sql=compiled, params=tuple(order))


def load(dialect: Dialect, root: Path = SQL_DIR) -> dict[str, Query]:
    queries: dict[str, Query] = {}
    for folder in ("common", dialect):
        for path in sorted((root / folder).glob("*.sql")):
            queries.update(parse(path.read_text(encoding="utf-8"), dialect))
    return queries
