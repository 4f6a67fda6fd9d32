"""The case engine on the simulated clock: steps and letters, fees, interest to the øre
(computed here independently), allocation, closing as paid, withdrawn and written off."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from tests.contract.collection.support import Api, account_api, claim, debtor
from tests.fixtures.collection import CollectionSandbox

# Late-payment rate (Nationalbank lending rate + 8 pp) for the half-years the tests use.
RATE_2024_H1 = Decimal("11.75")
RATE_2024_H2 = Decimal("11.50")
PERSON = {"kind": "person", "cvr": None}


def interest(principal: int, periods: list[tuple[str, str, Decimal]]) -> int:
    exact = sum(
        (
            Decimal(principal)
            * rate
            / 100
            * (dt.date.fromisoformat(end) - dt.date.fromisoformat(start)).days
            / 365
            for start, end, rate in periods
        ),
        Decimal(0),
    )
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def events(sandbox: CollectionSandbox, kind: str) -> list[dict[str, Any]]:
    log = sandbox.state.events.get(sandbox.account_ids[0], [])
    return [{**e.data, "_on": e.occurred_at[:10]} for e in log if e.type == kind]


async def advance(sandbox: CollectionSandbox, days: int) -> None:
    await sandbox.control("POST", "/_sandbox/clock", {"advance_days": days})


async def hand_over(api: Api, ref: str, start_step: str, **claim_fields: Any) -> str:
    await api("PUT", f"/v1/claims/{ref}", claim(**claim_fields))
    reply = await api("POST", f"/v1/claims/{ref}/handover", {"start_step": start_step})
    assert reply.status == 202, reply.body
    return str(reply.body["case_id"])


async def test_company_claim_from_notice_to_court_claim(
    collection_sandbox: CollectionSandbox,
) -> None:
    sandbox = collection_sandbox
    api = await account_api(sandbox)
    await api("PUT", "/v1/debtors/C1", debtor())
    case_id = await hand_over(api, "1001", "collection_notice")
    await advance(sandbox, 10)
    await advance(sandbox, 30)
    case = (await api("GET", f"/v1/cases/{case_id}")).body
    assert case["step"] == "court_claim" and case["status"] == "open"
    letters = [(e["kind"], e["_on"], e["channel"]) for e in events(sandbox, "letter.sent")]
    assert letters == [
        ("collection_notice", "2024-03-01", "email"),
        ("collection_letter", "2024-03-11", "email"),
        ("court_claim", "2024-04-10", "email"),
    ]
    # DKK 310 compensation (company) + DKK 100 collection fee; no fee for the notice itself.
    assert case["amounts"]["fees"] == {"charged": 41_000, "paid": 0, "remaining": 41_000}
    expected_interest = interest(1_000_000, [("2024-02-01", "2024-04-10", RATE_2024_H1)])
    assert case["amounts"]["interest"]["accrued"] == expected_interest == 22_212
    assert case["amounts"]["principal"] == {
        "original": 1_000_000,
        "paid": 0,
        "remaining": 1_000_000,
    }
    steps = [(e["from_step"], e["to_step"], e["_on"]) for e in events(sandbox, "case.step_changed")]
    assert steps == [
        ("collection_notice", "collection_letter", "2024-03-11"),
        ("collection_letter", "court_claim", "2024-04-10"),
    ]
    paid = await sandbox.control(
        "POST", "/_sandbox/payments", {"case_id": case_id, "amount": 60_000}
    )
    assert paid["allocations"] == [
        {"claim_ref": "1001", "principal": 0, "interest": 19_000, "fees": 41_000}
    ]
    assert paid["source"] == "collector" and paid["paid_on"] == "2024-04-10"
    after = (await api("GET", f"/v1/cases/{case_id}")).body["amounts"]
    assert after["fees"]["remaining"] == 0
    assert after["interest"] == {"accrued": 22_212, "paid": 19_000, "remaining": 3_212}


async def test_person_claim_reminders_spacing_and_fees(
    collection_sandbox: CollectionSandbox,
) -> None:
    sandbox = collection_sandbox
    api = await account_api(sandbox)
    await api("PUT", "/v1/debtors/C1", debtor(**PERSON, channels=["eboks", "letter"]))
    case_id = await hand_over(api, "1001", "reminder_1", remaining_amount=500_000)
    await advance(sandbox, 75)
    letters = [(e["kind"], e["_on"]) for e in events(sandbox, "letter.sent")]
    assert [kind for kind, _ in letters] == [
        "reminder_1",
        "reminder_2",
        "reminder_3",
        "collection_notice",
        "collection_letter",
        "court_claim",
    ]
    dates = [dt.date.fromisoformat(on) for _, on in letters]
    gaps = [(b - a).days for a, b in itertools.pairwise(dates)]
    assert gaps == [10, 10, 10, 10, 30]  # notice 10 days after the last reminder, deadline 10 days
    # A person without CVR has no e-Boks business mailbox here: falls back to the letter.
    assert {e["channel"] for e in events(sandbox, "letter.sent")} == {"letter"}
    case = (await api("GET", f"/v1/cases/{case_id}")).body
    assert case["amounts"]["fees"]["charged"] == 3 * 10_000 + 10_000  # no compensation for a person
    expected = interest(500_000, [("2024-02-01", "2024-05-15", RATE_2024_H1)])
    assert case["amounts"]["interest"]["accrued"] == expected
    kinds = [t["kind"] for t in case["timeline"]]
    assert kinds.count("letter_sent") == 6


async def test_interest_across_the_july_fixing_and_no_fees_outside_dkk(
    collection_sandbox: CollectionSandbox,
) -> None:
    sandbox = collection_sandbox
    api = await account_api(sandbox)
    await api("PUT", "/v1/debtors/C1", debtor())
    await advance(sandbox, 111)  # 2024-06-20
    case_id = await hand_over(
        api, "E1", "reminder_1", currency="EUR", due_on="2024-06-01", remaining_amount=123_457
    )
    await advance(sandbox, 30)  # 2024-07-20
    case = (await api("GET", f"/v1/cases/{case_id}")).body
    assert case["currency"] == "EUR" and case["step"] == "collection_notice"
    assert case["amounts"]["fees"]["charged"] == 0
    expected = interest(
        123_457,
        [("2024-06-01", "2024-07-01", RATE_2024_H1), ("2024-07-01", "2024-07-20", RATE_2024_H2)],
    )
    assert case["amounts"]["interest"]["accrued"] == expected


async def test_allocation_oldest_due_date_first(collection_sandbox: CollectionSandbox) -> None:
    sandbox = collection_sandbox
    api = await account_api(sandbox)
    await api("PUT", "/v1/debtors/C1", debtor(**PERSON))
    first = await hand_over(
        api, "B", "collection_notice", due_on="2024-02-01", remaining_amount=200_000
    )
    second = await hand_over(
        api, "A", "collection_notice", due_on="2024-01-15", remaining_amount=100_000
    )
    assert first == second  # one debtor, one currency: one case
    other_currency = await hand_over(api, "E", "collection_notice", currency="EUR")
    assert other_currency != first
    interest_a = interest(100_000, [("2024-01-15", "2024-03-01", RATE_2024_H1)])
    interest_b = interest(200_000, [("2024-02-01", "2024-03-01", RATE_2024_H1)])
    paid = await sandbox.control(
        "POST", "/_sandbox/payments", {"case_id": first, "amount": 150_000}
    )
    left = 150_000 - interest_a - 100_000
    assert paid["allocations"] == [
        {"claim_ref": "A", "principal": 100_000, "interest": interest_a, "fees": 0},
        {"claim_ref": "B", "principal": left - interest_b, "interest": interest_b, "fees": 0},
    ]
    case = (await api("GET", f"/v1/cases/{first}")).body
    assert case["amounts"]["principal"]["remaining"] == 300_000 - 100_000 - (left - interest_b)
    rest = sum(part["remaining"] for part in case["amounts"].values())
    await sandbox.control("POST", "/_sandbox/payments", {"case_id": first, "amount": rest})
    closed = (await api("GET", f"/v1/cases/{first}")).body
    assert (closed["status"], closed["closed_reason"]) == ("closed", "paid")
    assert events(sandbox, "case.closed")[0]["reason"] == "paid"
    claim_state = await api(
        "PUT", "/v1/claims/A", claim(due_on="2024-01-15", remaining_amount=100_000)
    )
    assert claim_state.body["state"] == "closed"


async def test_write_off(collection_sandbox: CollectionSandbox) -> None:
    sandbox = collection_sandbox
    api = await account_api(sandbox)
    await api("PUT", "/v1/debtors/C1", debtor())
    case_id = await hand_over(api, "1001", "collection_notice", remaining_amount=400_000)
    await sandbox.control("POST", "/_sandbox/payments", {"case_id": case_id, "amount": 100_000})
    await sandbox.control("POST", f"/_sandbox/cases/{case_id}/write-off")
    closed = events(sandbox, "case.closed")[0]
    assert closed["reason"] == "written_off"
    # 100 000 paid: compensation 31 000 and interest first, the rest on the principal.
    paid_interest = interest(400_000, [("2024-02-01", "2024-03-01", RATE_2024_H1)])
    principal_left = 400_000 - (100_000 - 31_000 - paid_interest)
    assert closed["write_offs"] == [{"claim_ref": "1001", "principal": principal_left}]
    case = (await api("GET", f"/v1/cases/{case_id}")).body
    assert (case["status"], case["closed_reason"]) == ("closed", "written_off")
    async with sandbox.session.post(f"{sandbox.url}/_sandbox/cases/{case_id}/write-off") as resp:
        assert resp.status == 409


async def test_withdraw_closes_the_case_as_withdrawn(collection_sandbox: CollectionSandbox) -> None:
    sandbox = collection_sandbox
    api = await account_api(sandbox)
    await api("PUT", "/v1/debtors/C1", debtor())
    case_id = await hand_over(api, "1001", "reminder_1")
    reply = await api("POST", "/v1/claims/1001/withdraw", {"reason": "disputed"})
    assert reply.status == 200 and reply.body["state"] == "closed"
    again = await api("POST", "/v1/claims/1001/withdraw", {"reason": "disputed"})
    assert again.status == 200
    case = (await api("GET", f"/v1/cases/{case_id}")).body
    assert case["closed_reason"] == "withdrawn"
    bad = await api("POST", "/v1/claims/1001/withdraw", {"reason": "bored"})
    assert bad.status == 422


async def test_debtor_without_a_usable_channel_is_rejected(
    collection_sandbox: CollectionSandbox,
) -> None:
    sandbox = collection_sandbox
    api = await account_api(sandbox)
    await api("PUT", "/v1/debtors/C1", debtor(**PERSON, email=None, channels=["sms"]))
    await api("PUT", "/v1/claims/1001", claim())
    reply = await api("POST", "/v1/claims/1001/handover", {"start_step": "reminder_1"})
    assert reply.status == 202 and reply.body["case_id"] is None
    rejected = events(sandbox, "claim.rejected")
    assert rejected[0]["claim_ref"] == "1001" and rejected[0]["code"] == "no_usable_channel"


async def test_case_list_paging_and_updated_after(collection_sandbox: CollectionSandbox) -> None:
    sandbox = collection_sandbox
    api = await account_api(sandbox)
    for ref in ("C1", "C2", "C3"):
        await api("PUT", f"/v1/debtors/{ref}", debtor())
        await hand_over(api, f"I-{ref}", "reminder_1", debtor_ref=ref)
    seen: list[str] = []
    path = "/v1/cases?limit=2"
    while True:
        page = (await api("GET", path)).body
        seen += [c["id"] for c in page["items"]]
        if "next_cursor" not in page:
            break
        path = f"/v1/cases?limit=2&cursor={page['next_cursor']}"
    assert len(seen) == len(set(seen)) == 3
    mark = (await api("GET", "/v1/cases")).body["items"][-1]["updated_at"]
    assert (await api("GET", "/v1/cases", headers=None)).status == 200
    newer = (await api("GET", f"/v1/cases?updated_after={mark}")).body
    assert newer["items"] == []
    await advance(sandbox, 10)
    changed = (await api("GET", f"/v1/cases?updated_after={mark}")).body
    assert len(changed["items"]) == 3 and all(c["step"] == "reminder_2" for c in changed["items"])
