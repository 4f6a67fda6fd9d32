"""Mapping ledger records to debtors and claims, fingerprints, and what leaves the ledger."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.clients.economic_types import (
    BookedInvoice,
    Customer,
    CustomerGroupRef,
    CustomerRef,
    InvoiceLine,
    Notes,
    Unit,
)
from sync.company_settings import CompanySettings
from sync.mapping import (
    Mapped,
    claim_of,
    country_code,
    debtor_of,
    fingerprint,
    language_of,
    leaves_ledger,
    select_page,
    today_in_copenhagen,
    vat_rate_of,
)
from sync.money import to_minor

SETTINGS = CompanySettings(business_customer_groups=(2,))
TODAY = dt.date(2026, 10, 15)


def customer(**fields: object) -> Customer:
    base: dict[str, object] = {
        "customer_number": 42,
        "name": "Jens  Hansen",
        "currency": "DKK",
        "address": "Nørregade 7",
        "zip": "8000",
        "city": "Aarhus C",
        "country": "Danmark",
        "balance": Decimal("1250.00"),
        "due_amount": Decimal("1250.00"),
    }
    return Customer(**{**base, **fields})  # type: ignore[arg-type]


def invoice(**fields: object) -> BookedInvoice:
    base: dict[str, object] = {
        "booked_invoice_number": 10001,
        "date": dt.date(2026, 9, 1),
        "due_date": dt.date(2026, 9, 15),
        "currency": "DKK",
        "net_amount": Decimal("1000.00"),
        "vat_amount": Decimal("250.00"),
        "gross_amount": Decimal("1250.00"),
        "gross_amount_in_base_currency": Decimal("1250.00"),
        "remainder": Decimal("1250.00"),
        "remainder_in_base_currency": Decimal("1250.00"),
        "customer": CustomerRef(customer_number=42),
    }
    return BookedInvoice(**{**base, **fields})  # type: ignore[arg-type]


def credit_note(number: int, customer_number: int, remainder: str = "-125.00") -> BookedInvoice:
    return invoice(
        booked_invoice_number=number,
        due_date=None,
        net_amount=Decimal("-100.00"),
        vat_amount=Decimal("-25.00"),
        gross_amount=Decimal("-125.00"),
        remainder=Decimal(remainder),
        remainder_in_base_currency=Decimal(remainder),
        customer=CustomerRef(customer_number=customer_number),
    )


def mapped_debtor(**fields: object):
    debtor, problems = debtor_of(customer(**fields), SETTINGS)
    assert debtor is not None, problems
    return debtor, problems


# -- debtors ---------------------------------------------------------------------------------


def test_a_danish_person_is_written_to_by_email_sms_and_letter_in_danish() -> None:
    debtor, problems = mapped_debtor(email=" jens@example.dk ", mobile_phone="+45 20 30 40 50")
    assert problems == ()
    assert debtor.kind == "person"
    assert debtor.name == "Jens Hansen"
    assert debtor.address.country == "DK" and debtor.address.street == "Nørregade 7"
    assert debtor.language == "da"
    assert debtor.email == "jens@example.dk"
    assert debtor.phone == "+45 20 30 40 50"
    assert debtor.channels == ("email", "sms", "letter")
    assert debtor.cvr is None and debtor.ean is None


def test_a_danish_cvr_opens_nemhandel_and_eboks_first() -> None:
    debtor, _ = mapped_debtor(corporate_identification_number="12345674", email="a@b.dk")
    assert debtor.kind == "company" and debtor.cvr == "12345674"
    assert debtor.channels == ("nemhandel", "eboks", "email", "letter")


def test_an_ean_alone_makes_a_company_on_nemhandel() -> None:
    debtor, _ = mapped_debtor(ean="5790000123456")
    assert debtor.kind == "company" and debtor.ean == "5790000123456"
    assert debtor.channels == ("nemhandel", "letter")


def test_a_business_customer_group_makes_a_company_without_identifiers() -> None:
    debtor, _ = mapped_debtor(customer_group=CustomerGroupRef(customer_group_number=2))
    assert debtor.kind == "company"
    assert debtor.channels == ("letter",)
    other, _ = mapped_debtor(customer_group=CustomerGroupRef(customer_group_number=3))
    assert other.kind == "person"


def test_a_norwegian_organisation_number_opens_ehf_not_the_danish_networks() -> None:
    debtor, _ = mapped_debtor(
        corporate_identification_number="923609016", country="Norge", city="Oslo", zip="0150"
    )
    assert debtor.address.country == "NO" and debtor.language == "nb"
    assert debtor.channels == ("ehf", "letter")


def test_a_swedish_org_number_opens_no_e_invoice_channel() -> None:
    debtor, _ = mapped_debtor(corporate_identification_number="5560360793", country="Sverige")
    assert debtor.kind == "company" and debtor.language == "sv"
    assert debtor.channels == ("letter",)


def test_the_landline_is_the_phone_when_there_is_no_mobile_but_opens_no_sms() -> None:
    debtor, _ = mapped_debtor(telephone_and_fax_number="86 12 34 56")
    assert debtor.phone == "86 12 34 56"
    assert debtor.channels == ("letter",)


def test_channels_follow_the_creditors_priority_and_list() -> None:
    settings = CompanySettings(channels=("letter", "email"))
    debtor, _ = debtor_of(customer(email="a@b.dk", mobile_phone="20304050"), settings)
    assert debtor is not None and debtor.channels == ("letter", "email")


def test_no_channel_the_creditor_allows_is_reported_and_the_platform_order_used() -> None:
    settings = CompanySettings(channels=("ehf",))
    debtor, problems = debtor_of(customer(email="a@b.dk"), settings)
    assert debtor is not None and debtor.channels is None
    assert [p.code for p in problems] == ["no_preferred_channel"]


def test_a_blank_country_is_the_home_country() -> None:
    debtor, _ = mapped_debtor(country="  ")
    assert debtor.address.country == "DK"
    swedish, _ = debtor_of(customer(country=None), SETTINGS, home_country="SE")
    assert swedish is not None and swedish.address.country == "SE" and swedish.language == "sv"


def test_an_unknown_country_is_a_problem_not_a_guess() -> None:
    debtor, problems = debtor_of(customer(country="Atlantis"), SETTINGS)
    assert debtor is None
    assert [(p.code, p.subject, p.category) for p in problems] == [
        ("unknown_country", "customer:42", "missing_data")
    ]
    assert "Atlantis" in problems[0].message


def test_a_customer_nobody_can_write_to_is_a_problem_returned_not_raised() -> None:
    result = debtor_of(customer(address=None, zip="", city=None, country=None), SETTINGS)
    assert isinstance(result, Mapped) and result.value is None and not result.ok
    (problem,) = result.problems
    assert problem.code == "no_contact"
    assert problem.message == (
        "Customer 42 has neither address nor e-mail: the collector cannot write to them"
    )


def test_a_blank_name_is_a_problem() -> None:
    debtor, problems = debtor_of(customer(name="  "), SETTINGS)
    assert debtor is None and [p.code for p in problems] == ["missing_name"]


def test_an_incomplete_address_with_an_email_is_its_own_problem() -> None:
    debtor, problems = debtor_of(customer(city=None, email="a@b.dk"), SETTINGS)
    assert debtor is None
    assert [p.code for p in problems] == ["incomplete_address"]


def test_only_the_fields_the_collector_needs_leave() -> None:
    debtor, _ = mapped_debtor(
        corporate_identification_number="12345674",
        email="a@b.dk",
        mobile_phone="20304050",
        public_entry_number="5790000123456",
        customer_group=CustomerGroupRef(customer_group_number=2),
    )
    sent = msgspec.to_builtins(debtor)
    assert set(sent) <= {
        "name", "kind", "cvr", "ean", "email", "phone", "address", "language", "channels",
    }  # fmt: skip
    assert set(sent["address"]) == {"street", "zip", "city", "country"}


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Danmark", "DK"), ("Denmark", "DK"), ("danmark.", "DK"), ("DK", "DK"),
        ("Sverige", "SE"), ("Norge", "NO"), ("Deutschland", "DE"), ("Tyskland", "DE"),
        ("Holland", "NL"), ("Irland", "IE"), ("Finland", "FI"), ("United  Kingdom", "GB"),
        ("Atlantis", None), ("", None),
    ],
)  # fmt: skip
def test_country_names(name: str, code: str | None) -> None:
    assert country_code(name) == code


def test_languages_by_country() -> None:
    assert [language_of(c) for c in ("DK", "SE", "NO", "DE", "GL")] == [
        "da",
        "sv",
        "nb",
        "en",
        "da",
    ]


# -- claims ----------------------------------------------------------------------------------


def test_an_invoice_becomes_a_claim_in_its_own_currency_with_its_lines() -> None:
    lines = (
        InvoiceLine(
            line_number=1,
            description="Konsulenttimer",
            quantity=Decimal("1.50"),
            unit=Unit(name="timer"),
            unit_net_price=Decimal("600.00"),
            total_net_amount=Decimal("900.00"),
        ),
        InvoiceLine(
            line_number=2,
            description="Kørsel",
            quantity=Decimal("1"),
            unit_net_price=Decimal("100"),
            total_net_amount=Decimal("100.00"),
        ),
    )
    draft, problems = claim_of(
        invoice(lines=lines, notes=Notes(heading=" Rådgivning september ")), base_currency="DKK"
    )
    assert problems == () and draft is not None
    claim = draft.claim
    assert (claim.kind, claim.debtor_ref, claim.invoice_number) == ("invoice", "42", 10001)
    assert (claim.issued_on, claim.due_on) == (dt.date(2026, 9, 1), dt.date(2026, 9, 15))
    assert (claim.net_amount, claim.vat_amount, claim.gross_amount) == (100000, 25000, 125000)
    assert claim.remaining_amount == 125000 and draft.remaining_base == 125000
    assert claim.description == "Rådgivning september"
    first, second = claim.lines or ()
    assert (first.quantity, first.unit, first.unit_price, first.amount) == (
        "1.50", "timer", "600.00", 90000,
    )  # fmt: skip
    assert (second.quantity, second.unit, second.unit_price) == ("1", "", "100.00")
    assert first.vat_rate == second.vat_rate == 25.0
    assert draft.customer_number == 42


def test_a_claim_without_lines_or_notes_sends_neither() -> None:
    draft, _ = claim_of(invoice(), base_currency="DKK")
    assert draft is not None
    assert draft.claim.lines is None and draft.claim.description is None
    assert "lines" not in msgspec.to_builtins(draft.claim)


def test_a_credit_note_keeps_its_negative_amounts_and_falls_due_on_its_date() -> None:
    draft, problems = claim_of(credit_note(20001, 42), base_currency="DKK")
    assert problems == () and draft is not None
    claim = draft.claim
    assert claim.kind == "credit_note"
    assert claim.due_on == claim.issued_on == dt.date(2026, 9, 1)
    assert (claim.net_amount, claim.vat_amount, claim.gross_amount) == (-10000, -2500, -12500)
    assert claim.remaining_amount == -12500


def test_an_invoice_without_a_due_date_is_a_problem() -> None:
    draft, problems = claim_of(invoice(due_date=None), base_currency="DKK")
    assert draft is None
    assert [(p.code, p.subject) for p in problems] == [("missing_due_date", "invoice:10001")]


def test_a_foreign_invoice_is_in_its_currency_with_the_remaining_in_base() -> None:
    draft, _ = claim_of(
        invoice(
            currency="EUR",
            net_amount=Decimal("100.00"),
            vat_amount=Decimal("0.00"),
            gross_amount=Decimal("100.00"),
            remainder=Decimal("60.00"),
            remainder_in_base_currency=Decimal("447.51"),
        ),
        base_currency="DKK",
    )
    assert draft is not None
    assert draft.claim.currency == "EUR" and draft.claim.remaining_amount == 6000
    assert draft.remaining_base == 44751
    assert draft.claim.gross_amount == 10000


def test_a_base_currency_invoice_without_remainder_in_base_is_its_own_remainder() -> None:
    draft, _ = claim_of(invoice(remainder_in_base_currency=Decimal(0)), base_currency="DKK")
    assert draft is not None and draft.remaining_base == 125000


def test_iceland_has_no_minor_unit() -> None:
    draft, _ = claim_of(
        invoice(
            currency="ISK",
            net_amount=Decimal("8000"),
            vat_amount=Decimal("1920"),
            gross_amount=Decimal("9920"),
            remainder=Decimal("9920"),
        ),
        base_currency="DKK",
    )
    assert draft is not None
    assert (draft.claim.gross_amount, draft.claim.vat_amount) == (9920, 1920)
    assert draft.claim.lines is None


@pytest.mark.parametrize(
    ("currency", "base"), [("XYZ", "DKK"), ("EUR", "XYZ")], ids=["invoice", "base"]
)
def test_an_unknown_currency_is_a_problem_not_a_guess(currency: str, base: str) -> None:
    draft, problems = claim_of(invoice(currency=currency), base_currency=base)
    assert draft is None
    assert [(p.code, p.detail) for p in problems] == [("unknown_currency", {"currency": "XYZ"})]


@pytest.mark.parametrize(
    ("net", "vat", "rate"),
    [
        (100000, 25000, 25.0), (100000, 24990, 25.0), (0, 0, 0.0), (100000, 0, 0.0),
        (20000, 3100, 15.5), (10000, 1200, 12.0), (-10000, -2500, 25.0), (10000, -2500, 0.0),
        (10000, 2550, 25.5),
    ],
)  # fmt: skip
def test_vat_rate_from_the_totals(net: int, vat: int, rate: float) -> None:
    assert vat_rate_of(net, vat) == rate


amounts = st.decimals(
    min_value=Decimal("-1000000"), max_value=Decimal("1000000"), places=2, allow_nan=False
)


@given(
    currency=st.sampled_from(["DKK", "EUR", "ISK", "JPY"]),
    net=amounts,
    vat=amounts,
    remainder=amounts,
    base_remainder=amounts,
    price=st.decimals(min_value=0, max_value=10000, places=4, allow_nan=False),
)
def test_claim_amounts_are_the_minor_units_of_the_invoice_decimals(
    currency: str,
    net: Decimal,
    vat: Decimal,
    remainder: Decimal,
    base_remainder: Decimal,
    price: Decimal,
) -> None:
    gross = net + vat
    line = InvoiceLine(line_number=1, unit_net_price=price, total_net_amount=net)
    draft, problems = claim_of(
        invoice(
            currency=currency,
            net_amount=net,
            vat_amount=vat,
            gross_amount=gross,
            remainder=remainder,
            remainder_in_base_currency=base_remainder,
            lines=(line,),
        ),
        base_currency="SEK",
    )
    assert problems == () and draft is not None
    claim = draft.claim
    assert claim.net_amount == to_minor(net, currency)
    assert claim.vat_amount == to_minor(vat, currency)
    assert claim.gross_amount == to_minor(gross, currency)
    assert claim.remaining_amount == to_minor(remainder, currency)
    assert draft.remaining_base == to_minor(base_remainder, "SEK")
    assert (claim.lines or ())[0].amount == to_minor(net, currency)
    assert Decimal((claim.lines or ())[0].unit_price) == Decimal(to_minor(price, currency)).scaleb(
        -(2 if currency in ("DKK", "EUR") else 0)
    )
    assert claim.kind == ("credit_note" if gross < 0 else "invoice")


# -- fingerprints ----------------------------------------------------------------------------


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=12,
)


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6), st.randoms())
def test_a_fingerprint_ignores_dict_order(document: dict, rng) -> None:
    def shuffled(value):
        if isinstance(value, dict):
            items = list(value.items())
            rng.shuffle(items)
            return {k: shuffled(v) for k, v in items}
        if isinstance(value, list):
            return [shuffled(v) for v in value]
        return value

    assert fingerprint(shuffled(document)) == fingerprint(document)


def test_a_fingerprint_names_the_content_not_the_object() -> None:
    debtor, _ = mapped_debtor(email="a@b.dk")
    print_ = fingerprint(debtor)
    assert len(print_) == 32 and int(print_, 16) >= 0
    assert fingerprint(msgspec.to_builtins(debtor)) == print_
    assert fingerprint(mapped_debtor(email="a@b.dk")[0]) == print_
    assert fingerprint(mapped_debtor(email="c@b.dk")[0]) != print_
    draft, _ = claim_of(invoice(), base_currency="DKK")
    paid, _ = claim_of(invoice(remainder=Decimal("0.00")), base_currency="DKK")
    assert draft is not None and paid is not None
    assert fingerprint(draft.claim) != fingerprint(paid.claim)


# -- what leaves the ledger ------------------------------------------------------------------


def test_today_is_the_date_in_copenhagen() -> None:
    late_utc = dt.datetime(2026, 10, 14, 22, 30, tzinfo=dt.UTC)  # 00:30 CEST on the 15th
    assert today_in_copenhagen(late_utc) == dt.date(2026, 10, 15)
    winter = dt.datetime(2026, 12, 31, 22, 59, tzinfo=dt.UTC)  # 23:59 CET
    assert today_in_copenhagen(winter) == dt.date(2026, 12, 31)
    with pytest.raises(ValueError, match="aware"):
        today_in_copenhagen(dt.datetime(2026, 10, 15, 12, 0))


@pytest.mark.parametrize(
    ("due", "remainder", "leaves"),
    [
        (TODAY - dt.timedelta(days=1), "1250.00", True),
        (TODAY, "1250.00", False),  # due today is not overdue
        (TODAY + dt.timedelta(days=5), "1250.00", False),
        (TODAY - dt.timedelta(days=30), "0.00", False),  # paid
        (TODAY - dt.timedelta(days=30), "0.01", True),
        (TODAY - dt.timedelta(days=30), "-5.00", False),  # overpaid: nothing owed
        (None, "1250.00", False),
    ],
)
def test_an_invoice_leaves_once_overdue_and_owed(
    due: dt.date | None, remainder: str, leaves: bool
) -> None:
    item = invoice(due_date=due, remainder=Decimal(remainder))
    assert leaves_ledger(item, today=TODAY, customers_with_claims=set()) is leaves


def test_a_credit_note_leaves_only_with_its_customers_claims() -> None:
    note = credit_note(20001, 42)
    assert not leaves_ledger(note, today=TODAY, customers_with_claims={7})
    assert leaves_ledger(note, today=TODAY, customers_with_claims={42})
    settled = credit_note(20002, 42, remainder="0.00")
    assert not leaves_ledger(settled, today=TODAY, customers_with_claims={42})


def test_pages_fold_claims_customers_and_deferred_credit_notes() -> None:
    early_note = credit_note(20001, 42)
    lone_note = credit_note(20002, 99)
    first = select_page(
        [
            early_note,
            lone_note,
            invoice(booked_invoice_number=10001, customer=CustomerRef(customer_number=7)),
        ],
        today=TODAY,
        customers_with_claims=frozenset({5}),
    )
    assert [i.booked_invoice_number for i in first.claims] == [10001]
    assert first.customers == {5, 7} and first.new_customers == {7}
    assert first.credit_notes == () and set(first.deferred) == {early_note, lone_note}

    note_same_page = credit_note(20003, 8)
    second = select_page(
        [
            note_same_page,
            invoice(booked_invoice_number=10002),
            invoice(booked_invoice_number=10003, customer=CustomerRef(customer_number=8)),
            invoice(booked_invoice_number=10004, remainder=Decimal(0)),
        ],
        today=TODAY,
        customers_with_claims=first.customers,
        deferred=first.deferred,
    )
    assert [i.booked_invoice_number for i in second.claims] == [10002, 10003]
    assert second.new_customers == {42, 8}
    assert {n.booked_invoice_number for n in second.credit_notes} == {20001, 20003}
    assert second.deferred == (lone_note,)
    assert second.customers == {5, 7, 42, 8}


def test_a_customer_that_already_has_claims_is_not_new() -> None:
    page = select_page([invoice()], today=TODAY, customers_with_claims={42})
    assert page.new_customers == frozenset() and page.customers == {42}
