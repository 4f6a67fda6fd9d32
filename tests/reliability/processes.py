"""Starting worker processes and reading back what they did, for the process tests and the soak.

The processes run `tests.reliability.worker_process`; each appends JSON lines to
``<logs>/<pid>.jsonl`` and writes its output to ``<logs>/worker-*.out``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec


def start_worker(
    database_url: str,
    logs: Path,
    *,
    lease: float = 30,
    grace: float = 30,
    concurrency: int = 4,
    installation_cap: int = 100,
    burst: bool = False,
    flags: Sequence[str] = (),
) -> subprocess.Popen[bytes]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "COLLECTBRIDGE_DATABASE_URL": database_url,
        "COLLECTBRIDGE_JOB_LEASE_SECONDS": str(lease),
        "COLLECTBRIDGE_SHUTDOWN_GRACE_SECONDS": str(grace),
        "COLLECTBRIDGE_WORKER_CONCURRENCY": str(concurrency),
        "COLLECTBRIDGE_INSTALLATION_CONCURRENCY": str(installation_cap),
        "COLLECTBRIDGE_WORKER_POLL_SECONDS": "0.05",
    }
    args = [sys.executable, "-m", "tests.reliability.worker_process", str(logs), *flags]
    # Output goes to a file, never a pipe nobody reads: a chatty worker must not block on it,
    # and a failing test shows what the workers said.
    with (logs / f"worker-{time.monotonic_ns()}.out").open("wb") as output:
        return subprocess.Popen(
            args + (["--burst"] if burst else []),
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def read_events(path: Path) -> list[dict[str, Any]]:
    found = []
    for line in path.read_bytes().splitlines():
        try:
            found.append(msgspec.json.decode(line))
        except msgspec.DecodeError:
            continue  # a worker is writing this line right now
    return found


def events(logs: Path) -> list[dict[str, Any]]:
    """Every line of every worker, oldest first."""
    found = [e for path in logs.glob("*.jsonl") for e in read_events(path)]
    return sorted(found, key=lambda e: e["at"])


def worker_output(logs: Path, tail: int = 4000) -> str:
    return "\n".join(
        f"--- {path.name}\n{path.read_text(errors='replace')[-tail:]}"
        for path in sorted(logs.glob("worker-*.out"))
    )
