"""Country names as e-conomic holds them → ISO 3166 alpha-2, and the debtor's language.

e-conomic stores a customer's country as free text, usually the Danish name ("Danmark",
"Tyskland"), sometimes English or the country's own name ("Denmark", "Deutschland", "Norge"). We
know the names below (matched case-insensitively, spaces collapsed, a trailing dot dropped) and
the alpha-2 codes of those countries written as such ("DK", "no"). Any other name is unknown:
`country_code` answers None and the mapping reports it instead of guessing.
"""

from __future__ import annotations

from typing import Literal

Language = Literal["da", "en", "sv", "nb"]

_NAMES: dict[str, tuple[str, ...]] = {
    "DK": ("danmark", "denmark", "dänemark", "danemark"),
    "SE": ("sverige", "sweden", "schweden", "suède"),
    "NO": ("norge", "noreg", "norway", "norwegen"),
    "FI": ("finland", "suomi", "finnland"),
    "IS": ("island", "iceland", "ísland"),
    "FO": ("færøerne", "faroe islands", "føroyar", "færøyane"),
    "GL": ("grønland", "greenland", "kalaallit nunaat"),
    "DE": ("tyskland", "germany", "deutschland"),
    "NL": ("holland", "nederlandene", "netherlands", "the netherlands", "nederland"),
    "BE": ("belgien", "belgium", "belgië", "belgique"),
    "LU": ("luxembourg", "luxemburg"),
    "FR": ("frankrig", "france", "frankreich"),
    "GB": ("storbritannien", "england", "united kingdom", "uk", "great britain", "skotland"),
    "IE": ("irland", "ireland", "éire"),
    "ES": ("spanien", "spain", "españa"),
    "PT": ("portugal",),
    "IT": ("italien", "italy", "italia"),
    "AT": ("østrig", "austria", "österreich"),
    "CH": ("schweiz", "switzerland", "suisse", "svizzera"),
    "PL": ("polen", "poland", "polska"),
    "CZ": ("tjekkiet", "czech republic", "czechia", "česko"),
    "EE": ("estland", "estonia", "eesti"),
    "LV": ("letland", "latvia", "latvija"),
    "LT": ("litauen", "lithuania", "lietuva"),
    "US": ("usa", "united states", "united states of america", "amerikas forenede stater"),
    "CA": ("canada",),
}
_BY_NAME: dict[str, str] = {
    name: code for code, names in _NAMES.items() for name in (*names, code.casefold())
}

# The Faroe Islands and Greenland read Danish in official mail; everywhere else outside the
# three Scandinavian languages the platform writes English.
_LANGUAGES: dict[str, Language] = {"DK": "da", "FO": "da", "GL": "da", "SE": "sv", "NO": "nb"}


def country_code(name: str) -> str | None:
    """``"Danmark"`` → ``"DK"``, ``"deutschland"`` → ``"DE"``, ``"no"`` → ``"NO"``; else None."""
    key = " ".join(name.split()).rstrip(".").casefold()
    return _BY_NAME.get(key)


def language_of(country: str) -> Language:
    """The language the collector writes to a debtor in ``country`` (alpha-2)."""
    return _LANGUAGES.get(country, "en")
