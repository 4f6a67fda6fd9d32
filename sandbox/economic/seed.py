"""A deterministic generator of realistic Danish e-conomic agreements.

``generate(seed=…, companies=…, invoices=…, today=…)`` always returns the same companies for the
same arguments. Each company gets customers (businesses with valid CVR numbers, public bodies with
GLN/EAN numbers, private persons, EUR customers abroad and a few Icelandic ones invoiced in ISK,
a currency without decimals), a chart of accounts, journals, payment terms and accounting years,
and ``invoices`` booked invoices spread over the 400 days before ``today``: paid, partly paid,
unpaid and overdue ones, credit notes (matched and open), and awkward totals such as 1019.99 and
0.07. 100,000 invoices take about a second.

About a third of the foreign customers become Icelandic (ISK, VAT zone "Abroad"), so a few
percent of the invoices are in ISK. That choice draws on a random stream of its own, keyed by
the agreement number: every other seeded value is what it was before ISK existed.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
from collections.abc import Sequence

from sandbox.economic import seednames as names
from sandbox.economic.checkdigits import cvr_check_digit, gs1_check_digit
from sandbox.economic.ledger import due_date, invoice_totals, make_line
from sandbox.economic.money import convert, exchange_rate
from sandbox.economic.reference import (
    chart_of_accounts,
    standard_journals,
    standard_payment_terms,
    years_around,
)
from sandbox.economic.state import Company, Customer, Invoice, PaymentTerms, Recipient

DEMO_AGREEMENT = 686918
ICELANDIC_SHARE = 1 / 3  # of the foreign customers


def generate(
    *,
    seed: int,
    companies: int,
    invoices: int | Sequence[int],
    today: dt.date,
    customers: int | None = None,
) -> list[Company]:
    """``invoices``: how many each company gets, one number for all or one per company (the
    last repeated); ``customers``: how many customers each company gets (default: one per eight
    invoices, at least 8 and at most 12,500)."""
    rng = random.Random(seed)
    agreements = sorted(rng.sample(range(1_000_000, 9_999_999), companies))
    sizes = [invoices] if isinstance(invoices, int) else list(invoices) or [0]
    return [
        generate_company(
            random.Random(f"{seed}:{i}"),
            agreement,
            sizes[min(i, len(sizes) - 1)],
            today,
            broken=i % 2 == 1,
            customers=customers,
        )
        for i, agreement in enumerate(agreements)
    ]


def generate_demo(today: dt.date) -> Company:
    company = generate_company(random.Random("demo"), DEMO_AGREEMENT, 40, today, broken=False)
    company.name = "Demo Aftale ApS"
    company.demo = True
    return company


def cvr(rng: random.Random) -> str:
    while True:
        first7 = str(rng.randrange(1_000_000, 10_000_000))
        digit = cvr_check_digit(first7)
        if digit is not None:
            return f"{first7}{digit}"


def gln(rng: random.Random) -> str:
    body = f"5790{rng.randrange(10**8):08d}"
    return f"{body}{gs1_check_digit(body)}"


def mobile(rng: random.Random) -> str:
    return f"+45{rng.choice(names.MOBILE_PREFIXES)}{rng.randrange(10**6):06d}"


def ascii_mail(text: str) -> str:
    table = str.maketrans(
        {
            "æ": "ae",
            "ø": "oe",
            "å": "aa",
            "é": "e",
            "ü": "ue",
            "ö": "oe",
            "ä": "ae",
            "ð": "d",
            "þ": "th",
            "á": "a",
            "í": "i",
            "ó": "o",
            "ú": "u",
            " ": ".",
            "&": "og",
            "'": "",
            "/": "",
            "-": "",
        }
    )
    return text.lower().translate(table).replace("..", ".").strip(".")


def generate_company(
    rng: random.Random,
    agreement: int,
    invoices: int,
    today: dt.date,
    *,
    broken: bool,
    customers: int | None = None,
) -> Company:
    zip_code, city = rng.choice(names.TOWNS)
    name = f"{rng.choice(names.COMPANY_STEMS)}{rng.choice(names.COMPANY_TAILS)} ApS"
    company = Company(
        agreement=agreement,
        name=name,
        cvr=cvr(rng),
        email=f"bogholderi@{ascii_mail(name.split()[0])}.dk",
        phone=f"+45 {rng.randrange(30, 99)} {rng.randrange(10, 99)} {rng.randrange(10, 99)} 00",
        address=f"{rng.choice(names.STREETS)} {rng.randrange(1, 120)}",
        zip=zip_code,
        city=city,
        bank_account=f"{rng.randrange(1000, 9999)} {rng.randrange(10**9, 10**10)}",
        years=years_around(today, broken=broken),
    )
    company.payment_terms = standard_payment_terms()
    company.accounts = chart_of_accounts()
    company.journals = standard_journals()
    count = customers if customers is not None else max(8, min(invoices // 8, 12_500))
    for number in range(1, count + 1):
        company.customers[number] = make_customer(rng, number, today)
    icelandic = random.Random(f"{agreement}:ISK")  # its own stream: nothing else moves
    for customer in company.customers.values():
        if customer.currency == "EUR" and icelandic.random() < ICELANDIC_SHARE:
            make_icelandic(icelandic, customer)
    add_invoices(rng, company, invoices, today)
    return company


def make_icelandic(rng: random.Random, customer: Customer) -> None:
    """Turn a foreign EUR customer into an Icelandic business paying in ISK."""
    stem, form, street, zip_code, city = rng.choice(names.ICELANDIC)
    customer.name, customer.currency, customer.vat_zone = f"{stem} {form}", "ISK", 3
    customer.address = f"{street} {rng.randrange(1, 90)}"
    customer.zip, customer.city, customer.country = zip_code, city, "Island"
    customer.email = f"reikningar@{ascii_mail(stem)}.is"


def local_price(price: int, currency: str) -> int:
    """A list price in øre as minor units of ``currency``: EUR at a round 1/7 (as seeded from
    the start), others at the fixed rates (ISK in whole krónur)."""
    if currency == "DKK":
        return price
    return price // 7 if currency == "EUR" else convert(price, "DKK", currency)


def make_customer(rng: random.Random, number: int, today: dt.date) -> Customer:
    kind = rng.random()
    zip_code, city = rng.choice(names.TOWNS)
    updated = dt.datetime.combine(
        today - dt.timedelta(days=rng.randrange(1, 400)), dt.time(7, 0), dt.UTC
    ) + dt.timedelta(seconds=rng.randrange(36000))
    customer = Customer(
        number=number,
        name="",
        currency="DKK",
        payment_terms=rng.choice((1, 2, 3, 3, 3, 4)),
        group=1,
        vat_zone=1,
        last_updated=updated,
        zip=zip_code,
        city=city,
        country="Danmark",
        address=f"{rng.choice(names.STREETS)} {rng.randrange(1, 200)}",
        barred=rng.random() < 0.03,
    )
    if kind < 0.10:  # foreign business paying in EUR, EU reverse charge
        stem, form, street, fzip, fcity, country = rng.choice(names.FOREIGN)
        customer.name = f"{stem} {form}"
        customer.currency, customer.group, customer.vat_zone = "EUR", 2, 2
        customer.address = f"{street} {rng.randrange(1, 90)}"
        customer.zip, customer.city, customer.country = fzip, fcity, country
        customer.email = f"accounts@{ascii_mail(stem)}.eu"
    elif kind < 0.20:  # public body: invoiced through NemHandel on its GLN
        customer.name = rng.choice(names.PUBLIC_BODIES)
        customer.cvr, customer.ean, customer.group = cvr(rng), gln(rng), 4
        customer.email = f"faktura@{ascii_mail(customer.name.split()[0])}.dk"
        customer.public_entry_number = customer.ean
    elif kind < 0.65:  # Danish business
        stem = rng.choice(names.COMPANY_STEMS)
        customer.name = f"{stem}{rng.choice(names.COMPANY_TAILS)} {rng.choice(names.COMPANY_FORMS)}"
        customer.cvr = cvr(rng)
        customer.ean = gln(rng) if rng.random() < 0.1 else None
        customer.email = f"info@{ascii_mail(stem)}{number}.dk"
        customer.phone = "+45 " + " ".join(str(rng.randrange(10, 99)) for _ in range(4))
    else:  # private person
        first, last = rng.choice(names.FIRST_NAMES), rng.choice(names.LAST_NAMES)
        customer.name, customer.group = f"{first} {last}", 3
        customer.email = (
            f"{ascii_mail(first)}.{ascii_mail(last)}{number}@{rng.choice(names.MAIL_DOMAINS)}"
        )
        customer.mobile = mobile(rng)
    return customer


def recipient_of(customer: Customer) -> Recipient:
    return Recipient(
        customer.name,
        customer.address,
        customer.zip,
        customer.city,
        customer.country,
        customer.ean,
        customer.cvr,
        customer.vat_zone,
    )


def add_invoices(rng: random.Random, company: Company, count: int, today: dt.date) -> None:
    customers = list(company.customers.values())
    recipients = {c.number: recipient_of(c) for c in customers}
    start = today - dt.timedelta(days=400)
    number = company.next_invoice_number()
    for i in range(count):
        customer = customers[int(rng.random() * len(customers))]
        day = start + dt.timedelta(days=i * 400 // max(count, 1))
        previous = company.by_customer.get(customer.number)
        if previous and rng.random() < 0.04:
            add_credit_note(rng, company, company.invoices[previous[-1]], number, day)
        else:
            company.add_invoice(
                seeded_invoice(
                    rng, company, customer, recipients[customer.number], number, day, today
                )
            )
        number += 1


def seeded_lines(rng: random.Random, number: int, domestic: bool) -> list[tuple[int, int, int]]:
    """(product index, quantity, unit price) per line; some invoices get awkward totals."""
    if number % 37 == 0 and domestic:
        return [(4, 100, 81599)]  # net 815.99 + VAT 204.00 = 1019.99
    if number % 53 == 0:
        return [(10, 100, 7)]  # 0.07, VAT-free interest line
    lines = []
    random = rng.random
    for _ in range(1 + int(random() * 2.5)):
        product = int(random() * (len(names.PRODUCTS) - 1))
        price = names.PRODUCTS[product][3] * (90 + int(random() * 21)) // 100
        lines.append((product, names.QUANTITIES[int(random() * len(names.QUANTITIES))], price))
    return lines


@functools.lru_cache(maxsize=8192)
def cached_due_date(day: dt.date, terms: PaymentTerms) -> dt.date:
    return due_date(day, terms)


def seeded_invoice(
    rng: random.Random,
    company: Company,
    customer: Customer,
    recipient: Recipient,
    number: int,
    day: dt.date,
    today: dt.date,
) -> Invoice:
    domestic = customer.vat_zone == 1
    lines = tuple(
        make_line(
            n,
            names.PRODUCTS[p],
            quantity,
            local_price(price, customer.currency),
            domestic,
        )
        for n, (p, quantity, price) in enumerate(seeded_lines(rng, number, domestic), start=1)
    )
    net, vat, gross = invoice_totals(lines)
    terms = company.payment_terms[customer.payment_terms]
    due = cached_due_date(day, terms)
    roll = rng.random()
    if due < today:
        partial = gross - gross * (1 + int(rng.random() * 8)) // 10
        remainder = 0 if roll < 0.6 else partial if roll < 0.72 else gross
    else:
        remainder = 0 if roll < 0.15 else gross
    month = f"{day.month:02d}/{day.year}"
    return Invoice(
        number=number,
        customer=customer.number,
        date=day,
        due_date=due,
        currency=customer.currency,
        rate=exchange_rate(customer.currency, company.base_currency),
        net=net,
        vat=vat,
        gross=gross,
        remainder=remainder,
        payment_terms=terms.number,
        recipient=recipient,
        lines=lines,
        heading=names.HEADINGS[int(rng.random() * len(names.HEADINGS))].format(month=month),
        reference=f"Ordre {number * 7 % 100000}" if rng.random() < 0.3 else None,
    )


def add_credit_note(
    rng: random.Random, company: Company, original: Invoice, number: int, day: dt.date
) -> None:
    """A credit note for (part of) ``original``: matched (remainder 0, original lowered) or open."""
    share = original.lines[:1] if len(original.lines) > 1 and rng.random() < 0.5 else original.lines
    lines = tuple(line._replace(quantity=-line.quantity, total=-line.total) for line in share)
    net, vat, gross = invoice_totals(lines)
    matched = original.remainder > 0 and rng.random() < 0.7
    if matched:
        original.remainder = max(0, original.remainder + gross)
    company.add_invoice(
        Invoice(
            number=number,
            customer=original.customer,
            date=day,
            due_date=day,
            currency=original.currency,
            rate=original.rate,
            net=net,
            vat=vat,
            gross=gross,
            remainder=0 if matched else gross,
            payment_terms=original.payment_terms,
            recipient=original.recipient,
            lines=lines,
            heading=f"Kreditnota til faktura {original.number}",
            reference=str(original.number),
        )
    )
