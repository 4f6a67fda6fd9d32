"""How the pages write amounts, days and moments: amounts by the currency's ISO 4217 exponent
(`sync.money`, never a float), in the reader's language's digit grouping; moments in
Copenhagen time, where the companies are."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import jinja2

from sync import money

COPENHAGEN = ZoneInfo("Europe/Copenhagen")


def amount(minor: int, currency: str, language: str = "en") -> str:
    """``DKK 1,234.50`` in English, ``1.234,50 DKK`` in Danish; an unknown currency as its
    minor units, since guessing its decimals would misstate it."""
    try:
        value = money.to_decimal(minor, currency)
    except money.UnknownCurrency:
        return f"{minor} {currency} (minor units)"
    places = money.exponent(currency)
    text = f"{value:,.{places}f}"
    if language == "da":
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
        return f"{text} {currency}"
    return f"{currency} {text}"


def day(value: dt.date | None) -> str:
    return value.isoformat() if value else "–"


def moment(value: dt.datetime | None) -> str:
    if value is None:
        return "–"
    return value.astimezone(COPENHAGEN).strftime("%Y-%m-%d %H:%M")


def setup_filters(environment: jinja2.Environment) -> None:
    environment.filters["amount"] = amount
    environment.filters["day"] = day
    environment.filters["moment"] = moment
