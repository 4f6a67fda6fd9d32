"""An e-conomic customer → the collection platform's debtor (``PUT /v1/debtors/{ref}``).

Data minimisation: only what the collector needs to identify the debtor and write to them
(name, kind, CVR/EAN, e-mail, one phone number, postal address, language, channels); nothing
of the ledger's bookkeeping (balance, terms, VAT zone, groups) leaves.

- **Kind** (domain.md): company when the customer has a CVR/organisation number, an EAN, or a
  customer group the company marked as business; person otherwise.
- **Channels** are the ones the identifiers open (domain.md's table), in the creditor's order
  (`CompanySettings.channels`); a channel the creditor left out of that list is not offered.
- **Country**: e-conomic's free text through `countries.country_code`; a blank country is the
  agreement's home country (``home_country``, Denmark by default: domestic customers are often
  kept without one). An unknown name is not guessed: `unknown_country`, no debtor.
- **Address**: the platform requires street, zip, city and country. Without all of them no debtor
  is made: `no_contact` when the customer has no e-mail and no channel either, otherwise
  `incomplete_address`. A blank name is `missing_name`. Text is trimmed, inner runs of spaces
  collapsed; blank counts as absent.
"""

from __future__ import annotations

from sync.clients.collection_types import Address, Channel, Debtor
from sync.clients.economic_types import Customer
from sync.company_settings import CompanySettings
from sync.mapping.countries import country_code, language_of
from sync.mapping.problems import Mapped, MappingProblem


def debtor_of(
    customer: Customer, settings: CompanySettings, *, home_country: str = "DK"
) -> Mapped[Debtor]:
    """The debtor for ``customer``, or None with the problem that stops it."""
    subject = f"customer:{customer.customer_number}"
    country = _country(customer, home_country)
    if country is None:
        return Mapped(None, (_unknown_country(customer, subject),))
    address = _address(customer, country)
    cin, ean = _text(customer.corporate_identification_number), _text(customer.ean)
    email, mobile = _text(customer.email), _text(customer.mobile_phone)
    opened = opened_channels(
        cin=cin, ean=ean, country=country, email=email, mobile=mobile, letter=address is not None
    )
    if address is None:
        return Mapped(None, (_no_address(customer, subject, reachable=bool(opened)),))
    name = _text(customer.name)
    if name is None:
        return Mapped(None, (_no_name(customer, subject),))
    channels = tuple(channel for channel in settings.channels if channel in opened)
    debtor = Debtor(
        name=name,
        kind="company" if _is_company(customer, settings, cin=cin, ean=ean) else "person",
        address=address,
        language=language_of(country),
        cvr=cin,
        ean=ean,
        email=email,
        phone=mobile or _text(customer.telephone_and_fax_number),
        channels=channels or None,
    )
    problems = () if channels else (_no_preferred_channel(customer, subject, opened),)
    return Mapped(debtor, problems)


def opened_channels(
    *,
    cin: str | None,
    ean: str | None,
    country: str,
    email: str | None,
    mobile: str | None,
    letter: bool,
) -> frozenset[Channel]:
    """The channels these identifiers open (domain.md): EAN → NemHandel; a Danish CVR →
    NemHandel and e-Boks; a Norwegian organisation number → EHF; e-mail; mobile → SMS;
    a full postal address → letter."""
    opened: set[Channel] = set()
    if ean or (cin and country == "DK"):
        opened.add("nemhandel")
    if cin and country == "DK":
        opened.add("eboks")
    if cin and country == "NO":
        opened.add("ehf")
    if email:
        opened.add("email")
    if mobile:
        opened.add("sms")
    if letter:
        opened.add("letter")
    return frozenset(opened)


def _is_company(
    customer: Customer, settings: CompanySettings, *, cin: str | None, ean: str | None
) -> bool:
    group = customer.customer_group
    in_business_group = group is not None and (
        group.customer_group_number in settings.business_customer_groups
    )
    return bool(cin or ean or in_business_group)


def _country(customer: Customer, home_country: str) -> str | None:
    name = _text(customer.country)
    return home_country if name is None else country_code(name)


def _address(customer: Customer, country: str) -> Address | None:
    street, zip_code, city = (_text(v) for v in (customer.address, customer.zip, customer.city))
    if street is None or zip_code is None or city is None:
        return None
    return Address(street=street, zip=zip_code, city=city, country=country)


def _text(value: str | None) -> str | None:
    """Blank is absent: e-conomic keeps empty strings where nothing was entered."""
    if value is None:
        return None
    return " ".join(value.split()) or None


def _unknown_country(customer: Customer, subject: str) -> MappingProblem:
    return MappingProblem(
        code="unknown_country",
        subject=subject,
        message=(
            f"Customer {customer.customer_number} has the country {customer.country!r}, a name "
            'we cannot read: write it as e.g. "Danmark", "Sverige" or the two-letter code'
        ),
        detail={"country": customer.country},
    )


def _no_address(customer: Customer, subject: str, *, reachable: bool) -> MappingProblem:
    number = customer.customer_number
    if not reachable:
        return MappingProblem(
            code="no_contact",
            subject=subject,
            message=(
                f"Customer {number} has neither address nor e-mail: "
                "the collector cannot write to them"
            ),
        )
    return MappingProblem(
        code="incomplete_address",
        subject=subject,
        message=(
            f"Customer {number} has no complete postal address (street, zip and city): "
            "the collection platform needs one for every debtor"
        ),
    )


def _no_name(customer: Customer, subject: str) -> MappingProblem:
    return MappingProblem(
        code="missing_name",
        subject=subject,
        message=f"Customer {customer.customer_number} has no name: a debtor needs one",
    )


def _no_preferred_channel(
    customer: Customer, subject: str, opened: frozenset[Channel]
) -> MappingProblem:
    return MappingProblem(
        code="no_preferred_channel",
        subject=subject,
        message=(
            f"Customer {customer.customer_number} can only be reached by channels left out of "
            "the company's channel list: the collector will use its own order"
        ),
        detail={"opened": sorted(opened)},
    )
