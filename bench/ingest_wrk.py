"""The load generator of `bench.ingest` when Debian's ``wrk`` is there (installed on first use):
64 keep-alive connections from one wrk thread, each request a fresh signed delivery.

    with feeds(secret, prefix, seconds=6, warmup=1) as made:
        await run(wrk, url, made.warm, connections=64, seconds=1)      # not counted
        load = await run(wrk, url, made.measured, connections=64, seconds=6)

wrk's Lua has no HMAC, so the deliveries are signed here before the clock starts and written
to a file that `bench/ingest_feed.lua` sends one after another (enough for `MAX_RATE` a
second; a run that ran out is refused rather than counted with repeated events). A warm-up run
of its own comes first and is not counted. wrk spends a fraction of the CPU the aiohttp client
(`bench.ingest_load`, the fallback) needs for the same rate, so on a machine of two cores the
servers under test get the cores, not the load generator. Returns what `bench.ingest_load`
prints, plus wrk's socket errors; the answers are only "2xx" and "other" (wrk counts statuses
of 400 and above, not each one).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.ingest_load import delivery

FEED = Path(__file__).with_name("ingest_feed.lua")
MAX_RATE = 30_000  # deliveries a second the feed is made for (a bare handler's is ~25,000)


@dataclass(frozen=True)
class Feeds:
    warm: Path
    measured: Path


def ensure_wrk() -> str | None:
    """The path of ``wrk``, installing Debian's package when it is missing (through ``sudo -n``
    unless root); None when it cannot be had (then the aiohttp client drives the load)."""
    if found := shutil.which("wrk"):
        return found
    apt = ["apt-get", "install", "-y", "-qq", "wrk"]
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in ([*sudo, *apt], [*sudo, "apt-get", "update", "-qq"], [*sudo, *apt]):
        if shutil.which(step[0]) is None:
            return None
        done = subprocess.run(step, env=env, capture_output=True, check=False)
        if done.returncode == 0 and step[-1] == "wrk" and (found := shutil.which("wrk")):
            return found
    return shutil.which("wrk")


def write_feed(path: Path, secret: str, prefix: str, n: int) -> None:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    stamp = str(int(time.time()))
    with path.open("w") as feed:
        for i in range(n):
            body, headers = delivery(key, f"{prefix}-{i}", stamp)
            feed.write(
                f"{headers['webhook-id']}\t{stamp}\t{headers['webhook-signature']}\t"
                f"{body.decode()}\n"
            )


@contextmanager
def feeds(secret: str, prefix: str, *, seconds: float, warmup: float) -> Iterator[Feeds]:
    """The warm-up's and the measured run's deliveries, signed and written out (removed after)."""
    with tempfile.TemporaryDirectory(prefix="ingest-wrk-") as folder:
        made = Feeds(warm=Path(folder, "warm.tsv"), measured=Path(folder, "measured.tsv"))
        write_feed(made.warm, secret, f"{prefix}w", int(MAX_RATE * warmup))
        write_feed(made.measured, secret, prefix, int(MAX_RATE * seconds))
        yield made


async def run(
    wrk: str, url: str, feed: Path, *, connections: int, seconds: float
) -> dict[str, object]:
    """One wrk run POSTing ``feed``'s deliveries to ``url``: what `bench.ingest_load` prints
    (with wrk's socket errors among the answers, and its own CPU seconds)."""
    scheme, _, rest = url.partition("://")
    host, _, path = rest.partition("/")
    before = os.times()
    process = await asyncio.create_subprocess_exec(
        *(wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s"),
        *("-s", str(FEED), f"{scheme}://{host}", "--", f"/{path}", str(feed)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    after = os.times()
    lines = out.decode().strip().splitlines()
    if process.returncode != 0 or not lines or not lines[-1].startswith("{"):
        raise RuntimeError(f"wrk failed ({process.returncode}): {err.decode()[-300:]}")
    r: dict[str, int] = json.loads(lines[-1])
    if r["wrapped"]:
        raise RuntimeError(f"wrk sent all of {feed.name} and began again: raise MAX_RATE")
    window = r["duration_us"] / 1e6
    acknowledged = r["requests"] - r["non_2xx"]
    client = after.children_user + after.children_system
    client -= before.children_user + before.children_system
    return {
        "requests": r["requests"],
        "acknowledged": acknowledged,
        "per_s": round(acknowledged / window),
        "p50_ms": round(r["p50_us"] / 1000, 2),
        "p99_ms": round(r["p99_us"] / 1000, 2),
        "statuses": {"2xx": acknowledged, "other": r["non_2xx"], "socket": r["socket_errors"]},
        "client_cpu_s": round(client, 2),
        "window_s": round(window, 2),
    }
