"""The marketplace listing (``manifest.json``) against its schema, the contracts and the repo.

Whether its URLs are routes the app serves is `tests/integration/test_manifest_urls.py`.
"""

from __future__ import annotations

import copy
import json
import re
import struct
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from yarl import URL

from plugin.install_flow import grant_page_url
from sandbox.collection.state import ALL_SCOPES, PARTNER_SCOPE
from sandbox.economic.webhooks import EVENT_TYPES, PLACEHOLDERS

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "plugin" / "manifest.schema.json").read_text())
MANIFEST = json.loads((ROOT / "manifest.json").read_text())
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)

# DESIGN.md, "External surface", word for word.
WEBHOOK_TEMPLATES = {
    "invoice": "{public}/webhooks/economic/{installation_key}/{url_secret}/invoice"
    "?number=[INVOICENO]",
    "customer": "{public}/webhooks/economic/{installation_key}/{url_secret}/customer"
    "?new=[NEWNUMBER]&old=[OLDNUMBER]",
    "daybook": "{public}/webhooks/economic/{installation_key}/{url_secret}/daybook"
    "?daybook=[DAYBOOKNO]&from=[FROMSERIALNO]&to=[TOSERIALNO]",
}
COLLECTION_WEBHOOK = "{public}/webhooks/collection/{installation_key}"


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


DELETE = object()


def changed(path: str, value: Any) -> dict[str, Any]:
    """The manifest with one field (``a.b.0.c``) replaced, or removed when value is DELETE."""
    listing = copy.deepcopy(MANIFEST)
    *parents, last = path.split(".")
    node: Any = listing
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    index: Any = int(last) if isinstance(node, list) else last
    if value is DELETE:
        del node[index]
    else:
        node[index] = value
    return listing


def test_schema_is_valid_and_manifest_conforms() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    assert sorted(e.message for e in VALIDATOR.iter_errors(MANIFEST)) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("name", "Collect Bridge"),
        ("version", "0.1"),
        ("surprise", "an unknown top-level field"),
        ("title.da", DELETE),
        ("summary.en", DELETE),
        ("description.da", "For kort."),
        ("description.de", "Eine dritte Sprache, die keiner pflegt." * 10),
        ("vendor.website", "http://collectbridge.example"),
        ("support.email", "nobody"),
        ("support.url", "https://collectbridge.example/support"),
        ("legal.data_processing_agreement", DELETE),
        ("legal.privacy_policy.en", "/privacy"),
        ("category.en", DELETE),
        ("locales", ["en-US"]),
        ("locales", ["da-DK", "en-US", "de-DE"]),
        ("icons", [{"path": "assets/icons/only.svg", "type": "image/svg+xml", "size": "any"}]),
        ("icons.0.path", "/etc/collectbridge.svg"),
        ("icons.1.size", "any"),
        ("urls.install", "http://elsewhere/install/economic"),
        ("urls.redirect", "{public}/install/economic/return"),
        ("urls.settings", "/settings"),
        ("urls.settings", "{public}/settings?tab=1"),
        ("economic.role.name", "Admin"),
        ("economic.role.why.da", DELETE),
        ("economic.modules.0.access", "write"),
        ("economic.modules.0.endpoints", ["FETCH /self"]),
        ("economic.modules.0.why", {"en": "only one language is not enough for a listing"}),
        ("economic.webhooks.topics.invoice.url", "{public}/webhooks/economic/invoice?n=[N]"),
        ("economic.webhooks.topics.customer.event_types", ["CUSTOMER_UPDATED"]),
        ("economic.webhooks.topics.ledger", {"url": "x", "event_types": ["INVOICE_BOOKED"]}),
        ("economic.webhooks.methods", ["POST"]),
        ("collection.scopes", ["debtors:write", "everything:manage"]),
        ("collection.webhook.url", "{public}/webhooks/collection"),
        ("url_variables.url_secret", DELETE),
    ],
)
def test_schema_refuses_bad_listings(path: str, value: Any) -> None:
    assert list(VALIDATOR.iter_errors(changed(path, value)))


def test_version_is_the_distributions() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert MANIFEST["version"] == project["version"]


def test_install_and_redirect_urls_are_what_the_install_flow_sends() -> None:
    public = "https://bridge.example"
    grant_page = URL(
        grant_page_url(
            "https://secure.e-conomic.com/secure/api1/requestaccess.aspx",
            app_public_token="public-token",
            public_url=public + "/",
        )
    )
    urls = MANIFEST["urls"]
    assert grant_page.query["redirectUrl"] == urls["redirect"].format(public=public)
    assert urls["install"] == "{public}/install/economic"


def test_webhook_templates_are_the_external_surface() -> None:
    topics = MANIFEST["economic"]["webhooks"]["topics"]
    assert {name: topic["url"] for name, topic in topics.items()} == WEBHOOK_TEMPLATES
    assert MANIFEST["collection"]["webhook"]["url"] == COLLECTION_WEBHOOK


def test_webhook_topics_follow_the_contract() -> None:
    """Each contract event type under its topic once, with exactly that topic's placeholders."""
    topics = MANIFEST["economic"]["webhooks"]["topics"]
    listed = [(e, name) for name, topic in topics.items() for e in topic["event_types"]]
    assert sorted(listed) == sorted((event, topic) for event, _, topic in EVENT_TYPES)
    for name, topic in topics.items():
        assert re.findall(r"\[[A-Z]+\]", topic["url"]) == list(PLACEHOLDERS[name])


def test_collection_scopes_are_the_contracts() -> None:
    assert MANIFEST["collection"]["scopes"] == list(ALL_SCOPES)
    assert MANIFEST["collection"]["partner_scopes"] == [PARTNER_SCOPE]


def test_every_url_variable_is_declared_and_used() -> None:
    urls = [s for s in strings(MANIFEST) if s.startswith("{public}")]
    used = {name for url in urls for name in re.findall(r"\{(\w+)\}", url)}
    assert used == set(MANIFEST["url_variables"])


def test_role_covers_what_the_modules_need() -> None:
    """Customers and /self (Sales, not Bookkeeping) and journals (Bookkeeping, not Sales) are
    both needed, and the Webhooks API is managed: only SuperUser covers that."""
    economic = MANIFEST["economic"]
    endpoints = {e for m in economic["modules"] for e in m["endpoints"]}
    assert {"GET /self", "GET /customers", "POST /journals/{journalNumber}/vouchers"} <= endpoints
    assert any(e.startswith("POST /webhooksapi/") for e in endpoints)
    assert economic["role"]["name"] == "SuperUser"
    assert economic["addon_modules"] == []
    ids = [m["id"] for m in economic["modules"]]
    assert len(ids) == len(set(ids))


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert (depth, colour) == (8, 6)  # 8-bit RGBA
    return width, height


@pytest.mark.parametrize("icon", MANIFEST["icons"], ids=lambda icon: icon["path"])
def test_icons_are_files_in_the_repo(icon: dict[str, str]) -> None:
    path = (ROOT / icon["path"]).resolve()
    assert path.is_relative_to(ROOT) and path.is_file()
    if icon["type"] == "image/png":
        assert "x".join(map(str, png_size(path.read_bytes()))) == icon["size"]
    else:
        svg = ET.fromstring(path.read_text())
        assert svg.tag == "{http://www.w3.org/2000/svg}svg"
        _, _, width, height = map(float, svg.attrib["viewBox"].split())
        assert width == height


def test_texts_are_translated_not_copied() -> None:
    for field in ("title", "summary", "description"):
        assert MANIFEST[field]["da"] != MANIFEST[field]["en"]
    for module in MANIFEST["economic"]["modules"]:
        assert module["why"]["da"] != module["why"]["en"]
