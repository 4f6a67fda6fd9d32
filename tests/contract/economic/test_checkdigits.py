"""Check digits (pure) and the seed generator's data quality."""

from __future__ import annotations

import datetime as dt
import re
import time

from sandbox.economic.checkdigits import cvr_is_valid, gln_is_valid, gs1_check_digit
from sandbox.economic.seed import generate


def test_known_cvr_numbers() -> None:
    assert cvr_is_valid("35954716")  # modulus-11 example
    assert not cvr_is_valid("35954717")
    assert not cvr_is_valid("05954716")
    assert not cvr_is_valid("1234567")


def test_known_gln_numbers() -> None:
    assert gs1_check_digit("579000000000") == 5  # 9·1 + 7·3 + 5·1 = 35
    assert gln_is_valid("5790000000005")
    assert gln_is_valid("4006381333931")  # the GS1 textbook EAN-13
    assert not gln_is_valid("4006381333932")


def test_seeded_identifiers_pass_their_checks() -> None:
    (company,) = generate(seed=7, companies=1, invoices=2000, today=dt.date(2026, 11, 23))
    assert cvr_is_valid(company.cvr)
    cvrs = [c.cvr for c in company.customers.values() if c.cvr]
    eans = [c.ean for c in company.customers.values() if c.ean]
    assert cvrs and eans
    assert all(cvr_is_valid(v) for v in cvrs)
    assert all(gln_is_valid(v) for v in eans)
    mobiles = [c.mobile for c in company.customers.values() if c.mobile]
    assert mobiles and all(re.fullmatch(r"\+45[2-9]\d{7}", m) for m in mobiles)
    emails = [c.email for c in company.customers.values() if c.email]
    assert all(re.fullmatch(r"[a-z0-9.]+@[a-z0-9.]+\.[a-z]+", e) for e in emails)


def test_seed_is_deterministic_and_realistic() -> None:
    today = dt.date(2026, 11, 23)
    a = generate(seed=3, companies=2, invoices=1500, today=today)
    b = generate(seed=3, companies=2, invoices=1500, today=today)
    assert [c.agreement for c in a] == [c.agreement for c in b]
    assert a[0].invoices == b[0].invoices
    invoices = list(a[0].invoices.values())
    grosses = {i.gross for i in invoices}
    assert 101999 in grosses and 7 in grosses  # awkward amounts 1019.99 and 0.07
    assert any(i.gross < 0 for i in invoices)  # credit notes
    assert any(0 < i.remainder < i.gross for i in invoices)  # partial payments
    assert any(i.remainder == 0 for i in invoices) and any(
        i.remainder > 0 and i.due_date < today for i in invoices
    )
    assert {i.currency for i in invoices} == {"DKK", "EUR", "ISK"}
    isk = [i for i in invoices if i.currency == "ISK"]
    assert 0.01 < len(isk) / len(invoices) < 0.10  # a few percent in a zero-decimal currency
    assert all(a[0].customers[i.customer].currency == "ISK" for i in isk)
    assert all(a[0].customers[i.customer].country == "Island" for i in isk)
    assert {y.year for y in a[1].years} >= {"2025/2026", "2026/2027"}  # a broken financial year


def test_hundred_thousand_invoices_generate_quickly() -> None:
    started = time.perf_counter()
    (company,) = generate(seed=1, companies=1, invoices=100_000, today=dt.date(2026, 11, 23))
    assert len(company.invoices) == 100_000
    assert time.perf_counter() - started < 10
