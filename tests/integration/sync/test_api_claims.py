"""The sync engine's ``/api/v1`` routes over real HTTP, on SQLite and PostgreSQL, after a real
bootstrap against both simulators: claims (list, paging, every action), the handover policy,
problems, resync and jobs, and ``collectbridge resync``.

The company's policy starts as the default (``manual``, 10 days, 100.00 DKK), so after the
bootstrap the claims above both thresholds wait in ``awaiting_approval`` and the rest are
``monitoring``. Tokens are made through the stores as `tests.integration.test_api` does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from plugin.keys import QUEUE
from sync import schedules
from sync.jobs import NewJob
from sync.store.audit import AuditLog
from sync.store.claims import StoredClaim
from sync.store.problems import Problems
from sync.store.users import Role
from tests.integration.sync.support import Company, running_company
from tests.integration.sync.test_bootstrap import collection_writes
from tests.integration.test_api import Answer, collectbridge

INVOICES = 80


@dataclass
class Booted:
    """A bootstrapped company and people with tokens of each role (and one of another company)."""

    company: Company
    admin: str
    caseworker: str
    guest: str
    stranger: str
    bootstrap_job: int

    @property
    def base(self) -> str:
        return f"/api/v1/installations/{self.company.agreement}"

    async def call(
        self, method: str, path: str, token: str, body: Any = None, *, raw: bytes | None = None
    ) -> Answer:
        headers = {"Authorization": f"Bearer {token}"}
        url = self.company.bridge.url + (path if path.startswith("/") else f"{self.base}/{path}")
        async with aiohttp.ClientSession() as http:
            async with http.request(method, url, headers=headers, json=body, data=raw) as r:
                return Answer(r.status, r.content_type, dict(r.headers), await r.json())

    async def get(self, path: str, token: str | None = None) -> Answer:
        return await self.call("GET", path, token or self.guest)

    async def post(self, path: str, token: str | None = None, body: Any = None) -> Answer:
        return await self.call("POST", path, token or self.admin, body)

    async def claim(self, number: int) -> dict[str, Any]:
        """One claim as the API lists it."""
        for item in await self.all_claims():
            if item["invoice_number"] == number:
                return item
        raise AssertionError(f"no claim {number}")

    async def all_claims(self, state: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        query = f"claims?limit={limit}" + (f"&state={state}" if state else "")
        while True:
            page = await self.get(query)
            assert page.status == 200, page.body
            items += page.body["items"]
            if "next_cursor" not in page.body:
                return items
            query = f"claims?limit={limit}&cursor={page.body['next_cursor']}" + (
                f"&state={state}" if state else ""
            )

    async def numbers(self, state: str) -> list[int]:
        return [c["invoice_number"] for c in await self.all_claims(state)]


async def person(company: Company, email: str, role: Role, agreement_of: Any = None) -> str:
    bridge = company.bridge
    installation = agreement_of or company.installation
    return await bridge.person(email, [(installation, role)])


@asynccontextmanager
async def booted(database_url: str, **settings: Any) -> AsyncIterator[Booted]:
    async with running_company(database_url, invoices=INVOICES, **settings) as company:
        job_id = await company.enqueue("sync.bootstrap", f"bootstrap:{company.agreement}")
        await company.settle()
        job = await company.job(job_id)
        assert job.state == "succeeded", job.last_error
        other = await company.bridge.company(99_999_001)
        yield Booted(
            company=company,
            admin=await person(company, "admin@example.com", "admin"),
            caseworker=await person(company, "case@example.com", "caseworker"),
            guest=await person(company, "guest@example.com", "guest"),
            stranger=await person(company, "stranger@example.com", "admin", other),
            bootstrap_job=job_id,
        )


def by_number(claims: list[StoredClaim]) -> dict[int, StoredClaim]:
    return {c.invoice_number: c for c in claims}


async def audit_actions(company: Company) -> list[tuple[str, str]]:
    entries = await AuditLog(company.bridge.db).list(company.installation.id)
    return [(e.action, e.actor) for e in entries]


# -- claims -----------------------------------------------------------------------------------


async def test_claims_list_by_state_and_page_by_page(database_url: str) -> None:
    async with booted(database_url) as b:
        stored = await b.company.claims()
        assert len(stored) > 10, "the seed has overdue invoices"
        walked = await b.all_claims(limit=7)
        assert [c["invoice_number"] for c in walked] == [c.invoice_number for c in stored]
        first = walked[0]
        claim = stored[0]
        assert first == {
            "invoice_number": claim.invoice_number,
            "customer_number": claim.customer_number,
            "kind": claim.kind,
            "state": claim.state,
            "currency": claim.currency,
            "remaining": claim.remaining,
            "due_date": claim.due_date.isoformat(),
            "handover_on": None,
            "held": False,
            "disputed": False,
            "case_id": None,
        }
        assert all(isinstance(c["remaining"], int) for c in walked)

        states = {c.state for c in stored}
        assert {"awaiting_approval", "monitoring"} <= states, states  # manual policy
        for state in states:
            expected = [c.invoice_number for c in stored if c.state == state]
            assert await b.numbers(state) == expected
        assert await b.all_claims("in_collection") == []

        (await b.get("claims?state=bogus")).problem(422, "invalid_parameter")
        (await b.get("claims?limit=0")).problem(422, "invalid_limit")
        (await b.get("claims?cursor=nope")).problem(422, "invalid_cursor")
        (await b.get("claims", b.stranger)).problem(404, "not_found")
        (await b.get("/api/v1/installations/424242/claims")).problem(404, "not_found")
        (await b.get("claims", "cbt_wrong")).problem(401, "invalid_token")


async def test_approve_hands_the_claim_over_through_its_job(database_url: str) -> None:
    async with booted(database_url) as b:
        waiting = await b.numbers("awaiting_approval")
        number = waiting[0]
        company = b.company

        for token in (b.guest, b.caseworker):
            (await b.post(f"claims/{number}/approve", token)).problem(403, "role_required")
        (await b.post(f"claims/{number}/approve", b.stranger)).problem(404, "not_found")
        (await b.post("claims/999999/approve")).problem(404, "not_found")
        (await b.post("claims/nope/approve")).problem(404, "not_found")

        approved = await b.post(f"claims/{number}/approve")
        assert approved.status == 202, approved.body
        job_id = approved.body["job_id"]
        assert approved.body["claim"]["invoice_number"] == number
        assert approved.body["claim"]["state"] == "awaiting_approval"  # until the job ran
        job = await company.job(job_id)
        assert (job.kind, job.dedupe_key, job.serial_key) == (
            "handover.claim",
            f"handover:{company.agreement}:{number}",
            f"invoice:{company.agreement}:{number}",
        )
        assert job.payload == {"invoice": number, "reason": "approved"}
        again = await b.post(f"claims/{number}/approve")
        assert again.status == 202 and again.body["job_id"] == job_id  # the waiting twin

        await company.settle()
        assert (await company.job(job_id)).state == "succeeded"
        shown = await b.claim(number)
        assert shown["state"] == "in_collection" and shown["case_id"], shown
        assert company.platform_claims()[str(number)].state == "in_collection"
        assert number in await b.numbers("in_collection")

        refused = await b.post(f"claims/{number}/approve")
        refused.problem(409, "invalid_state")
        monitoring = await b.numbers("monitoring")
        (await b.post(f"claims/{monitoring[0]}/approve")).problem(409, "invalid_state")
        assert await audit_actions(company) == [
            ("claim.approved", "admin@example.com"),
            ("claim.approved", "admin@example.com"),
        ]


async def test_hold_release_dispute_undispute_and_propose(database_url: str) -> None:
    async with booted(database_url) as b:
        number = (await b.numbers("awaiting_approval"))[0]

        (await b.post(f"claims/{number}/hold", b.guest)).problem(403, "role_required")
        held = await b.post(f"claims/{number}/hold", b.caseworker)
        assert held.status == 200, held.body
        assert (held.body["state"], held.body["held"]) == ("held", True)
        assert (await b.post(f"claims/{number}/hold", b.caseworker)).body["state"] == "held"
        (await b.post(f"claims/{number}/approve")).problem(409, "invalid_state")
        (await b.post(f"claims/{number}/propose", b.caseworker)).problem(409, "invalid_state")

        released = await b.post(f"claims/{number}/release", b.caseworker)
        assert released.status == 200, released.body
        # Released, the policy decides at once: still above both thresholds, so it waits again.
        assert (released.body["state"], released.body["held"]) == ("awaiting_approval", False)
        (await b.post(f"claims/{number}/release", b.caseworker)).problem(409, "invalid_state")

        disputed = await b.post(f"claims/{number}/dispute", b.caseworker)
        assert (disputed.body["state"], disputed.body["disputed"]) == ("monitoring", True)
        refused = await b.post(f"claims/{number}/propose", b.caseworker)
        refused.problem(409, "invalid_state")
        assert "disputed" in refused.body["detail"]
        undisputed = await b.post(f"claims/{number}/undispute", b.caseworker)
        assert (undisputed.body["state"], undisputed.body["disputed"]) == (
            "awaiting_approval",
            False,
        )

        # A claim below the thresholds: a caseworker proposes it into the approval queue.
        stored = by_number(await b.company.claims())
        small = next(
            n
            for n in await b.numbers("monitoring")
            if stored[n].kind == "invoice" and stored[n].remaining > 0
        )
        proposed = await b.post(f"claims/{small}/propose", b.caseworker)
        assert proposed.status == 200 and proposed.body["state"] == "awaiting_approval"
        assert by_number(await b.company.claims())[small].proposed

        actions = await audit_actions(b.company)
        assert actions == [
            ("claim.held", "case@example.com"),
            ("claim.held", "case@example.com"),
            ("claim.released", "case@example.com"),
            ("claim.disputed", "case@example.com"),
            ("claim.undisputed", "case@example.com"),
            ("claim.proposed", "case@example.com"),
        ]
        (await b.post(f"claims/{number}/dispute", b.stranger)).problem(404, "not_found")


async def test_withdraw_withdraws_on_the_platform_too(database_url: str) -> None:
    async with booted(database_url) as b:
        number = (await b.numbers("awaiting_approval"))[0]
        assert b.company.platform_claims()[str(number)].state == "monitoring"

        (await b.post(f"claims/{number}/withdraw", b.caseworker)).problem(403, "role_required")
        bad = await b.post(f"claims/{number}/withdraw", b.admin, {"reason": "bored"})
        bad.problem(422, "invalid_body")
        withdrawn = await b.post(f"claims/{number}/withdraw")
        assert withdrawn.status == 200, withdrawn.body
        assert withdrawn.body["state"] == "withdrawn"
        on_platform = b.company.platform_claims()[str(number)]
        assert (on_platform.state, on_platform.withdrawn_reason) == ("closed", "sent_in_error")
        again = await b.post(f"claims/{number}/withdraw")
        assert again.status == 200 and again.body["state"] == "withdrawn"
        (await b.post(f"claims/{number}/hold", b.caseworker)).problem(409, "invalid_state")
        assert ("claim.withdrawn", "admin@example.com") in await audit_actions(b.company)


# -- policy -----------------------------------------------------------------------------------

DEFAULT_POLICY = {
    "mode": "manual",
    "min_days_overdue": 10,
    "min_amount": 10000,
    "exclude_customer_groups": [],
    "start_step": "reminder_1",
    "notice_days": 0,
}


async def test_policy_read_replaced_whole_validated_and_applied(database_url: str) -> None:
    async with booted(database_url) as b:
        company = b.company
        shown = await b.get("policy")
        assert shown.status == 200 and shown.body == DEFAULT_POLICY

        (await b.call("PUT", "policy", b.caseworker, {"mode": "manual"})).problem(
            403, "role_required"
        )
        zero = await b.call("PUT", "policy", b.admin, {"min_days_overdue": 0})
        zero.problem(422, "invalid_policy")
        assert "min_days_overdue" in zero.body["detail"]
        for bad in ({"mode": "sometimes"}, {"notice_days": -1}, {"colour": "red"}, [1]):
            answer = await b.call("PUT", "policy", b.admin, bad)
            answer.problem(422, "invalid_policy")
        (await b.call("PUT", "policy", b.admin, raw=b"{nope")).problem(422, "invalid_body")
        assert (await b.get("policy")).body == DEFAULT_POLICY  # nothing was saved

        # Automatic with a notice period: eligible claims are announced, none goes yet.
        open_invoices = [
            c.invoice_number
            for c in await company.claims()
            if c.kind == "invoice" and c.remaining > 0
        ]
        today = company.bridge.clock().date()
        put = await b.call(
            "PUT",
            "policy",
            b.admin,
            {"mode": "automatic", "min_days_overdue": 1, "min_amount": 0, "notice_days": 3},
        )
        assert put.status == 200, put.body
        assert put.body == {
            **DEFAULT_POLICY,
            "mode": "automatic",
            "min_days_overdue": 1,
            "min_amount": 0,
            "notice_days": 3,
        }
        assert (await b.get("policy")).body == put.body
        scheduled = await b.all_claims("scheduled")
        assert sorted(c["invoice_number"] for c in scheduled) == sorted(open_invoices)
        plus3 = (today + dt.timedelta(days=3)).isoformat()
        assert {c["handover_on"] for c in scheduled} == {plus3}
        assert [
            j for j in await company.bridge.app[QUEUE].list() if j.kind == "handover.claim"
        ] == []

        # A changed notice period moves handover_on; the other settings keys are kept.
        await company.set_settings(channels=["email", "letter"])
        one = await b.call("PUT", "policy", b.admin, {**put.body, "notice_days": 1})
        assert one.status == 200
        plus1 = (today + dt.timedelta(days=1)).isoformat()
        assert {c["handover_on"] for c in await b.all_claims("scheduled")} == {plus1}
        kept = await company.bridge.db.fetchrow("get_installation", id=company.installation.id)
        assert kept is not None
        settings = kept["settings"]
        assert (
            settings["channels"] == ["email", "letter"] and settings["policy"]["notice_days"] == 1
        )

        # A hold survives the policy's changes: the held claim stays behind.
        kept_back = open_invoices[0]
        held = await b.post(f"claims/{kept_back}/hold", b.caseworker)
        assert held.body["state"] == "held" and held.body["handover_on"] is None

        # 0 sends the scheduled ones at once: handover jobs, run by the worker.
        now = await b.call("PUT", "policy", b.admin, {**put.body, "notice_days": 0})
        assert now.status == 200
        queue = company.bridge.app[QUEUE]
        jobs = await queue.list(limit=1000)
        handovers = {j.payload["invoice"] for j in jobs if j.kind == "handover.claim"}
        assert handovers == set(open_invoices) - {kept_back}
        await company.settle()
        await check_handed_over(b, set(open_invoices) - {kept_back})
        assert (await b.claim(kept_back))["state"] == "held"

        # Released, the policy decides at once: due now, so handed over by the worker.
        released = await b.post(f"claims/{kept_back}/release", b.caseworker)
        assert released.status == 200, released.body
        assert (released.body["state"], released.body["held"]) == ("scheduled", False)
        assert released.body["handover_on"] == today.isoformat()
        await company.settle()
        await check_handed_over(b, set(open_invoices))
        actions = [a for a, _ in await audit_actions(company)]
        assert actions == ["policy.changed"] * 2 + [
            "claim.held",
            "policy.changed",
            "claim.released",
        ]


async def check_handed_over(b: Booted, numbers: set[int]) -> None:
    """Each of ``numbers`` is in collection here and on the platform, or its handover is an
    open problem (a debtor the collector cannot reach: no case opened)."""
    platform = b.company.platform_claims()
    ours = {c["invoice_number"]: c for c in await b.all_claims()}
    problems = {p["subject"] for p in (await b.get("problems")).body["items"]}
    handed = {n for n in numbers if ours[n]["state"] == "in_collection"}
    assert len(handed) > len(numbers) // 2, "handed over automatically"
    for n in numbers:
        if n in handed:
            assert platform[str(n)].state == "in_collection" and ours[n]["case_id"]
        else:
            assert f"handover:{n}" in problems, ours[n]


# -- problems ---------------------------------------------------------------------------------


async def test_problems_and_every_answer_match_openapi(database_url: str) -> None:
    async with booted(database_url) as b:
        company = b.company
        await Problems(company.bridge.db).record(
            installation_id=company.installation.id,
            category="missing_data",
            code="debtor_unreachable",
            subject="customer:42",
            message="Customer 42 has neither address nor e-mail",
            now=company.bridge.clock(),
        )
        problems = await b.get("problems")
        assert problems.status == 200, problems.body
        mine = [p for p in problems.body["items"] if p["subject"] == "customer:42"]
        assert len(mine) == 1
        assert set(mine[0]) == {
            "id", "category", "code", "subject", "message", "occurrences", "first_seen_at",
            "last_seen_at",
        }  # fmt: skip
        assert mine[0]["first_seen_at"].endswith("Z")
        (await b.get("problems", b.stranger)).problem(404, "not_found")

        document = (await b.get("/api/v1/openapi.json")).body
        paths = document["paths"]
        base = "/api/v1/installations/{agreement}"
        for method, path in [
            ("get", f"{base}/claims"),
            *(("post", f"{base}/claims/{{invoice}}/{a}") for a in (
                "approve", "propose", "hold", "release", "dispute", "undispute", "withdraw",
            )),
            ("get", f"{base}/policy"),
            ("put", f"{base}/policy"),
            ("get", f"{base}/problems"),
            ("post", f"{base}/resync"),
            ("get", "/api/v1/jobs/{job_id}"),
            ("post", "/api/v1/jobs/{job_id}/retry"),
        ]:  # fmt: skip
            assert method in paths[path], (method, path)
        registry: Registry = Registry().with_resource(
            "urn:api", Resource.from_contents(document, default_specification=DRAFT202012)
        )

        def check(answer: Answer, schema: str) -> None:
            ref = {"$ref": f"urn:api#/components/schemas/{schema}"}
            Draft202012Validator(ref, registry=registry).validate(answer.body)

        check(await b.get("claims"), "ClaimList")
        check(await b.get("policy"), "PolicyView")
        check(problems, "ProblemList")
        check(await b.get(f"/api/v1/jobs/{b.bootstrap_job}"), "JobView")
        number = (await b.numbers("awaiting_approval"))[0]
        check(await b.post(f"claims/{number}/hold", b.caseworker), "ClaimView")
        check(await b.post(f"claims/{number}/release", b.caseworker), "ClaimView")
        check(await b.post(f"claims/{number}/approve"), "Approval")
        check(await b.post("resync", b.caseworker, {"scope": "events"}), "JobAccepted")


# -- resync and jobs --------------------------------------------------------------------------


async def test_resync_queues_by_scope_and_coalesces_while_queued(database_url: str) -> None:
    async with booted(database_url) as b:
        company, agreement = b.company, b.company.agreement
        queue = company.bridge.app[QUEUE]

        (await b.post("resync", b.guest, {"scope": "all"})).problem(403, "role_required")
        (await b.post("resync", b.stranger, {"scope": "all"})).problem(404, "not_found")
        for scope in ("everything", "invoice:x", "invoice:0", "invoice:", "ALL"):
            answer = await b.post("resync", b.caseworker, {"scope": scope})
            answer.problem(422, "invalid_scope")
        for body in ({"scope": 7}, {"scope": "all", "more": 1}, ["all"]):
            (await b.post("resync", b.caseworker, body)).problem(422, "invalid_body")

        first = await b.post("resync", b.caseworker, {"scope": "all"})
        assert first.status == 202, first.body
        second = await b.post("resync", b.caseworker, {"scope": "all"})
        assert second.status == 202 and second.body == first.body  # queued: the same job
        assert (await b.post("resync", b.caseworker)).body == first.body  # scope all by default

        # While the bootstrap runs, a resync is a new job: the ledger may change after it read.
        leased = await queue.claim(
            worker_id="test", limit=10, cap=10, lease_seconds=60, now=company.bridge.clock()
        )
        assert [j.id for j in leased.jobs] == [first.body["job_id"]]
        running = await b.post("resync", b.caseworker, {"scope": "all"})
        assert running.status == 202 and running.body["job_id"] != first.body["job_id"]
        assert (await company.job(running.body["job_id"])).state == "queued"

        inst = company.installation.id
        expected = {
            "customers": schedules.customers(inst, agreement),
            "invoices": schedules.scan(inst, agreement, full=True),
            "events": NewJob(
                kind="sync.events", installation_id=inst, dedupe_key=f"events:{agreement}"
            ),
            "invoice:17": schedules.invoice(inst, agreement, 17),
        }
        assert expected["invoices"].payload == {"full": True}
        assert expected["invoice:17"].payload == {"invoice": 17}
        assert expected["invoice:17"].serial_key == f"invoice:{agreement}:17"
        ids = {}
        for scope, wanted in expected.items():
            answer = await b.post("resync", b.caseworker, {"scope": scope})
            assert answer.status == 202, answer.body
            job = await company.job(answer.body["job_id"])
            assert (job.kind, job.payload, job.dedupe_key, job.serial_key) == (
                wanted.kind,
                wanted.payload,
                wanted.dedupe_key,
                wanted.serial_key,
            )
            assert job.installation_id == inst and job.state == "queued"
            assert job.run_at <= company.bridge.clock()  # due now
            ids[scope] = job.id
        assert len(set(ids.values()) | {first.body["job_id"], running.body["job_id"]}) == 6

        resyncs = [a for a in await audit_actions(company) if a[0] == "installation.resync"]
        assert len(resyncs) == 8 and {actor for _, actor in resyncs} == {"case@example.com"}


async def test_a_resync_of_an_unchanged_ledger_writes_nothing(database_url: str) -> None:
    async with booted(database_url) as b:
        company = b.company
        versions = {ref: c.version for ref, c in company.platform_claims().items()}
        debtors = {ref: d.version for ref, d in company.platform_debtors().items()}
        writes = len(await collection_writes(company))
        answer = await b.post("resync", b.caseworker, {"scope": "all"})
        assert answer.status == 202
        await company.settle()
        job = await b.get(f"/api/v1/jobs/{answer.body['job_id']}")
        assert job.body["state"] == "succeeded", job.body
        assert {ref: c.version for ref, c in company.platform_claims().items()} == versions
        assert {ref: d.version for ref, d in company.platform_debtors().items()} == debtors
        assert (await collection_writes(company))[writes:] == []


async def test_jobs_show_progress_only_to_members_and_retry(database_url: str) -> None:
    async with booted(database_url) as b:
        company = b.company
        shown = await b.get(f"/api/v1/jobs/{b.bootstrap_job}")
        assert shown.status == 200, shown.body
        body = shown.body
        assert (body["id"], body["kind"], body["state"]) == (
            b.bootstrap_job,
            "sync.bootstrap",
            "succeeded",
        )
        assert body["installation"] == company.agreement
        assert body["progress"]["total"] is not None and body["progress"]["total"] > 0
        assert body["progress"]["done"] == body["progress"]["total"]
        assert body["last_error"] is None and body["finished_at"].endswith("Z")
        (await b.get(f"/api/v1/jobs/{b.bootstrap_job}", b.stranger)).problem(404, "not_found")
        (await b.get("/api/v1/jobs/987654")).problem(404, "not_found")
        (await b.get("/api/v1/jobs/nope")).problem(404, "not_found")

        # A dead job of the company: an admin runs it again; a succeeded one is not retried.
        queue = company.bridge.app[QUEUE]
        now = company.bridge.clock()
        dead_id = await queue.enqueue(
            NewJob(kind="sync.events", installation_id=company.installation.id), now=now
        )
        leased = await queue.claim(worker_id="t", limit=5, cap=5, lease_seconds=60, now=now)
        assert [j.id for j in leased.jobs] == [dead_id]
        await queue.fail(
            dead_id, leased.token, state="dead", run_at=now, error="boom", code="bug", now=now
        )
        dead = await b.get(f"/api/v1/jobs/{dead_id}")
        assert dead.body["state"] == "dead" and dead.body["last_error"].startswith("boom")
        (await b.post(f"/api/v1/jobs/{dead_id}/retry", b.caseworker)).problem(403, "role_required")
        (await b.post(f"/api/v1/jobs/{dead_id}/retry", b.stranger)).problem(404, "not_found")
        retried = await b.post(f"/api/v1/jobs/{dead_id}/retry")
        assert retried.status == 200, retried.body
        assert (retried.body["state"], retried.body["attempts"]) == ("queued", 0)
        assert retried.body["last_error"] is None
        (await b.post(f"/api/v1/jobs/{dead_id}/retry")).problem(409, "invalid_state")
        (await b.post(f"/api/v1/jobs/{b.bootstrap_job}/retry")).problem(409, "invalid_state")
        assert ("job.retried", "admin@example.com") in await audit_actions(company)


async def test_cli_resync(database_url: str) -> None:
    async with booted(database_url) as b:
        company = b.company
        url = company.bridge.database_url
        done = collectbridge(url, "resync", str(company.agreement))
        assert done.returncode == 0, done.stderr
        job_id = int(done.stdout.strip().splitlines()[-1])
        job = await company.job(job_id)
        assert (job.kind, job.dedupe_key, job.state) == (
            "sync.bootstrap",
            f"bootstrap:{company.agreement}",
            "queued",
        )
        # The API asked for the same scope while it waits: the same job.
        assert (await b.post("resync", b.caseworker, {"scope": "all"})).body == {"job_id": job_id}
        one = collectbridge(url, "resync", str(company.agreement), "--scope", "invoice:5")
        assert one.returncode == 0, one.stderr
        invoice_job = await company.job(int(one.stdout.strip().splitlines()[-1]))
        assert (invoice_job.kind, invoice_job.payload) == ("sync.invoice", {"invoice": 5})
        assert ("installation.resync", "cli") in await audit_actions(company)

        missing = collectbridge(url, "resync", "4242")
        assert missing.returncode == 2 and "agreement 4242 is not installed" in missing.stderr
        assert "Traceback" not in missing.stderr
        bad = collectbridge(url, "resync", str(company.agreement), "--scope", "nope")
        assert bad.returncode == 2 and "scope must be one of" in bad.stderr

        helped = collectbridge(url, "resync", "--help")
        assert helped.returncode == 0 and "(default: all)" in helped.stdout
