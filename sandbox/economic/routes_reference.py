"""Read-only reference resources: ``/self``, accounts, journals, accounting years, payment
terms, VAT zones and customer groups."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from sandbox.economic.errors import not_found
from sandbox.economic.fields import (
    ACCOUNT_FIELDS,
    GROUP_FIELDS,
    JOURNAL_FIELDS,
    TERMS_FIELDS,
    VAT_ZONE_FIELDS,
    YEAR_FIELDS,
)
from sandbox.economic.gateway import COMPANY
from sandbox.economic.keys import STATE
from sandbox.economic.paging import collection
from sandbox.economic.reference import CUSTOMER_GROUPS, VAT_ZONES
from sandbox.economic.render import base_url, respond
from sandbox.economic.state import Account, AccountingYear, Company, Journal, PaymentTerms


async def get_self(request: web.Request) -> web.Response:
    c, base, state = request[COMPANY], base_url(request), request.app[STATE]
    token = "demo" if c.demo else state.app_public_token
    return respond(
        {
            "agreementNumber": c.agreement,
            "agreementType": {"agreementTypeNumber": 1, "name": "Small"},
            "application": {
                "appPublicToken": token,
                "name": "collectbridge",
                "requiredRoles": [{"roleNumber": 1, "name": "SuperUser"}],
            },
            "bankInformation": {
                "bankAccountNumber": c.bank_account.split()[1],
                "bankSortCode": c.bank_account.split()[0],
                "bankName": "Danske Bank",
            },
            "company": {
                "name": c.name,
                "addressLine1": c.address,
                "zip": c.zip,
                "city": c.city,
                "country": "Danmark",
                "companyIdentificationNumber": c.cvr,
                "vatNumber": f"DK{c.cvr}",
                "email": c.email,
                "phoneNumber": c.phone,
            },
            "settings": {"baseCurrency": c.base_currency, "internationalLedger": True},
            "user": {
                "agreementNumber": c.agreement,
                "name": "Bogholder",
                "loginId": "bogholder",
                "email": c.email,
                "language": {"culture": "da-DK", "languageNumber": 1, "name": "Danish"},
            },
            "canSendElectronicInvoice": True,
            "canSendVoucher": True,
            "self": f"{base}/self",
        }
    )


def account_doc(a: Account, base: str) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "accountNumber": a.number,
        "accountType": a.kind,
        "name": a.name,
        "debitCredit": a.debit_credit,
        "balance": 0,
        "self": f"{base}/accounts/{a.number}",
    }
    if a.vat_code:
        doc["vatAccount"] = {"vatCode": a.vat_code, "self": f"{base}/vat-accounts/{a.vat_code}"}
    return doc


def journal_doc(j: Journal, base: str) -> dict[str, Any]:
    settings: dict[str, Any] = {"voucherNumbers": {"minimumVoucherNumber": 1}}
    if j.contra_account is not None:
        settings["contraAccounts"] = {
            "customerPayments": {
                "accountNumber": j.contra_account,
                "self": f"{base}/accounts/{j.contra_account}",
            }
        }
    if j.restricted_to:
        settings["entryTypeRestrictedTo"] = j.restricted_to
    return {
        "journalNumber": j.number,
        "name": j.name,
        "settings": settings,
        "vouchers": f"{base}/journals/{j.number}/vouchers",
        "self": f"{base}/journals/{j.number}",
    }


def year_doc(y: AccountingYear, base: str) -> dict[str, Any]:
    return {
        "year": y.year,
        "fromDate": y.start.isoformat(),
        "toDate": y.end.isoformat(),
        "self": f"{base}/accounting-years/{y.url_id}",
    }


def terms_doc(t: PaymentTerms, base: str) -> dict[str, Any]:
    return {
        "paymentTermsNumber": t.number,
        "name": t.name,
        "daysOfCredit": t.days,
        "paymentTermsType": t.kind,
        "self": f"{base}/payment-terms/{t.number}",
    }


def zone_doc(z: tuple[int, str, bool, bool], base: str) -> dict[str, Any]:
    doc: dict[str, Any] = {"vatZoneNumber": z[0], "name": z[1], "self": f"{base}/vat-zones/{z[0]}"}
    if z[2]:
        doc["enabledForCustomer"] = True
    if z[3]:
        doc["enabledForSupplier"] = True
    return doc


def group_doc(g: tuple[int, str], base: str) -> dict[str, Any]:
    return {
        "customerGroupNumber": g[0],
        "name": g[1],
        "account": {"accountNumber": 5600},
        "self": f"{base}/customer-groups/{g[0]}",
    }


RESOURCES: dict[str, tuple[Any, Any, Any]] = {
    # path: (records of a company keyed by their URL id, fields, renderer)
    "accounts": (
        lambda c: {str(a.number): a for a in c.accounts.values()},
        ACCOUNT_FIELDS,
        account_doc,
    ),
    "journals": (
        lambda c: {str(j.number): j for j in c.journals.values()},
        JOURNAL_FIELDS,
        journal_doc,
    ),
    "accounting-years": (lambda c: {y.url_id: y for y in c.years}, YEAR_FIELDS, year_doc),
    "payment-terms": (
        lambda c: {str(t.number): t for t in c.payment_terms.values()},
        TERMS_FIELDS,
        terms_doc,
    ),
    "vat-zones": (lambda c: {str(z[0]): z for z in VAT_ZONES}, VAT_ZONE_FIELDS, zone_doc),
    "customer-groups": (
        lambda c: {str(g[0]): g for g in CUSTOMER_GROUPS},
        GROUP_FIELDS,
        group_doc,
    ),
}


def listing(name: str) -> Any:
    records_of, fields, render = RESOURCES[name]

    async def handler(request: web.Request) -> web.Response:
        company: Company = request[COMPANY]
        base = base_url(request)
        return respond(
            collection(
                request,
                lambda: list(records_of(company).values()),
                fields,
                lambda r: render(r, base),
            )
        )

    return handler


def single(name: str) -> Any:
    records_of, _, render = RESOURCES[name]

    async def handler(request: web.Request) -> web.Response:
        record = records_of(request[COMPANY]).get(request.match_info["id"])
        if record is None:
            raise not_found(name.rstrip("s").replace("-", " ").capitalize())
        return respond(render(record, base_url(request)))

    return handler


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/self", get_self)
    for name in RESOURCES:
        app.router.add_get(f"/{name}", listing(name))
        app.router.add_get(f"/{name}/{{id}}", single(name))
