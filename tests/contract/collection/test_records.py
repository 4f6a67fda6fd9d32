"""Accounts, debtor and claim upserts, batches, documents and problem+json errors."""

from __future__ import annotations

import io

from tests.contract.collection.support import (
    Api,
    account_api,
    claim,
    debtor,
    problem_shape_ok,
)
from tests.fixtures.collection import CollectionSandbox

NEW_ACCOUNT = {
    "name": "Ny Kunde ApS",
    "cvr": "87654321",
    "country": "DK",
    "email": "ejer@nykunde.dk",
    "base_currency": "DKK",
    "external_ref": "economic:7001",
}


async def test_partner_creates_an_account_with_a_grant(
    collection_sandbox: CollectionSandbox,
) -> None:
    partner = Api(collection_sandbox, await collection_sandbox.partner_token())
    reply = await partner("POST", "/v1/accounts", NEW_ACCOUNT)
    assert reply.status == 201, reply.body
    account, grant = reply.body["account"], reply.body["grant"]
    assert account["name"] == "Ny Kunde ApS" and account["cvr"] == "87654321"
    assert grant["refresh_token"] and grant["expires_in"] == 3600
    assert "claims:write" in grant["scope"].split()
    own = await Api(collection_sandbox, grant["access_token"])("GET", "/v1/account")
    assert own.status == 200
    assert set(own.body) == {"id", "name", "cvr", "country", "base_currency", "created_at"}
    assert own.body["id"] == account["id"]
    # The authorize page can now sign in the new account's owner too.
    linked = await collection_sandbox.link(account["id"])
    assert linked["account_id"] == account["id"]


async def test_duplicate_account_is_409_account_exists(
    collection_sandbox: CollectionSandbox,
) -> None:
    partner = Api(collection_sandbox, await collection_sandbox.partner_token())
    first = await partner("POST", "/v1/accounts", NEW_ACCOUNT)
    same_ref = await partner("POST", "/v1/accounts", {**NEW_ACCOUNT, "cvr": None})
    assert same_ref.status == 409
    assert problem_shape_ok(same_ref.body, 409, "account_exists")
    assert same_ref.body["account_id"] == first.body["account"]["id"]
    same_cvr = await partner("POST", "/v1/accounts", {**NEW_ACCOUNT, "external_ref": "economic:9"})
    assert same_cvr.status == 409 and same_cvr.body["account_id"] == first.body["account"]["id"]
    account_token = Api(collection_sandbox, first.body["grant"]["access_token"])
    refused = await account_token(
        "POST", "/v1/accounts", {**NEW_ACCOUNT, "external_ref": "economic:8"}
    )
    assert refused.status == 403 and refused.body["code"] == "insufficient_scope"


async def test_debtor_upsert_versions(collection_sandbox: CollectionSandbox) -> None:
    api = await account_api(collection_sandbox)
    created = await api("PUT", "/v1/debtors/C1", debtor())
    assert created.status == 201 and created.body["version"] == 1
    same = await api("PUT", "/v1/debtors/C1", debtor())
    assert same.status == 200 and same.body["version"] == 1
    assert same.body["id"] == created.body["id"]
    changed = await api("PUT", "/v1/debtors/C1", debtor(email="ny@kunde.dk"))
    assert changed.status == 200 and changed.body["version"] == 2
    bad = await api("PUT", "/v1/debtors/C2", debtor(kind="robot", address={}))
    assert bad.status == 422
    assert problem_shape_ok(bad.body, 422, "validation_failed")
    fields = {e["field"] for e in bad.body["errors"]}
    assert {"kind", "address.street"} <= fields


async def test_claim_needs_its_debtor_and_locks_after_handover(
    collection_sandbox: CollectionSandbox,
) -> None:
    api = await account_api(collection_sandbox)
    orphan = await api("PUT", "/v1/claims/1001", claim("NOPE"))
    assert orphan.status == 422 and orphan.body["code"] == "validation_failed"
    await api("PUT", "/v1/debtors/C1", debtor())
    created = await api("PUT", "/v1/claims/1001", claim())
    assert created.status == 201
    assert created.body["state"] == "monitoring" and created.body["version"] == 1
    edited = await api("PUT", "/v1/claims/1001", claim(remaining_amount=900_000))
    assert edited.status == 200 and edited.body["version"] == 2
    handed = await api("POST", "/v1/claims/1001/handover", {"start_step": "reminder_1"})
    assert handed.status == 202 and handed.body["case_id"]
    unchanged = await api("PUT", "/v1/claims/1001", claim(remaining_amount=900_000))
    assert unchanged.status == 200
    assert unchanged.body["version"] == 2 and unchanged.body["state"] == "in_collection"
    locked = await api("PUT", "/v1/claims/1001", claim(remaining_amount=800_000))
    assert locked.status == 409 and problem_shape_ok(locked.body, 409, "claim_locked")
    again = await api("POST", "/v1/claims/1001/handover", {"start_step": "reminder_1"})
    assert again.status == 409


async def test_handover_refuses_nothing_left(collection_sandbox: CollectionSandbox) -> None:
    api = await account_api(collection_sandbox)
    await api("PUT", "/v1/debtors/C1", debtor())
    await api("PUT", "/v1/claims/1001", claim(remaining_amount=0))
    reply = await api("POST", "/v1/claims/1001/handover", {"start_step": "reminder_1"})
    assert reply.status == 422 and reply.body["code"] == "validation_failed"


async def test_batch_partial_failure(collection_sandbox: CollectionSandbox) -> None:
    api = await account_api(collection_sandbox)
    debtors = [{"external_ref": "C1", **debtor()}, {"external_ref": "C2", **debtor(kind="x")}]
    reply = await api("POST", "/v1/debtors/batch", {"items": debtors})
    assert reply.status == 200
    first, second = reply.body["results"]
    assert (first["external_ref"], first["status"]) == ("C1", 201) and first["id"]
    assert (second["external_ref"], second["status"]) == ("C2", 422)
    assert problem_shape_ok(second["error"], 422, "validation_failed")
    await api("POST", "/v1/claims/1/handover", {})
    claims = [
        {"external_ref": "1", **claim("C1")},
        {"external_ref": "2", **claim("C2")},
        {"external_ref": "3", **claim("C1", invoice_number=3)},
    ]
    reply = await api("POST", "/v1/claims/batch", {"items": claims})
    assert [r["status"] for r in reply.body["results"]] == [201, 422, 201]
    await api("POST", "/v1/claims/1/handover", {"start_step": "reminder_1"})
    claims[0] = {"external_ref": "1", **claim("C1", remaining_amount=1)}
    reply = await api("POST", "/v1/claims/batch", {"items": claims})
    statuses = [r["status"] for r in reply.body["results"]]
    assert statuses == [409, 422, 200]
    assert reply.body["results"][0]["error"]["code"] == "claim_locked"
    too_many = await api("POST", "/v1/debtors/batch", {"items": [debtors[0]] * 501})
    assert too_many.status == 400 and problem_shape_ok(too_many.body, 400, "bad_request")


async def test_claim_document(collection_sandbox: CollectionSandbox) -> None:
    api = await account_api(collection_sandbox)
    await api("PUT", "/v1/debtors/C1", debtor())
    await api("PUT", "/v1/claims/1001", claim())
    pdf = b"%PDF-1.4\n%minimal\n"
    ok = await api(
        "PUT", "/v1/claims/1001/document", data=pdf, headers={"Content-Type": "application/pdf"}
    )
    assert ok.status == 204
    assert (
        collection_sandbox.state.claims[(collection_sandbox.account_ids[0], "1001")].document == pdf
    )
    text = await api(
        "PUT", "/v1/claims/1001/document", data=b"hello", headers={"Content-Type": "text/plain"}
    )
    assert text.status == 422
    big = b"%PDF-" + b"0" * (10 * 1024 * 1024)
    too_big = await api(
        "PUT",
        "/v1/claims/1001/document",
        data=io.BytesIO(big),
        headers={"Content-Type": "application/pdf"},
    )
    assert too_big.status == 422
    missing = await api(
        "PUT", "/v1/claims/404/document", data=pdf, headers={"Content-Type": "application/pdf"}
    )
    assert missing.status == 404 and problem_shape_ok(missing.body, 404, "not_found")


async def test_unknown_route_and_bad_json_are_problems(
    collection_sandbox: CollectionSandbox,
) -> None:
    api = await account_api(collection_sandbox)
    reply = await api("GET", "/v1/nothing-here")
    assert reply.status == 404
    assert reply.headers["Content-Type"].startswith("application/problem+json")
    assert problem_shape_ok(reply.body, 404, "not_found")
    bad = await api(
        "PUT", "/v1/debtors/C1", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert bad.status == 400 and problem_shape_ok(bad.body, 400, "bad_request")
