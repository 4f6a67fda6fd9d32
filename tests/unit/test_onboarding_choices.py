"""Onboarding's pure parts: defaults from a chart of accounts, the app's journal, the choices
checked, our webhook URLs and the mode they add up to, the partner API's account."""

from __future__ import annotations

import msgspec
import pytest

from plugin.onboarding.choices import (
    AccountChoices,
    OnboardingChoices,
    OnboardingInvalid,
    default_account,
    pick_journal,
    resolve,
)
from plugin.onboarding.collection import account_key, cvr_of, new_account
from plugin.onboarding.webhook_urls import (
    economic_webhook_url,
    legacy_topics,
    webhook_mode,
)
from sync.clients.economic_types import Account, Journal, SelfInfo


def account(number: int, name: str, kind: str = "profitAndLoss", barred: bool = False) -> Account:
    return Account(account_number=number, name=name, account_type=kind, barred=barred)


def journal(number: int, name: str, restricted: str | None = None) -> Journal:
    settings = {"entryTypeRestrictedTo": restricted} if restricted else {}
    return msgspec.convert({"journalNumber": number, "name": name, "settings": settings}, Journal)


DANISH = [
    account(1000, "Omsætning", "heading"),
    account(1310, "Renteindtægter"),
    account(1320, "Gebyrindtægter"),
    account(2750, "Tab på debitorer"),
    account(3610, "Renteudgifter"),
    account(7200, "Salgsmoms", "status"),
    account(7210, "Købsmoms", "status"),
]


def test_accounts_are_recognised_by_type_and_name() -> None:
    picked = {f: default_account(f, DANISH) for f in ("interest_income", "fee_income", "loss")}
    assert {f: a.account_number for f, a in picked.items() if a} == {
        "interest_income": 1310,
        "fee_income": 1320,
        "loss": 2750,
    }
    vat = default_account("output_vat", DANISH)
    assert vat is not None and vat.account_number == 7200


def test_english_names_a_barred_account_and_the_range_preference() -> None:
    chart = [
        account(9100, "Interest income"),  # outside the profit-and-loss range
        account(3100, "Interest income, customers"),
        account(3200, "Fee income", barred=True),
        account(3300, "Reminder fees"),
        account(3400, "Bad debt"),
        account(8100, "Output VAT", "status"),
        account(1310, "Renteindtægter", "status"),  # the wrong type for income
    ]
    chosen = [default_account(f, chart) for f in ("interest_income", "fee_income", "loss")]
    assert [a.account_number for a in chosen if a] == [3100, 3300, 3400]
    vat = default_account("output_vat", chart)
    assert vat is not None and vat.account_number == 8100


def test_nothing_recognised_is_null_with_a_note() -> None:
    resolved = resolve(OnboardingChoices(), journals=[], accounts=[account(1010, "Salg")])
    assert resolved.accounts.interest_income is None and resolved.journal_number is None
    codes = [n.code for n in resolved.notes]
    assert codes[0] == "journal_missing" and "account_missing:output_vat" in codes
    assert "collectbridge" in resolved.notes[0].message


def test_the_apps_journal_is_picked_by_name_never_a_restricted_one() -> None:
    journals = [
        journal(1, "Kassekladde"),
        journal(2, "Inkasso betalinger", "customerPayment"),
        journal(5, "Inkasso"),
        journal(9, "collectbridge"),
    ]
    picked = pick_journal(journals)
    assert picked is not None and picked.journal_number == 9
    picked = pick_journal(journals[:3])
    assert picked is not None and picked.journal_number == 5
    assert pick_journal(journals[:2]) is None


@pytest.mark.parametrize(
    ("choices", "field"),
    [
        (OnboardingChoices(journal_number=4), "journal_number"),
        (OnboardingChoices(journal_number=2), "journal_number"),
        (OnboardingChoices(accounts=AccountChoices(loss=1000)), "accounts.loss"),
        (OnboardingChoices(accounts=AccountChoices(output_vat=4444)), "accounts.output_vat"),
        (OnboardingChoices(policy={"min_days_overdue": 0}), "policy.min_days_overdue"),
        (OnboardingChoices(channels=[]), "channels"),
        (OnboardingChoices(channels=["email", "email"]), "channels"),
        (OnboardingChoices(business_customer_groups=[2, 2]), "business_customer_groups"),
    ],
)
def test_refused_choices_name_their_field(choices: OnboardingChoices, field: str) -> None:
    journals = [journal(1, "Kassekladde"), journal(2, "Indbetalinger", "customerPayment")]
    with pytest.raises(OnboardingInvalid) as raised:
        resolve(choices, journals=journals, accounts=DANISH)
    assert raised.value.field == field and raised.value.status == 422


def test_given_choices_are_kept() -> None:
    choices = OnboardingChoices(
        journal_number=1,
        accounts=AccountChoices(loss=3610),
        business_customer_groups=[3, 1],
        policy={"mode": "automatic", "min_days_overdue": 20},
        channels=["letter", "email"],
    )
    resolved = resolve(choices, journals=[journal(1, "Kassekladde")], accounts=DANISH)
    assert resolved.journal_number == 1 and resolved.accounts.loss == 3610
    assert resolved.accounts.interest_income == 1310  # the others still default
    assert resolved.business_customer_groups == (1, 3)
    assert resolved.policy.mode == "automatic" and resolved.policy.min_days_overdue == 20
    assert resolved.policy.min_amount == 10_000
    assert resolved.channels == ("letter", "email") and resolved.notes == ()


def test_webhook_urls_keep_the_placeholders_unencoded() -> None:
    assert economic_webhook_url("https://b.example/", "KEY", "SECRET", "customer") == (
        "https://b.example/webhooks/economic/KEY/SECRET/customer?new=[NEWNUMBER]&old=[OLDNUMBER]"
    )
    assert economic_webhook_url("https://b.example", "K", "S", "daybook").endswith(
        "/daybook?daybook=[DAYBOOKNO]&from=[FROMSERIALNO]&to=[TOSERIALNO]"
    )


def test_the_mode_and_the_topics_to_paste() -> None:
    assert webhook_mode({}) == "none"
    assert webhook_mode({"INVOICE_BOOKED": "api", "DAYBOOK_BOOKED": "api"}) == "api"
    assert webhook_mode({"INVOICE_BOOKED": "legacy"}) == "legacy"
    mixed = {"INVOICE_BOOKED": "api", "CUSTOMER_UPDATED": "legacy", "DAYBOOK_BOOKED": "legacy"}
    assert webhook_mode(mixed) == "mixed"  # type: ignore[arg-type]
    assert legacy_topics(mixed) == ["customer", "daybook"]  # type: ignore[arg-type]


def test_the_partner_account_for_a_company() -> None:
    me = msgspec.convert(
        {
            "agreementNumber": 1234567,
            "company": {"name": "Nordlys ApS", "companyIdentificationNumber": "DK 1234 5678"},
            "settings": {"baseCurrency": "nok"},
            "user": {"name": "Kim", "email": "kim@nordlys.example"},
        },
        SelfInfo,
    )
    made = new_account(me)
    assert (made.name, made.cvr, made.email) == ("Nordlys ApS", "12345678", "kim@nordlys.example")
    assert (made.country, made.base_currency, made.external_ref) == (
        "NO",
        "NOK",
        "economic:1234567",
    )
    assert account_key(made).startswith("account:1234567:")
    assert account_key(made) == account_key(new_account(me))
    assert cvr_of("123") is None and cvr_of(None) is None
