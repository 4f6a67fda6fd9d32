"""The marketplace listing validates against its schema, and its URLs are routes we serve."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "plugin" / "manifest.schema.json").read_text())
MANIFEST = json.loads((ROOT / "manifest.json").read_text())


def test_schema_is_valid_and_manifest_conforms() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    errors = sorted(Draft202012Validator(SCHEMA).iter_errors(MANIFEST), key=str)
    assert errors == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "Collect Bridge"),
        ("install_url", "http://elsewhere"),
        ("locales", []),
        ("support_email", "nobody"),
    ],
)
def test_schema_refuses_bad_listings(field: str, value: object) -> None:
    assert list(Draft202012Validator(SCHEMA).iter_errors({**MANIFEST, field: value}))


def test_listing_uses_the_external_surface_paths() -> None:
    assert MANIFEST["install_url"] == "/install/economic"
    assert MANIFEST["redirect_url"] == "/install/economic/callback"
