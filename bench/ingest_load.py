"""The load generator of `bench.ingest`: an aiohttp client in a process of its own.

    python -m bench.ingest_load --url URL --secret whsec_… --prefix run1 [--connections 64]
        [--seconds 6] [--warmup 1]

Keeps ``--connections`` requests in flight (one keep-alive connection each) for ``--warmup``
plus ``--seconds`` seconds, each a signed Standard Webhooks delivery of a fresh event (ids
``<prefix>-<n>``, so every delivery is new to a durable receiver). The deliveries are made and
signed before the clock starts, so this process spends its time sending. Only requests that
start after the warm-up are counted; prints one JSON line: acknowledged (2xx) deliveries per
second, p50 / p99 latency in ms, the answers by status, and this process's CPU seconds. Runs
on uvloop when it is installed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import sys
import time
from collections import Counter

import aiohttp

from bench.timing import percentile

try:
    import uvloop
except ImportError:  # optional: asyncio's own loop without it
    uvloop = None

EXPECTED_RATE = 6_000  # deliveries a second made ahead; more are signed on the fly if needed


def delivery(key: bytes, event_id: str, stamp: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "id": event_id,
            "type": "payment.received",
            "account_id": "acc_1",
            "sequence": 1,
            "occurred_at": "2026-11-23T12:00:00Z",
            "data": {"payment_id": "pay_1"},
        }
    ).encode()
    digest = hmac.new(key, f"{event_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    headers = {
        "webhook-id": event_id,
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
        "content-type": "application/json",
    }
    return body, headers


async def load(
    url: str, secret: str, prefix: str, connections: int, seconds: float, warmup: float
) -> dict[str, object]:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    stamp = str(int(time.time()))
    ahead = int(EXPECTED_RATE * (seconds + warmup))
    made = [delivery(key, f"{prefix}-{n}", stamp) for n in range(ahead)]
    counter = iter(range(10**9))
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as http:
        started = time.perf_counter()
        measuring, ends = started + warmup, started + warmup + seconds

        async def client() -> None:
            while (sent := time.perf_counter()) < ends:
                n = next(counter)
                body, headers = made[n] if n < ahead else delivery(key, f"{prefix}-{n}", stamp)
                async with http.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                if sent >= measuring:
                    latencies.append(time.perf_counter() - sent)
                    statuses[resp.status] += 1

        cpu = time.process_time()
        await asyncio.gather(*(client() for _ in range(connections)))
        cpu = time.process_time() - cpu
        window = time.perf_counter() - measuring  # the last requests end after ``ends``
    acknowledged = sum(n for status, n in statuses.items() if 200 <= status < 300)
    return {
        "requests": sum(statuses.values()),
        "acknowledged": acknowledged,
        "per_s": round(acknowledged / window),
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "client_cpu_s": round(cpu, 2),
        "window_s": round(window, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    a = parser.parse_args()
    running = load(a.url, a.secret, a.prefix, a.connections, a.seconds, a.warmup)
    result = uvloop.run(running) if uvloop is not None else asyncio.run(running)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
