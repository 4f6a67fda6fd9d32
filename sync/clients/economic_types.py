"""Typed e-conomic payloads (read side) and the shapes our code hands the client for writes.

Read structs mirror the platform's documents (``rename="camel"``, unknown fields ignored,
absent booleans false). Every money field is the exact ``Decimal`` e-conomic sent (``1019.99``
DKK, ``1500`` ISK), ``Decimal(0)`` when absent: how many decimals an amount has depends on its
currency, which only the whole record tells, so the mapping code (`sync.mapping`) converts to
integer minor units with `sync.money.to_minor` and the record's currency (base-currency fields
with the agreement's base currency, `SelfInfo.settings.base_currency`). Write structs are ours:
amounts in integer minor units of the ``currency`` beside them, turned into decimals by the
client (`sync.clients.economic`) when it builds the request.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec


class _Doc(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A platform document: camelCase on the wire, unknown fields tolerated."""


class CustomerRef(_Doc, frozen=True, kw_only=True):
    customer_number: int


class PaymentTermsRef(_Doc, frozen=True, kw_only=True):
    payment_terms_number: int
    days_of_credit: int | None = None
    payment_terms_type: str | None = None
    name: str | None = None


class VatZoneRef(_Doc, frozen=True, kw_only=True):
    vat_zone_number: int


class CustomerGroupRef(_Doc, frozen=True, kw_only=True):
    customer_group_number: int


class AccountRef(_Doc, frozen=True, kw_only=True):
    account_number: int


class Customer(_Doc, frozen=True, kw_only=True):
    customer_number: int
    name: str
    currency: str
    email: str | None = None
    corporate_identification_number: str | None = None
    ean: str | None = None
    public_entry_number: str | None = None
    address: str | None = None
    zip: str | None = None
    city: str | None = None
    country: str | None = None
    telephone_and_fax_number: str | None = None
    mobile_phone: str | None = None
    payment_terms: PaymentTermsRef | None = None
    customer_group: CustomerGroupRef | None = None
    vat_zone: VatZoneRef | None = None
    balance: Decimal = Decimal(0)
    due_amount: Decimal = Decimal(0)
    barred: bool = False
    last_updated: dt.datetime | None = None


class Recipient(_Doc, frozen=True, kw_only=True):
    name: str
    address: str | None = None
    zip: str | None = None
    city: str | None = None
    country: str | None = None
    ean: str | None = None
    cvr: str | None = None
    vat_zone: VatZoneRef | None = None


class Notes(_Doc, frozen=True, kw_only=True):
    heading: str | None = None
    text_line1: str | None = None
    text_line2: str | None = None


class References(_Doc, frozen=True, kw_only=True):
    other: str | None = None


class Unit(_Doc, frozen=True, kw_only=True):
    name: str | None = None


class ProductRef(_Doc, frozen=True, kw_only=True):
    product_number: str


class InvoiceLine(_Doc, frozen=True, kw_only=True):
    line_number: int
    description: str = ""
    quantity: Decimal = Decimal(0)
    unit: Unit | None = None
    unit_net_price: Decimal = Decimal(0)
    total_net_amount: Decimal = Decimal(0)
    product: ProductRef | None = None


class Pdf(_Doc, frozen=True, kw_only=True):
    download: str


class BookedInvoice(_Doc, frozen=True, kw_only=True):
    """A booked invoice; a credit note has negative amounts. ``lines`` only from one-invoice
    reads; ``remainder_in_base_currency`` absent on the wire means 0."""

    booked_invoice_number: int
    date: dt.date
    due_date: dt.date | None = None
    currency: str
    exchange_rate: Decimal | None = None
    net_amount: Decimal = Decimal(0)
    vat_amount: Decimal = Decimal(0)
    gross_amount: Decimal = Decimal(0)
    gross_amount_in_base_currency: Decimal = Decimal(0)
    remainder: Decimal = Decimal(0)
    remainder_in_base_currency: Decimal = Decimal(0)
    customer: CustomerRef
    recipient: Recipient | None = None
    payment_terms: PaymentTermsRef | None = None
    notes: Notes | None = None
    references: References | None = None
    lines: tuple[InvoiceLine, ...] = ()
    pdf: Pdf | None = None


class InvoiceTotals(_Doc, frozen=True, kw_only=True):
    invoice_count: int
    gross_remainder_in_base_currency: Decimal = Decimal(0)
    net_amount_in_base_currency: Decimal = Decimal(0)


class ContraAccounts(_Doc, frozen=True, kw_only=True):
    customer_payments: AccountRef | None = None


class JournalSettings(_Doc, frozen=True, kw_only=True):
    contra_accounts: ContraAccounts | None = None
    entry_type_restricted_to: str | None = None


class Journal(_Doc, frozen=True, kw_only=True):
    journal_number: int
    name: str
    settings: JournalSettings | None = None


class Account(_Doc, frozen=True, kw_only=True):
    account_number: int
    name: str
    account_type: str | None = None
    barred: bool = False


class AccountingYear(_Doc, frozen=True, kw_only=True):
    """``closed`` (present only when true) means nothing can be booked in it any more."""

    year: str
    from_date: dt.date
    to_date: dt.date
    closed: bool = False

    @property
    def url_id(self) -> str:
        """``2025/2026`` is written ``2025_6_2026`` in URLs."""
        return self.year.replace("/", "_6_")


class PaymentTerms(_Doc, frozen=True, kw_only=True):
    payment_terms_number: int
    name: str
    days_of_credit: int = 0
    payment_terms_type: str | None = None


class VatZone(_Doc, frozen=True, kw_only=True):
    vat_zone_number: int
    name: str


class Company(_Doc, frozen=True, kw_only=True):
    name: str
    company_identification_number: str | None = None
    vat_number: str | None = None
    email: str | None = None


class Settings(_Doc, frozen=True, kw_only=True):
    base_currency: str


class Application(_Doc, frozen=True, kw_only=True):
    app_public_token: str | None = None
    name: str | None = None


class SelfUser(_Doc, frozen=True, kw_only=True):
    """The person whose login granted the app (the one installing it)."""

    name: str = ""
    email: str | None = None


class SelfInfo(_Doc, frozen=True, kw_only=True):
    agreement_number: int
    company: Company
    settings: Settings
    application: Application | None = None
    user: SelfUser | None = None


class YearRef(_Doc, frozen=True, kw_only=True):
    year: str


class JournalRef(_Doc, frozen=True, kw_only=True):
    journal_number: int


class Voucher(_Doc, frozen=True, kw_only=True):
    voucher_number: int
    accounting_year: YearRef
    journal: JournalRef


class VoucherEntry(_Doc, frozen=True, kw_only=True):
    """One line of a voucher as read back (only what recognising our own needs)."""

    text: str = ""
    amount: Decimal = Decimal(0)
    customer_invoice: int | None = None


class VoucherEntries(_Doc, frozen=True, kw_only=True):
    customer_payments: tuple[VoucherEntry, ...] = ()
    finance_vouchers: tuple[VoucherEntry, ...] = ()


class DraftVoucher(_Doc, frozen=True, kw_only=True):
    """A voucher of a journal not booked yet (``GET /journals/{n}/vouchers``)."""

    voucher_number: int
    accounting_year: YearRef
    entries: VoucherEntries = VoucherEntries()

    def texts(self) -> tuple[str, ...]:
        return tuple(
            e.text for e in (*self.entries.customer_payments, *self.entries.finance_vouchers)
        )


class Posted(msgspec.Struct, frozen=True, kw_only=True):
    """What a voucher POST answered: the vouchers, and whether e-conomic replayed its cached
    first answer to the same ``Idempotency-Key`` (``X-ResultFromCache: true``)."""

    vouchers: tuple[Voucher, ...]
    replayed: bool = False


class BookedVoucher(_Doc, frozen=True, kw_only=True):
    voucher_number: int
    accounting_year: str


class BookingResult(_Doc, frozen=True, kw_only=True):
    journal_number: int
    booked_vouchers: tuple[BookedVoucher, ...] = ()


class WebhookHeader(_Doc, frozen=True, kw_only=True):
    name: str
    value: str


class Webhook(_Doc, frozen=True, kw_only=True):
    id: str
    event_type: str
    name: str
    url: str
    content_type: str = "application/json"
    headers: tuple[WebhookHeader, ...] = ()


class EventType(_Doc, frozen=True, kw_only=True):
    event_type: str
    description: str | None = None


class _Pagination(_Doc, frozen=True, kw_only=True):
    skip_pages: int
    page_size: int
    results: int
    results_without_filter: int | None = None
    next_page: str | None = None


class RawPage(_Doc, frozen=True, kw_only=True):
    """One collection page before its items are typed."""

    collection: list[object]
    pagination: _Pagination


# -- writes (our shapes; amounts in minor units of their currency) --------------------------------


class CustomerPayment(msgspec.Struct, frozen=True, kw_only=True):
    """Money received from a customer against an invoice: ``amount`` (minor units of
    ``currency``) > 0 lowers the remainder."""

    customer_number: int
    invoice_number: int | None
    amount: int
    currency: str
    date: dt.date
    text: str
    contra_account: int | None = None


class FinanceEntry(msgspec.Struct, frozen=True, kw_only=True):
    """A plain ledger line (interest, fees): ``amount`` (minor units of ``currency``) on
    ``account``, against ``contra``."""

    account: int
    amount: int
    currency: str
    date: dt.date
    text: str
    contra_account: int | None = None


class NewVoucher(msgspec.Struct, frozen=True, kw_only=True):
    accounting_year: str
    customer_payments: tuple[CustomerPayment, ...] = ()
    finance_vouchers: tuple[FinanceEntry, ...] = ()
