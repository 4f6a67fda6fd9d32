"""The disk a benchmark's commits flush to, timed alone: ``fdatasync`` after each 8 KiB write,
for a few seconds. A commit waits for its flush, so a stall of the disk holds every delivery
(or job) waiting for that commit; timed in the same run as the benchmark, it tells a tail
caused by the disk from one caused by the code."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import msgspec


class Disk(msgspec.Struct, frozen=True, kw_only=True):
    """The disk's ``fdatasync`` of an 8 KiB write, timed alone (`disk_syncs`): what a commit's
    flush costs, and how often it stalls."""

    syncs: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    stalls: int  # syncs over STALL_MS


DISK_SECONDS = 3.0
STALL_MS = 50.0


def disk_syncs(folder: str, seconds: float = DISK_SECONDS) -> Disk:
    """``fdatasync`` after each 8 KiB write to a file in ``folder`` for ``seconds``."""
    path = Path(folder) / f"disk-probe-{secrets.token_hex(4)}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    took: list[float] = []
    try:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            os.write(fd, b"x" * 8192)
            started = time.perf_counter()
            os.fdatasync(fd)
            took.append((time.perf_counter() - started) * 1000)
    finally:
        os.close(fd)
        path.unlink()
    took.sort()
    return Disk(
        syncs=len(took),
        p50_ms=round(took[len(took) // 2], 2),
        p99_ms=round(took[int(len(took) * 0.99)], 2),
        max_ms=round(took[-1], 1),
        stalls=sum(1 for t in took if t > STALL_MS),
    )
