"""Named SQL queries loaded from ``.sql`` files.

A file holds one or more queries, each introduced by a header and a one-line description:

    -- name: claim_jobs
    -- Claim up to :limit runnable jobs for one worker.
    UPDATE jobs SET ...

Parameters are written ``:name`` (``::`` stays a PostgreSQL cast). Queries under ``sql/common``
serve both engines; a query of the same name under ``sql/sqlite`` or ``sql/postgresql`` replaces
it for that engine, which is where the few engine differences live.

Where a shared query differs between the engines in a phrase only (which clock judges a lease, how
a list parameter is read, taking a lock), it names the phrase ``{{fragment}}`` and each engine's
``fragments.sql`` spells it out, under a ``-- fragment: name`` header and a one-line description:

    -- fragment: lease_now
    -- The clock that judges leases: the database server's, shared by every machine.
    clock_timestamp()
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
_FRAGMENT_HEADER = re.compile(r"^--\s*fragment:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)
_FRAGMENT = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
FRAGMENTS_FILE = "fragments.sql"


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


def _sections(text: str, header: re.Pattern[str], what: str) -> dict[str, tuple[str, str]]:
    """Name → (description, body without comment lines) for each section under ``header``."""
    sections: dict[str, tuple[str, str]] = {}
    parts = header.split(text)
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        lines = body.strip().splitlines()
        if not lines or not lines[0].startswith("--"):
            raise ValueError(f"{what} {name} has no one-line description")
        description = lines[0].lstrip("-").strip()
        # Comment lines are dropped, so that a ":name" in prose is never taken for a parameter.
        body_lines = [line for line in lines[1:] if not line.lstrip().startswith("--")]
        sections[name] = (description, "\n".join(body_lines).strip().rstrip(";"))
    return sections


def parse_fragments(text: str) -> dict[str, str]:
    return {name: body for name, (_, body) in _sections(text, _FRAGMENT_HEADER, "fragment").items()}


def parse(
    text: str, dialect: Dialect, fragments: Mapping[str, str] | None = None
) -> dict[str, Query]:
    """Split a file into queries, put in the engine's fragments and rewrite ``:name`` into the
    engine's placeholders."""
    queries: dict[str, Query] = {}
    for name, (description, sql) in _sections(text, _HEADER, "query").items():
        sql = _expand(name, sql, fragments or {})
        queries[name] = _compile(name, description, sql, dialect)
    return queries


def _expand(name: str, sql: str, fragments: Mapping[str, str]) -> str:
    def fragment(match: re.Match[str]) -> str:
        if match.group(1) not in fragments:
            raise KeyError(f"query {name} uses the fragment {match.group(1)!r}, not defined")
        return fragments[match.group(1)]

    return _FRAGMENT.sub(fragment, sql)


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
    fragments_path = root / dialect / FRAGMENTS_FILE
    fragments = (
        parse_fragments(fragments_path.read_text(encoding="utf-8"))
        if fragments_path.exists()
        else {}
    )
    queries: dict[str, Query] = {}
    for folder in ("common", dialect):
        for path in sorted((root / folder).glob("*.sql")):
            if path.name != FRAGMENTS_FILE:
                queries.update(parse(path.read_text(encoding="utf-8"), dialect, fragments))
    return queries
