"""Helpers for the collection contract tests: an API caller and builders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from multidict import CIMultiDictProxy

from tests.fixtures.collection import CollectionSandbox


@dataclass
class Reply:
    status: int
    body: Any
    headers: CIMultiDictProxy[str]


class Api:
    """Calls the simulator as one account (or the partner) with a bearer token."""

    def __init__(self, sandbox: CollectionSandbox, token: str) -> None:
        self.sandbox = sandbox
        self.token = token

    async def __call__(
        self,
        method: str,
        path: str,
        json: Any = None,
        headers: dict[str, str] | None = None,
        data: Any = None,
    ) -> Reply:
        all_headers = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        async with self.sandbox.session.request(
            method, self.sandbox.url + path, json=json, data=data, headers=all_headers
        ) as resp:
            body: Any = None
            if resp.content_type.endswith("json"):
                body = await resp.json(content_type=None)
            else:
                body = await resp.read()
            return Reply(resp.status, body, resp.headers)


async def account_api(sandbox: CollectionSandbox, account_id: str | None = None) -> Api:
    grant = await sandbox.link(account_id)
    return Api(sandbox, grant["access_token"])


def debtor(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Kunde ApS",
        "kind": "company",
        "cvr": "12345678",
        "email": "bogholderi@kunde.dk",
        "address": {"street": "Vestergade 1", "zip": "8000", "city": "Aarhus", "country": "DK"},
        "language": "da",
        "channels": ["email", "letter"],
    }
    body.update(overrides)
    return body


def claim(debtor_ref: str = "C1", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "debtor_ref": debtor_ref,
        "kind": "invoice",
        "invoice_number": 1001,
        "issued_on": "2024-01-02",
        "due_on": "2024-02-01",
        "currency": "DKK",
        "net_amount": 800_000,
        "vat_amount": 200_000,
        "gross_amount": 1_000_000,
        "remaining_amount": 1_000_000,
        "description": "Consulting, January",
        "lines": [
            {
                "number": 1,
                "description": "Consulting",
                "quantity": "10",
                "unit": "hours",
                "unit_price": "800.00",
                "amount": 800_000,
                "vat_rate": 25,
            }
        ],
    }
    body.update(overrides)
    return body


def problem_shape_ok(body: Any, status: int, code: str) -> bool:
    return (
        isinstance(body, dict)
        and body.get("status") == status
        and body.get("code") == code
        and isinstance(body.get("type"), str)
        and isinstance(body.get("title"), str)
        and isinstance(body.get("detail"), str)
    )
