"""A debtor's personal data (issue 13, item 5) against both simulators on SQLite and
PostgreSQL: the export holds everything we keep about the customer; the erase takes the
personal data and keeps the money trail, so the reconciliation report does not move by one
øre; both are in the audit log without personal data; only the company's admins may ask."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from sync.retention import MONEY_TRAIL
from sync.store.audit import AuditLog
from sync.store.problems import Problems
from tests.integration.sync.support import Company, control, running_company
from tests.integration.sync.test_pushback import (
    SETTINGS,
    TODAY,
    api,
    arrives,
    case_event,
    collector_receives,
    handed_over,
    pushed,
)
from tests.integration.sync.test_reconciliation import reachable


async def book(company: Company, customer: int, *, amount: str, text: str) -> int:
    """An overdue invoice of one line (25 % VAT) whose text names the debtor, as bookkeepers'
    lines often do; its number."""
    due = TODAY - dt.timedelta(days=30)
    document = await control(
        company,
        company.economic.url,
        "POST",
        "/_sandbox/invoices",
        {
            "agreement": company.agreement,
            "customer_number": customer,
            "currency": "DKK",
            "date": (due - dt.timedelta(days=14)).isoformat(),
            "due_date": due.isoformat(),
            "lines": [
                {"description": text, "quantity": 1, "unit_price": Decimal(amount), "vat_rate": 25}
            ],
        },
    )
    return int(document["bookedInvoiceNumber"])


def personal_values(company: Company, customer: int) -> list[str]:
    """The debtor's name, address, e-mail, phone numbers, CVR and EAN as the ledger has them."""
    c = company.ledger.customers[customer]
    values = [c.name, c.email, c.address, c.phone, c.mobile, c.cvr, c.ean]
    return [v for v in values if v and len(v) >= 4]


async def test_export_then_erase_keeps_the_money_trail_to_the_ore(database_url: str) -> None:
    settings = {**SETTINGS, "barred_on_close": True}
    async with running_company(database_url, invoices=0, settings=settings) as company:
        customer, neighbour = reachable(company, 2)
        debtor = company.ledger.customers[customer]
        number = await book(company, customer, amount="800.00", text=f"Rengøring hos {debtor.name}")
        other = await book(company, neighbour, amount="300.00", text="Vinduespudsning")
        case_id = await handed_over(company, number)
        payment = await collector_receives(company, case_id, 25_000)
        await pushed(company, payment)
        await control(
            company, company.collection.url, "POST", f"/_sandbox/cases/{case_id}/write-off"
        )
        assert await arrives(company, await case_event(company, "case.closed", case_id)) == (
            "written_off"
        )
        await company.settle()
        bridge = company.bridge
        admin = await bridge.person("admin@example.com", [(company.installation, "admin")])
        status, listed = await api(company, "GET", "write-offs", admin)
        (proposal,) = listed["items"]
        status, body = await api(company, "POST", f"write-offs/{proposal['id']}/approve", admin)
        assert status == 202, body
        await company.settle()
        # A platform's refusal that quoted the debtor, kept as a problem.
        await Problems(bridge.db).record(
            installation_id=company.installation.id,
            category="rejected_by_collector",
            code="debtor_rejected",
            subject=f"debtor:{customer}",
            message=f"The collection platform refused debtor {customer}: {debtor.email} bounced",
            detail={"email": debtor.email},
            now=bridge.clock(),
        )
        status, report_before = await api(company, "GET", "reconciliation?month=2026-11", admin)
        assert status == 200 and report_before["payments"] and report_before["write_offs"]

        status, held = await api(
            company, "GET", f"debtors/{customer}/export", admin, shape="DebtorExport"
        )
        assert status == 200, held
        assert (held["agreement_number"], held["customer_number"]) == (company.agreement, customer)
        assert held["customer"]["customer_number"] == customer
        assert held["customer"]["fingerprint"]
        (claim,) = held["claims"]
        assert (claim["invoice_number"], claim["state"], claim["gross_amount"]) == (
            number,
            "closed",
            100_000,
        )
        assert debtor.name in json.dumps(claim["document"], ensure_ascii=False)
        assert {e["kind"] for e in held["timeline"]} >= {"case_closed"}
        operations = sorted(w["operation"] for w in held["outbox"])
        assert operations == ["customer.barred", "voucher.payment", "voucher.writeoff"]
        assert [w["case_id"] for w in held["writeoffs"]] == [case_id]
        assert [p["subject"] for p in held["problems"]] == [f"debtor:{customer}"]
        assert held["erasures"] == [] and isinstance(held["documents"], list)
        assert other not in [c["invoice_number"] for c in held["claims"]]

        guest = await bridge.person("guest@example.com", [(company.installation, "guest")])
        worker = await bridge.person("case@example.com", [(company.installation, "caseworker")])
        elsewhere = await bridge.company(company.agreement + 1)
        stranger = await bridge.person("stranger@example.com", [(elsewhere, "admin")])
        for path, method in (
            (f"debtors/{customer}/export", "GET"),
            (f"debtors/{customer}/erase", "POST"),
        ):
            for token in (guest, worker):
                status, body = await api(company, method, path, token)
                assert (status, body["code"]) == (403, "role_required"), body
            status, body = await api(company, method, path, stranger)
            assert status == 404, body
        status, body = await api(company, "POST", "debtors/999999/erase", admin)
        assert (status, body["code"]) == (404, "debtor_not_found")

        status, erased = await api(
            company, "POST", f"debtors/{customer}/erase", admin, shape="DebtorErased"
        )
        assert status == 200, erased
        assert erased["pseudonym"].startswith("erased-") and erased["claims"] == 1
        assert erased["problems"] == 1

        status, after = await api(
            company, "GET", f"debtors/{customer}/export", admin, shape="DebtorExport"
        )
        assert status == 200, after
        text = json.dumps(after, ensure_ascii=False)
        for value in personal_values(company, customer):
            assert value not in text, value
        (kept,) = after["claims"]
        assert set(kept["document"]) <= set(MONEY_TRAIL)
        for key in ("gross_amount", "remaining", "remaining_base", "state", "due_date", "case_id"):
            assert kept[key] == claim[key], key
        for key in ("gross_amount", "net_amount", "vat_amount", "remaining_amount"):
            assert kept["document"][key] == claim["document"][key], key
        assert after["customer"]["fingerprint"] is None
        assert after["customer"]["barred"] == held["customer"]["barred"]
        assert [w["idempotency_key"] for w in after["outbox"]] == [
            w["idempotency_key"] for w in held["outbox"]
        ]
        assert erased["pseudonym"] in after["problems"][0]["message"]
        assert after["problems"][0]["detail"] == {}
        (erasure,) = after["erasures"]
        assert (erasure["actor"], erasure["pseudonym"]) == (
            "admin@example.com",
            erased["pseudonym"],
        )

        status, report_after = await api(company, "GET", "reconciliation?month=2026-11", admin)
        assert status == 200 and report_after == report_before
        # The neighbour's data is untouched.
        status, theirs = await api(company, "GET", f"debtors/{neighbour}/export", admin)
        assert "Vinduespudsning" in json.dumps(theirs, ensure_ascii=False)

        entries = await AuditLog(bridge.db).list(company.installation.id)
        ours = [e for e in entries if e.action.startswith("debtor.")]
        assert [e.action for e in ours] == [
            "debtor.exported",
            "debtor.erased",
            "debtor.exported",
            "debtor.exported",
        ]
        assert all(e.actor == "admin@example.com" for e in ours)
        assert [e.detail["debtor"] for e in ours[:3]] == [erased["pseudonym"]] * 3
        assert ours[3].detail["debtor"].startswith("erased-")  # the neighbour's own
        assert ours[3].detail["debtor"] != erased["pseudonym"]
        for entry in ours:
            assert set(entry.detail) <= {"debtor", "claims", "problems"}  # counts, no number
            shown = json.dumps(entry.detail, ensure_ascii=False)
            for value in personal_values(company, customer):
                assert value not in shown
