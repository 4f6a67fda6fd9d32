"""Saving benchmark results: ``bench/results/<name>.json`` and a section of ``bench/RESULTS.md``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")

BENCH_DIR = Path(__file__).parent
RESULTS_MD = BENCH_DIR / "RESULTS.md"


class Goal(msgspec.Struct, frozen=True, kw_only=True):
    """One goal of a benchmark, as measured in its run."""

    name: str
    measured: float
    limit: float
    met: bool


def write_results(name: str, data: dict[str, Any], markdown: str) -> None:
    results = BENCH_DIR / "results"
    results.mkdir(exist_ok=True)
    (results / f"{name}.json").write_bytes(msgspec.json.format(msgspec.json.encode(data)) + b"\n")
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    section = f"{begin}\n## {name}\n\n{markdown}\n{end}"
    text = RESULTS_MD.read_text() if RESULTS_MD.exists() else "# Benchmark results\n"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(section, text) if pattern.search(text) else f"{text.rstrip()}\n\n{section}\n"
    RESULTS_MD.write_text(text)


def stored_results(name: str, kind: type[T]) -> dict[str, T]:
    """The last saved results of ``name`` per database engine (``results`` in its JSON), so a
    run of one engine keeps the other's rows; nothing when absent or unreadable."""
    path = BENCH_DIR / "results" / f"{name}.json"
    if not path.exists():
        return {}
    try:
        data = msgspec.json.decode(path.read_bytes())
        return {r["engine"]: msgspec.convert(r, kind) for r in data.get("results", [])}
    except (msgspec.DecodeError, msgspec.ValidationError, AttributeError):
        return {}
