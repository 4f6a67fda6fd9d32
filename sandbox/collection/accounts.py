"""Collection accounts: the partner's ``POST /v1/accounts``, ``GET /v1/account`` and seeding.

Seeded accounts stand for companies that already use the platform (to be linked with the code
flow); they have no ``external_ref``. An account created through the API gets a grant for the
partner's client with every account scope. Duplicate ``external_ref`` or CVR → 409
``account_exists`` with ``account_id``.
"""

from __future__ import annotations

import random
import re
from typing import Any

from aiohttp import web

from sandbox.collection.auth import require, require_partner
from sandbox.collection.grants import create_grant, issue_pair
from sandbox.collection.problems import ApiError, invalid, json_body, json_response
from sandbox.collection.state import ALL_SCOPES, STATE, Account, CollectionState

routes = web.RouteTableDef()
SEED_NAMES = ("Nordlys ApS", "Fjordhavn A/S", "Bakkegaard I/S", "Skovly Handel ApS", "Havbryn A/S")


def seed_accounts(state: CollectionState, count: int) -> None:
    rng = random.Random(state.seed)
    for index in range(count):
        name = SEED_NAMES[index % len(SEED_NAMES)]
        if index >= len(SEED_NAMES):
            name = f"{name} {index // len(SEED_NAMES) + 1}"
        account = Account(
            id=state.new_id("acc"),
            name=name,
            cvr=f"{rng.randrange(10_000_000, 99_999_999)}",
            country="DK",
            email=f"owner{index + 1}@example.dk",
            base_currency="DKK",
            external_ref=None,
            created_at=state.now_rfc3339(),
        )
        state.accounts[account.id] = account


def validate_account(body: dict[str, Any]) -> list[dict[str, str]]:
    errors = []
    for name in ("name", "country", "email", "base_currency", "external_ref"):
        if not isinstance(body.get(name), str) or not body[name]:
            errors.append({"field": name, "message": "required string"})
    if body.get("cvr") is not None and not re.fullmatch(r"\d{8}", str(body["cvr"])):
        errors.append({"field": "cvr", "message": "a CVR number has 8 digits"})
    if isinstance(body.get("external_ref"), str) and not body["external_ref"].startswith(
        "economic:"
    ):
        errors.append({"field": "external_ref", "message": "expected economic:<agreementNumber>"})
    if isinstance(body.get("base_currency"), str) and not re.fullmatch(
        r"[A-Z]{3}", body["base_currency"]
    ):
        errors.append({"field": "base_currency", "message": "an ISO 4217 code"})
    return errors


@routes.post("/v1/accounts")
async def create_account(request: web.Request) -> web.Response:
    state = request.app[STATE]
    partner = require_partner(request)
    body = await json_body(request)
    errors = validate_account(body)
    if errors:
        raise invalid(errors)
    for existing in state.accounts.values():
        same_ref = existing.external_ref == body["external_ref"]
        if same_ref or (body.get("cvr") and existing.cvr == body["cvr"]):
            raise ApiError(
                409,
                "account_exists",
                "an account for this company exists: link it instead",
                extra={"account_id": existing.id},
            )
    account = Account(
        id=state.new_id("acc"),
        name=body["name"],
        cvr=body.get("cvr"),
        country=body["country"],
        email=body["email"],
        base_currency=body["base_currency"],
        external_ref=body["external_ref"],
        created_at=state.now_rfc3339(),
    )
    state.accounts[account.id] = account
    grant = create_grant(state, account.id, partner.client_id, ALL_SCOPES)
    pair = issue_pair(state, grant)
    return json_response({"account": account.public(), "grant": pair}, status=201)


@routes.get("/v1/account")
async def get_account(request: web.Request) -> web.Response:
    state = request.app[STATE]
    account_id = require(request)
    return json_response(state.accounts[account_id].public())
