"""The Visma e-conomic client: one class around an injected `aiohttp.ClientSession`.

Every request carries ``X-AppSecretToken`` and ``X-AgreementGrantToken``, explicit timeouts,
and is counted through `ApiCallRecorder` (the database store, so all processes share one
rolling 24-hour count per installation). Retries within a call follow `retrying` (429, 500,
502-504, timeouts, connection errors; a ``Retry-After`` over 30 s is not waited out). What the
call finally gets is mapped by `economic_wire.error_for`: 429 → `RateLimitedError` and other 5xx
→ `TransientError`, both carrying ``retry_after`` so the job is rescheduled no earlier; 401 →
`AuthLostError` (the grant was revoked: no retry), 403/404/409 and 400/422 → the matching
`PermanentError`, with the platform's ``message``/``errors``/``logId`` in ``detail``.

Collections are async iterators over pages of ``page_size`` (1000 by default) sorted by a stable
key; an iteration that ends without an exception reached the last page (``nextPage`` absent),
i.e. the scan is complete. Every write needs an ``Idempotency-Key`` derived from our own ids.
Money: reads hand e-conomic's amounts on as exact ``Decimal`` (`economic_types`); the mapping
code turns them into minor units with the record's currency. Writes take integer minor units
with their currency (`CustomerPayment`, `FinanceEntry`), and `_payment_document` /
`_finance_document` are the one place where minor units become e-conomic decimals
(`sync.money.to_decimal`: ``101999`` DKK → ``1019.99``, ``1500`` ISK → ``1500``). A currency
without a known exponent raises `sync.money.UnknownCurrency` before anything is sent.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, Generic, Literal, Protocol, TypeVar

import aiohttp
import msgspec

from sync import budget
from sync.clients.economic_types import (
    Account,
    AccountingYear,
    BookedInvoice,
    BookingResult,
    Customer,
    CustomerPayment,
    DraftVoucher,
    EventType,
    FinanceEntry,
    InvoiceTotals,
    Journal,
    NewVoucher,
    PaymentTerms,
    Posted,
    RawPage,
    SelfInfo,
    VatZone,
    Voucher,
    Webhook,
)
from sync.clients.economic_wire import (
    PLATFORM,
    decode,
    decode_raw,
    encode,
    error_body,
    error_for,
)
from sync.clients.retrying import Answer, parse_retry_after, send_with_retries
from sync.errors import BudgetExhaustedError, TransientError
from sync.money import to_decimal
from sync.redaction import remember_secrets

T = TypeVar("T")
InvoiceList = Literal["booked", "unpaid", "overdue", "paid"]
PAGE_SIZE = 1000
MAX_IN = 200  # numbers an ``$in`` filter takes (contracts/economic.md, Conventions)
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=30, connect=5, sock_read=20)
JOURNALS_API = "/journalsapi/v16.0.1"
WEBHOOKS_API = "/webhooksapi/v1.0.0"
# e-conomic allows 50,000 calls per agreement in a rolling 24 hours. We pause a little before it,
# leaving room for calls already under way in other processes and for a person's own use.
DAILY_BUDGET = 47_500


# A write replayed from e-conomic's idempotency cache (the first answer to the same key, kept
# one hour) carries this header.
RESULT_FROM_CACHE = "X-ResultFromCache"


class ReplayableAnswer(Answer, frozen=True, kw_only=True):
    replayed: bool = False


class Page(msgspec.Struct, Generic[T], frozen=True, kw_only=True):
    """One page of a collection: its items, whether it was the last, and (when e-conomic says)
    how many rows the collection holds without our filter."""

    items: tuple[T, ...]
    last: bool
    total: int | None = None


class ApiCallRecorder(Protocol):
    """Counts API calls per installation in a window every process shares (implemented by
    `sync.store.usage.ApiUsage`)."""

    async def record_api_call(
        self, installation_id: int, platform: str, at: dt.datetime
    ) -> None: ...

    async def budget_wait(
        self,
        installation_id: int,
        platform: str,
        *,
        limit: int,
        now: dt.datetime,
        window: dt.timedelta = ...,
    ) -> float: ...


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _filter_time(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EconomicClient:
    """e-conomic as one installation (one agreement grant) sees it."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        app_secret_token: str,
        grant_token: str,
        installation_id: int,
        recorder: ApiCallRecorder,
        daily_budget: int | None = DAILY_BUDGET,
        openapi_url: str | None = None,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        attempts: int = 5,
        backoff: float = 0.5,
        backoff_max: float = 20.0,
        now: Callable[[], dt.datetime] = _utcnow,
        pace: budget.Pace = "prompt",
    ) -> None:
        remember_secrets(app_secret_token, grant_token)  # masked in every error and log line
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.openapi_url = (openapi_url or base_url).rstrip("/")
        self._headers = {
            "X-AppSecretToken": app_secret_token,
            "X-AgreementGrantToken": grant_token,
        }
        self.installation_id = installation_id
        self.recorder = recorder
        self.daily_budget = daily_budget
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.now = now
        self.pace = pace
        self._rng = random.Random()

    # -- plumbing ---------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        idempotency_key: str | None = None,
        accept: str = "application/json",
    ) -> bytes:
        answer = await self._answer(
            method, url, params=params, body=body, idempotency_key=idempotency_key, accept=accept
        )
        return answer.body

    async def _answer(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        idempotency_key: str | None = None,
        accept: str = "application/json",
    ) -> Answer:
        """The 2xx answer itself (its body, and for writes whether it was a replay)."""
        headers = {**self._headers, "Accept": accept}
        if method != "GET":
            if not idempotency_key:
                raise ValueError("every write to e-conomic needs an Idempotency-Key")
            headers["Idempotency-Key"] = idempotency_key
        data = encode(body) if body is not None else None
        if data is not None:
            headers["Content-Type"] = "application/json"
        answer = await send_with_retries(
            lambda: self._send(method, url, headers, data, params),
            attempts=self.attempts,
            base=self.backoff,
            cap=self.backoff_max,
            rng=self._rng,
        )
        if answer.ok:
            return answer
        raise error_for(answer.status, error_body(answer.body), answer.retry_after)

    async def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        data: bytes | None,
        params: dict[str, str] | None,
    ) -> Answer:
        await self._within_budget()
        await self.recorder.record_api_call(self.installation_id, PLATFORM, self.now())
        try:
            async with self.session.request(
                method, url, headers=headers, data=data, params=params, timeout=self.timeout
            ) as resp:
                return ReplayableAnswer(
                    status=resp.status,
                    body=await resp.read(),
                    retry_after=parse_retry_after(resp.headers.get("Retry-After"), self.now()),
                    replayed=resp.headers.get(RESULT_FROM_CACHE, "").lower() == "true",
                )
        except TimeoutError as exc:
            raise TransientError("e-conomic timed out", platform=PLATFORM) from exc
        except aiohttp.ClientError as exc:
            raise TransientError(
                f"cannot reach e-conomic: {type(exc).__name__}", platform=PLATFORM
            ) from exc

    async def _within_budget(self) -> None:
        """Pause before e-conomic's fair-use limit instead of failing at it: once the shared
        24-hour count reaches the budget, the call ends with a rate-limited error carrying the
        time at which the window has room again, and the job is rescheduled for then. A
        ``bulk`` client also keeps to its share of the day and of the hour (`sync.budget`)."""
        if self.daily_budget is None:
            return
        for limit, window in budget.limits(self.daily_budget, self.pace):
            wait = await self.recorder.budget_wait(
                self.installation_id, PLATFORM, limit=limit, now=self.now(), window=window
            )
            if wait > 0:
                raise BudgetExhaustedError(
                    f"the company's e-conomic call budget for {self.pace} work is used up "
                    "for now; paused until it has room",
                    retry_after=wait,
                    platform=PLATFORM,
                )

    async def _get(self, path: str, kind: type[T], params: dict[str, str] | None = None) -> T:
        return decode(await self._request("GET", self.base_url + path, params=params), kind)

    async def _pages(
        self,
        path: str,
        kind: type[T],
        sort: str,
        filter_: str | None = None,
        page_size: int = PAGE_SIZE,
    ) -> AsyncIterator[T]:
        """Every item of a collection, page by page, in ``sort`` order (a stable key)."""
        skip = 0
        while True:
            params = {"skippages": str(skip), "pagesize": str(page_size), "sort": sort}
            if filter_:
                params["filter"] = filter_
            page = await self._get(path, RawPage, params)
            for item in page.collection:
                yield msgspec.convert(item, kind)
            if page.pagination.next_page is None:
                return
            skip += 1

    # -- reads --------------------------------------------------------------------------------

    async def self_info(self) -> SelfInfo:
        return await self._get("/self", SelfInfo)

    def customers(
        self, *, updated_since: dt.datetime | None = None, page_size: int = PAGE_SIZE
    ) -> AsyncIterator[Customer]:
        """All customers by number; with ``updated_since``, those changed at or after it."""
        since = f"lastUpdated$gte:{_filter_time(updated_since)}" if updated_since else None
        return self._pages("/customers", Customer, "customerNumber", since, page_size)

    async def customer(self, customer_number: int) -> Customer:
        return await self._get(f"/customers/{customer_number}", Customer)

    def invoices(
        self,
        which: InvoiceList = "overdue",
        *,
        customer_number: int | None = None,
        page_size: int = PAGE_SIZE,
    ) -> AsyncIterator[BookedInvoice]:
        """``/invoices/{which}`` by invoice number (without lines)."""
        only = f"customer.customerNumber$eq:{customer_number}" if customer_number else None
        return self._pages(
            f"/invoices/{which}", BookedInvoice, "bookedInvoiceNumber", only, page_size
        )

    async def invoices_after(
        self, which: InvoiceList = "unpaid", *, after: int = 0, page_size: int = PAGE_SIZE
    ) -> Page[BookedInvoice]:
        """One page of ``/invoices/{which}`` with numbers above ``after`` (keyset paging)."""
        return await self._page_after(
            f"/invoices/{which}", BookedInvoice, "bookedInvoiceNumber", after, page_size
        )

    async def customers_after(
        self, *, after: int = 0, page_size: int = PAGE_SIZE
    ) -> Page[Customer]:
        """One page of ``/customers`` with numbers above ``after`` (keyset paging)."""
        return await self._page_after("/customers", Customer, "customerNumber", after, page_size)

    async def _page_after(
        self, path: str, kind: type[T], key: str, after: int, page_size: int
    ) -> Page[T]:
        """Keyset paging: always the first page of "key above the last one seen", sorted by
        key. Unlike ``skippages``, rows that leave the list between two pages (an invoice paid
        meanwhile) cannot make the next page skip a row, and the checkpoint is one number."""
        params = {"skippages": "0", "pagesize": str(page_size), "sort": key}
        if after:
            params["filter"] = f"{key}$gt:{after}"
        page = await self._get(path, RawPage, params)
        items = tuple(msgspec.convert(item, kind) for item in page.collection)
        return Page(
            items=items,
            last=page.pagination.next_page is None,
            total=page.pagination.results_without_filter,
        )

    async def invoices_numbered(self, numbers: Iterable[int]) -> AsyncIterator[BookedInvoice]:
        """The booked invoices of these numbers (without lines): one call per 200 numbers."""
        wanted = sorted(set(numbers))
        for start in range(0, len(wanted), MAX_IN):
            listed = ",".join(map(str, wanted[start : start + MAX_IN]))
            only = f"bookedInvoiceNumber$in:[{listed}]"
            async for invoice in self._pages(
                "/invoices/booked", BookedInvoice, "bookedInvoiceNumber", only
            ):
                yield invoice

    async def invoice(self, number: int) -> BookedInvoice:
        """One booked invoice with its lines."""
        return await self._get(f"/invoices/booked/{number}", BookedInvoice)

    async def invoice_pdf(self, number: int) -> bytes:
        return await self._request(
            "GET", f"{self.base_url}/invoices/booked/{number}", accept="application/pdf"
        )

    async def overdue_totals(self) -> InvoiceTotals:
        """A cheap checksum: count and gross remainder of the overdue invoices."""
        return await self._get("/invoices/totals/booked/unpaid/overdue", InvoiceTotals)

    def journals(self) -> AsyncIterator[Journal]:
        return self._pages("/journals", Journal, "journalNumber")

    def accounts(self) -> AsyncIterator[Account]:
        return self._pages("/accounts", Account, "accountNumber")

    def accounting_years(self) -> AsyncIterator[AccountingYear]:
        return self._pages("/accounting-years", AccountingYear, "year")

    def payment_terms(self) -> AsyncIterator[PaymentTerms]:
        return self._pages("/payment-terms", PaymentTerms, "paymentTermsNumber")

    def vat_zones(self) -> AsyncIterator[VatZone]:
        return self._pages("/vat-zones", VatZone, "vatZoneNumber")

    # -- writes -------------------------------------------------------------------------------

    async def post_voucher(
        self, journal_number: int, voucher: NewVoucher, *, idempotency_key: str
    ) -> list[Voucher]:
        """Draft voucher(s) in a journal; the remainder drops only once the journal is booked."""
        body = voucher_document(journal_number, voucher)
        answer = await self._request(
            "POST",
            f"{self.base_url}/journals/{journal_number}/vouchers",
            body=body,
            idempotency_key=idempotency_key,
        )
        return decode(answer, list[Voucher])

    async def post_voucher_once(
        self, journal_number: int, voucher: NewVoucher, *, idempotency_key: str
    ) -> Posted:
        """`post_voucher`, telling a replay of the key's first answer (``X-ResultFromCache``)
        from a voucher created now: both are the one voucher, posted once."""
        answer = await self._answer(
            "POST",
            f"{self.base_url}/journals/{journal_number}/vouchers",
            body=voucher_document(journal_number, voucher),
            idempotency_key=idempotency_key,
        )
        replayed = isinstance(answer, ReplayableAnswer) and answer.replayed
        return Posted(vouchers=tuple(decode(answer.body, list[Voucher])), replayed=replayed)

    def journal_vouchers(self, journal_number: int) -> AsyncIterator[DraftVoucher]:
        """The journal's draft vouchers (booked ones leave the journal)."""
        return self._pages(f"/journals/{journal_number}/vouchers", DraftVoucher, "voucherNumber")

    async def book_journal(self, journal_number: int, *, idempotency_key: str) -> BookingResult:
        url = f"{self.openapi_url}{JOURNALS_API}/journals/{journal_number}/book"
        answer = await self._request("POST", url, body={}, idempotency_key=idempotency_key)
        return decode(answer, BookingResult)

    async def set_barred(
        self, customer_number: int, barred: bool, *, idempotency_key: str
    ) -> Customer:
        """GET the whole customer document, change ``barred``, PUT it back (no PATCH exists)."""
        url = f"{self.base_url}/customers/{customer_number}"
        document = decode_raw(await self._request("GET", url))
        if barred:
            document["barred"] = True
        else:
            document.pop("barred", None)  # booleans are present only when true
        answer = await self._request("PUT", url, body=document, idempotency_key=idempotency_key)
        return decode(answer, Customer)

    # -- webhooks API -------------------------------------------------------------------------

    async def event_types(self) -> list[EventType]:
        url = f"{self.openapi_url}{WEBHOOKS_API}/EventTypes"
        return decode(await self._request("GET", url), list[EventType])

    async def webhooks(self) -> list[Webhook]:
        url = f"{self.openapi_url}{WEBHOOKS_API}/webhooks"
        return decode(await self._request("GET", url), list[Webhook])

    async def create_webhook(
        self,
        *,
        event_type: str,
        name: str,
        url: str,
        headers: dict[str, str],
        idempotency_key: str,
    ) -> Webhook:
        """Subscribe; a second subscription for the same event type raises `ConflictError`."""
        body = webhook_document(event_type=event_type, name=name, url=url, headers=headers)
        answer = await self._request(
            "POST",
            f"{self.openapi_url}{WEBHOOKS_API}/webhooks",
            body=body,
            idempotency_key=idempotency_key,
        )
        return decode(answer, Webhook)

    async def update_webhook(
        self,
        webhook_id: str,
        *,
        event_type: str,
        name: str,
        url: str,
        headers: dict[str, str],
        idempotency_key: str,
    ) -> Webhook:
        """Replace a subscription (``PUT``: the whole document); an unknown id raises
        `NotFoundError`."""
        body = webhook_document(event_type=event_type, name=name, url=url, headers=headers)
        answer = await self._request(
            "PUT",
            f"{self.openapi_url}{WEBHOOKS_API}/webhooks/{webhook_id}",
            body=body,
            idempotency_key=idempotency_key,
        )
        return decode(answer, Webhook)

    async def delete_webhook(self, webhook_id: str, *, idempotency_key: str) -> None:
        url = f"{self.openapi_url}{WEBHOOKS_API}/webhooks/{webhook_id}"
        await self._request("DELETE", url, idempotency_key=idempotency_key)


def _payment_document(p: CustomerPayment) -> dict[str, Any]:
    # The sign convention lives here: a positive amount is money received from the customer.
    doc: dict[str, Any] = {
        "customer": {"customerNumber": p.customer_number},
        "amount": to_decimal(p.amount, p.currency),
        "currency": {"code": p.currency},
        "date": p.date.isoformat(),
        "text": p.text[:250],
    }
    if p.invoice_number is not None:
        doc["customerInvoice"] = p.invoice_number
    if p.contra_account is not None:
        doc["contraAccount"] = {"accountNumber": p.contra_account}
    return doc


def _finance_document(f: FinanceEntry) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "account": {"accountNumber": f.account},
        "amount": to_decimal(f.amount, f.currency),
        "currency": {"code": f.currency},
        "date": f.date.isoformat(),
        "text": f.text[:250],
    }
    if f.contra_account is not None:
        doc["contraAccount"] = {"accountNumber": f.contra_account}
    return doc


def webhook_document(
    *, event_type: str, name: str, url: str, headers: dict[str, str]
) -> dict[str, Any]:
    """A Webhooks API subscription as POST and PUT take it."""
    return {
        "eventType": event_type,
        "name": name,
        "url": url,
        "contentType": "application/json",
        "headers": [{"name": k, "value": v} for k, v in headers.items()],
    }


def voucher_document(journal_number: int, voucher: NewVoucher) -> dict[str, Any]:
    """Our voucher → the JSON e-conomic takes (amounts as numbers with exactly their
    currency's decimals)."""
    entries: dict[str, Any] = {}
    if voucher.customer_payments:
        entries["customerPayments"] = [_payment_document(p) for p in voucher.customer_payments]
    if voucher.finance_vouchers:
        entries["financeVouchers"] = [_finance_document(f) for f in voucher.finance_vouchers]
    return {
        "accountingYear": {"year": voucher.accounting_year},
        "journal": {"journalNumber": journal_number},
        "entries": entries,
    }


__all__ = ["ApiCallRecorder", "EconomicClient", "voucher_document"]
