"""Which properties of each collection can be filtered and sorted, and how to read them.

Money getters return the amount as a ``Decimal`` in its currency (``1019.99`` DKK, ``1500``
ISK; base-currency ones in the base currency), so a filter literal means what the documents
show whatever the currency's decimals. ``dueDate``, ``remainder`` and the computed customer
``balance``/``dueAmount`` are deliberately absent: the contract says the first two are not
filterable, and we treat the computed ones the same way.
"""

from __future__ import annotations

import functools
from decimal import Decimal

from sandbox.economic.filters import Field
from sandbox.economic.money import scale, to_decimal
from sandbox.economic.state import Invoice

CUSTOMER_FIELDS: dict[str, Field] = {
    "customerNumber": Field("int", lambda c: c.number),
    "name": Field("str", lambda c: c.name),
    "email": Field("str", lambda c: c.email),
    "corporateIdentificationNumber": Field("str", lambda c: c.cvr),
    "ean": Field("str", lambda c: c.ean),
    "publicEntryNumber": Field("str", lambda c: c.public_entry_number),
    "address": Field("str", lambda c: c.address),
    "zip": Field("str", lambda c: c.zip),
    "city": Field("str", lambda c: c.city),
    "country": Field("str", lambda c: c.country),
    "telephoneAndFaxNumber": Field("str", lambda c: c.phone),
    "mobilePhone": Field("str", lambda c: c.mobile),
    "currency": Field("str", lambda c: c.currency),
    "paymentTerms.paymentTermsNumber": Field("int", lambda c: c.payment_terms),
    "customerGroup.customerGroupNumber": Field("int", lambda c: c.group),
    "vatZone.vatZoneNumber": Field("int", lambda c: c.vat_zone),
    "barred": Field("bool", lambda c: c.barred),
    "lastUpdated": Field("datetime", lambda c: c.last_updated),
}


@functools.lru_cache(maxsize=16)
def invoice_fields(base: str) -> dict[str, Field]:
    """The invoice fields of an agreement whose base currency is ``base``."""

    def in_base(i: Invoice, minor: int) -> Decimal:
        return to_decimal(scale(minor, i.rate, i.currency, base), base)

    return {
        "bookedInvoiceNumber": Field("int", lambda i: i.number),
        "date": Field("date", lambda i: i.date),
        "currency": Field("str", lambda i: i.currency),
        "exchangeRate": Field("decimal", lambda i: i.rate),
        "netAmount": Field("money", lambda i: to_decimal(i.net, i.currency)),
        "netAmountInBaseCurrency": Field("money", lambda i: in_base(i, i.net)),
        "vatAmount": Field("money", lambda i: to_decimal(i.vat, i.currency)),
        "grossAmount": Field("money", lambda i: to_decimal(i.gross, i.currency)),
        "grossAmountInBaseCurrency": Field("money", lambda i: in_base(i, i.gross)),
        "customer.customerNumber": Field("int", lambda i: i.customer),
        "recipient.name": Field("str", lambda i: i.recipient.name),
        "recipient.ean": Field("str", lambda i: i.recipient.ean),
        "recipient.cvr": Field("str", lambda i: i.recipient.cvr),
        "recipient.vatZone.vatZoneNumber": Field("int", lambda i: i.recipient.vat_zone),
        "paymentTerms.paymentTermsNumber": Field("int", lambda i: i.payment_terms),
        "notes.heading": Field("str", lambda i: i.heading),
        "references.other": Field("str", lambda i: i.reference),
    }


ACCOUNT_FIELDS: dict[str, Field] = {
    "accountNumber": Field("int", lambda a: a.number),
    "name": Field("str", lambda a: a.name),
    "accountType": Field("str", lambda a: a.kind),
}
JOURNAL_FIELDS: dict[str, Field] = {
    "journalNumber": Field("int", lambda j: j.number),
    "name": Field("str", lambda j: j.name),
}
YEAR_FIELDS: dict[str, Field] = {
    "year": Field("str", lambda y: y.year),
    "fromDate": Field("date", lambda y: y.start),
    "toDate": Field("date", lambda y: y.end),
}
TERMS_FIELDS: dict[str, Field] = {
    "paymentTermsNumber": Field("int", lambda t: t.number),
    "name": Field("str", lambda t: t.name),
    "daysOfCredit": Field("int", lambda t: t.days),
    "paymentTermsType": Field("str", lambda t: t.kind),
}
VAT_ZONE_FIELDS: dict[str, Field] = {
    "vatZoneNumber": Field("int", lambda z: z[0]),
    "name": Field("str", lambda z: z[1]),
}
GROUP_FIELDS: dict[str, Field] = {
    "customerGroupNumber": Field("int", lambda g: g[0]),
    "name": Field("str", lambda g: g[1]),
}
