"""A worker process for the reliability tests: the real `run_worker` with test job kinds.

Run as ``python -m tests.reliability.worker_process <log dir>`` with COLLECTBRIDGE_* settings in
the environment. Each handler appends what it saw to ``<log dir>/<pid>.jsonl`` (one JSON object
a line, flushed), so the test can check overlaps across processes after the fact.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import msgspec

from plugin.bootstrap import run_worker
from plugin.settings import load_settings
from sync.worker import JobContext


def main() -> None:
    log_path = Path(sys.argv[1]) / f"{os.getpid()}.jsonl"
    burst = "--burst" in sys.argv

    def note(ctx: JobContext, event: str) -> None:
        line = {
            "event": event,
            "job": ctx.job.id,
            "serial": ctx.job.serial_key,
            "attempt": ctx.job.attempts,
            "pid": os.getpid(),
            "at": time.time(),
        }
        with log_path.open("ab") as f:
            f.write(msgspec.json.encode(line) + b"\n")
            f.flush()
            os.fsync(f.fileno())

    def started_before(job_id: int) -> bool:
        for path in log_path.parent.glob("*.jsonl"):
            for raw in path.read_bytes().splitlines():
                try:
                    line = msgspec.json.decode(raw)
                except msgspec.DecodeError:
                    continue  # another process is writing this line right now
                if line["job"] == job_id and line["event"] == "start":
                    return True
        return False

    async def work(ctx: JobContext) -> None:
        """Takes payload["seconds"]; with payload["hang_first"] the first run never ends."""
        first = not started_before(ctx.job.id)
        note(ctx, "start")
        if first and ctx.payload.get("hang_first"):
            await asyncio.Event().wait()
        await asyncio.sleep(float(ctx.payload.get("seconds", 0)))
        note(ctx, "end")

    settings = load_settings(os.environ)
    asyncio.run(run_worker(settings, burst=burst, handlers={"work": work}))


if __name__ == "__main__":
    main()
