"""The soak: worker processes on PostgreSQL under late heartbeats and a SIGKILL.

Four workers (`worker_process --soak`: heartbeats held back at random, a tenth of them past the
lease) drain thousands of jobs over many installations, most on serial keys with many jobs a
key, a few running longer than a lease; hints with dedupe keys arrive while their keys run; one
worker is SIGKILLed mid-run and replaced. Then the handlers' start/end log (each line carrying
the run's lease token), the outcomes the database accepted and the final rows must agree: every
job succeeded exactly once, by the last run it had; no two runs of a job or of a serial key
overlapped, no installation ran more than its cap at once; the database counted every run
(attempts); every hint produced a successful run that started after it.

The short size runs in the default suite; the full one is the issue's (``make soak``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import random
import signal
import subprocess
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from sync.jobs import Job, JobQueue, NewJob
from sync.store.db import Database
from sync.store.installations import Installation, Installations
from tests.fixtures.conditions import eventually
from tests.reliability.processes import events, read_events, start_worker, worker_output

LEASE = 2.0
WORKERS = 4
CONCURRENCY = 8
CAP = 4  # running jobs per installation
SERIAL_KEYS = 6  # per installation; 60 % of the jobs carry one
HINT_KEYS = 2  # dedupe keys per installation
# The hint sender's pace: a load generator's rhythm (about 100 rounds a second, each reading the
# running jobs), not a wait for anything; nothing the test asserts depends on its timing.
HINT_PACE = 0.01


class Size(NamedTuple):
    jobs: int
    installations: int
    within: float  # seconds for the whole drain


SIZES = [
    pytest.param(Size(2_000, 10, within=90), id="short"),
    pytest.param(
        Size(20_000, 50, within=900),
        id="full",
        marks=[pytest.mark.soak, pytest.mark.timeout(1200)],
    ),
]


class Run(NamedTuple):
    job: int
    token: str
    pid: int
    start: float
    end: float
    outcome: str  # "done" (handler finished), "cancelled" (the worker stopped it), "killed"


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES)
async def test_soak(
    size: Size,
    postgres_url: str,
    db_for: Callable[[str], Any],
    logs: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    db: Database = await db_for(postgres_url)
    queue = JobQueue(db)
    rng = random.Random()
    now = dt.datetime.now(dt.UTC)
    installations = [
        await Installations(db).create(agreement_number=1000 + n, company_name="c", now=now)
        for n in range(size.installations)
    ]
    planned = workload(installations, size.jobs, rng)
    hint_keys = {key: inst.id for inst in installations for key in hint_keys_of(inst)}
    planned += [hint(key, inst_id, rng) for key, inst_id in hint_keys.items()]
    for at in range(0, len(planned), 1000):
        await queue.enqueue_many(planned[at : at + 1000], now=now)
    progress = Progress(queue, logs)

    def worker() -> subprocess.Popen[bytes]:
        p = start_worker(
            postgres_url,
            logs,
            lease=LEASE,
            grace=LEASE,
            concurrency=CONCURRENCY,
            installation_cap=CAP,
            flags=["--soak"],
        )
        processes.append(p)
        return p

    started = time.monotonic()
    workers = [worker() for _ in range(WORKERS)]
    stop_hints = asyncio.Event()
    hints = asyncio.create_task(send_hints(queue, hint_keys, stop_hints, rng))

    await progress.wait(lambda c: c.get("succeeded", 0) >= 0.3 * len(planned), size.within)
    victim = workers[0]
    await eventually(lambda: running_long(logs, victim.pid), within=30)
    victim.kill()
    assert victim.wait(timeout=30) == -signal.SIGKILL
    killed_at = time.time()
    worker()

    await progress.wait(lambda c: c.get("succeeded", 0) >= 0.8 * len(planned), size.within)
    stop_hints.set()
    hinted = await hints
    await progress.wait(lambda c: set(c) == {"succeeded"}, size.within)
    drained = time.monotonic() - started
    survivors = [p for p in processes if p is not victim]
    for p in survivors:
        p.send_signal(signal.SIGTERM)
    for p in survivors:
        assert p.wait(timeout=30) == 0, worker_output(logs)

    jobs = {j.id: j for j in await queue.list(limit=10 * len(planned))}
    found = events(logs)
    runs = runs_of(found, killed=victim.pid, killed_at=killed_at)
    assert {r.pid for r in runs.values()} == {p.pid for p in processes}, "a worker did no work"
    verdict = check_runs(jobs, runs, found, killed=victim.pid)
    check_hints(jobs, verdict.succeeded, hinted.last)
    late = Counter(e["query"] for e in found if e["event"] == "late")
    finished = sum(r.outcome == "done" for r in runs.values())
    print(
        f"\nsoak {size}: {len(jobs)} jobs, {len(runs)} runs in {drained:.1f} s; "
        f"{late['heartbeat_job']} late heartbeats, {late['succeed_jobs']} late commits, "
        f"{sum(r.outcome == 'cancelled' for r in runs.values())} runs stopped, "
        f"{finished - len(verdict.succeeded)} finished runs whose success was refused, "
        f"{sum(r.outcome == 'killed' for r in runs.values())} killed "
        f"({len(verdict.unsure)} jobs with an outcome it did not live to log), "
        f"{sum(e['event'] == 'released' for e in found)} released, "
        f"{hinted.sent} hints ({hinted.while_running} while their key ran)"
    )


# --- the workload -------------------------------------------------------------------------
def workload(installations: list[Installation], jobs: int, rng: random.Random) -> list[NewJob]:
    """Each installation's share: 60 % on a few serial keys (many jobs a key), the rest keyless;
    3 % run longer than a heartbeat, some longer than the lease, so heartbeats matter."""
    planned = []
    for inst in installations:
        for _ in range(jobs // len(installations)):
            key = rng.randrange(SERIAL_KEYS)
            serial = f"invoice:{inst.agreement_number}:{key}" if rng.random() < 0.6 else None
            long = rng.random() < 0.03
            seconds = LEASE * rng.uniform(0.5, 1.25) if long else rng.uniform(0.002, 0.01)
            planned.append(
                NewJob(
                    kind="work",
                    installation_id=inst.id,
                    serial_key=serial,
                    payload={"seconds": seconds},
                )
            )
    return planned


def hint_keys_of(inst: Installation) -> list[str]:
    return [f"refresh:{inst.agreement_number}:{n}" for n in range(HINT_KEYS)]


def hint(key: str, installation_id: int, rng: random.Random) -> NewJob:
    """A hint: the record behind ``key`` changed, fetch it (one run of a key at a time)."""
    seconds = LEASE * rng.uniform(0.1, 0.3) if rng.random() < 0.25 else rng.uniform(0.005, 0.03)
    return NewJob(
        kind="work",
        installation_id=installation_id,
        dedupe_key=key,
        serial_key=key,
        payload={"seconds": seconds},
    )


class Hints(NamedTuple):
    last: dict[str, float]  # each key's last hint: time.time() before it was sent
    sent: int
    while_running: int  # of them, for a key whose job was running when looked at


async def send_hints(
    queue: JobQueue, keys: dict[str, int], stop: asyncio.Event, rng: random.Random
) -> Hints:
    """Hints, mostly for keys whose job is running right now, one at a time or a few in one
    `enqueue_many`, until ``stop``. A hint's time is taken before it is sent: the run that takes
    it in cannot start before that."""
    last: dict[str, float] = {}
    sent = while_running = 0
    while not stop.is_set():
        running = [j.dedupe_key for j in await queue.list(state="running", limit=500)]
        busy = [k for k in running if k in keys]
        chosen = rng.sample(busy, min(len(busy), rng.randint(1, 3))) or [rng.choice(list(keys))]
        new = [hint(key, keys[key], rng) for key in chosen]
        at = time.time()
        if rng.random() < 0.5:
            await queue.enqueue_many(new, now=dt.datetime.now(dt.UTC))
        else:
            for job in new:
                await queue.enqueue(job, now=dt.datetime.now(dt.UTC))
        last.update(dict.fromkeys(chosen, at))
        sent += len(chosen)
        if busy:
            while_running += len(chosen)
        await asyncio.sleep(HINT_PACE)
    return Hints(last, sent, while_running)


class Progress:
    """The jobs' states, polled; the last counts go into a failure's explanation."""

    def __init__(self, queue: JobQueue, logs: Path) -> None:
        self.queue = queue
        self.logs = logs
        self.counts: dict[str, int] = {}

    async def wait(self, reached: Callable[[dict[str, int]], bool], within: float) -> None:
        async def poll() -> bool:
            counts: Counter[str] = Counter()
            for _, state, n in await self.queue.counts():
                counts[state] += n
            self.counts = dict(counts)
            return reached(self.counts)

        await eventually(
            poll,
            within=within,
            step=0.1,
            explain=lambda: f"job states: {self.counts}\n{worker_output(self.logs)}",
        )


def running_long(logs: Path, pid: int) -> bool:
    """Whether a worker is in the middle of a long run (begun 0.1–0.5 s ago: short runs take
    milliseconds, long ones a second or more), so that a kill now catches it mid-run."""
    found = read_events(logs / f"{pid}.jsonl")
    ended = {(e["job"], e["token"]) for e in found if e["event"] in ("end", "cancelled")}
    now = time.time()
    return any(
        0.1 < now - e["at"] < 0.5
        for e in found
        if e["event"] == "start" and (e["job"], e["token"]) not in ended
    )


# --- what the log proves ------------------------------------------------------------------
def runs_of(found: list[dict[str, Any]], *, killed: int, killed_at: float) -> dict[Any, Run]:
    """Each run (job, lease token) from its start and end lines; a run of the killed worker
    with no end ran until the kill."""
    starts = Counter((e["job"], e["token"]) for e in found if e["event"] == "start")
    assert max(starts.values()) == 1, "one lease token ran a job twice"
    ends = {(e["job"], e["token"]): e for e in found if e["event"] in ("end", "cancelled")}
    runs = {}
    for e in found:
        if e["event"] != "start":
            continue
        key = (e["job"], e["token"])
        end = ends.pop(key, None)
        if end is None:
            assert e["pid"] == killed, f"run {key} in worker {e['pid']} never ended"
            runs[key] = Run(*key, e["pid"], e["at"], killed_at, "killed")
        else:
            assert end["pid"] == e["pid"], f"run {key} ended in another worker"
            outcome = "done" if end["event"] == "end" else "cancelled"
            runs[key] = Run(*key, e["pid"], e["at"], end["at"], outcome)
    assert not ends, f"runs ended that never started: {list(ends)[:5]}"
    return runs


class Verdict(NamedTuple):
    succeeded: list[Run]  # the run of each job whose success counted
    unsure: set[int]  # jobs of which the killed worker did something it did not live to log


def check_runs(
    jobs: dict[int, Job], runs: dict[Any, Run], found: list[dict[str, Any]], *, killed: int
) -> Verdict:
    assert {j.state for j in jobs.values()} == {"succeeded"}
    per_job = grouped(runs.values(), lambda r: r.job)
    assert set(per_job) == set(jobs), "a job succeeded without a run, or a run has no job"
    assert_apart(per_job, "runs of job")
    assert_apart(grouped(runs.values(), lambda r: jobs[r.job].serial_key), "runs of serial key")
    for inst, group in grouped(runs.values(), lambda r: jobs[r.job].installation_id).items():
        assert most_at_once(group) <= CAP, f"installation {inst} ran more than {CAP} at once"
    assert any(r.outcome == "killed" for r in runs.values()), "the kill hit no run"

    accepted: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for e in found:
        if e["event"] == "accepted":
            accepted[e["job"]].append(e)
    released = Counter(e["job"] for e in found if e["event"] == "released")
    succeeded = []
    unsure = set()
    for job_id, job_runs in per_job.items():
        last = job_runs[-1]
        mine = [(e["job"], e["token"], e["pid"]) for e in accepted[job_id]]
        if not mine and last.pid == killed and last.outcome == "done":
            unsure.add(job_id)  # its success may have been recorded just before the kill
        else:
            assert mine == [last[:3]], f"job {job_id}: accepted {mine}, runs {job_runs}"
            assert last.outcome == "done", f"job {job_id}: accepted a run cut short: {last}"
        succeeded.append(last)
        if jobs[job_id].dedupe_key is None:  # a hint absorbed into a twin restarts its count
            counted = len(job_runs) - released[job_id]
            if jobs[job_id].attempts != counted:
                # A claim or a release by the killed worker that it did not live to log.
                assert abs(jobs[job_id].attempts - counted) == 1, f"job {job_id}: {job_runs}"
                unsure.add(job_id)
    # The killed worker held at most CONCURRENCY runs; each left at most one thing unlogged.
    assert len(unsure) <= CONCURRENCY, f"unaccounted runs of jobs {sorted(unsure)}"
    return Verdict(succeeded, unsure)


def check_hints(jobs: dict[int, Job], succeeded: list[Run], last: dict[str, float]) -> None:
    """Every key's last hint was followed by a successful run of the key that started after it
    (a run that could not have read the record before the change)."""
    latest: dict[str, float] = {}
    for run in succeeded:
        key = jobs[run.job].dedupe_key
        if key is not None:
            latest[key] = max(latest.get(key, 0.0), run.start)
    lost = {key: sent for key, sent in last.items() if latest.get(key, 0.0) <= sent}
    assert not lost, f"hints with no successful run after them: {lost}"


def grouped(runs: Iterable[Run], by: Callable[[Run], Any]) -> dict[Any, list[Run]]:
    groups: dict[Any, list[Run]] = defaultdict(list)
    for run in runs:
        if (key := by(run)) is not None:
            groups[key].append(run)
    for group in groups.values():
        group.sort(key=lambda r: r.start)
    return groups


def assert_apart(groups: dict[Any, list[Run]], what: str) -> None:
    """No two runs of a group overlap (sorted by start, any overlap shows between neighbours)."""
    for key, group in groups.items():
        for a, b in itertools.pairwise(group):
            assert b.start >= a.end, f"{what} {key} overlapped:\n{a}\n{b}"


def most_at_once(runs: list[Run]) -> int:
    marks = sorted([(r.start, 1) for r in runs] + [(r.end, -1) for r in runs])  # ends first
    return max(itertools.accumulate(step for _, step in marks))
