"""The pure parts of ``/api/v1`` access: the role order, reading a bearer header, CSRF, paging,
and the route table's own rules (no network, no clock)."""

from __future__ import annotations

import itertools

import pytest

from plugin.api import build_api
from plugin.api.auth import agreement_number, bearer_token, check_csrf, require_role
from plugin.api.errors import ApiError, Forbidden, Invalid
from plugin.api.paging import DEFAULT_LIMIT, decode_cursor, encode_cursor, page_request
from plugin.api.registry import Api, Param
from plugin.roles import ROLES, allows
from sync.store.users import Role


async def _handler(request: object, who: object) -> object:
    raise AssertionError("never called")


# -- roles ------------------------------------------------------------------------------------


def test_roles_are_ordered_guest_caseworker_admin() -> None:
    assert ROLES == ("guest", "caseworker", "admin")
    expected = {
        ("guest", "guest"): True,
        ("guest", "caseworker"): False,
        ("guest", "admin"): False,
        ("caseworker", "guest"): True,
        ("caseworker", "caseworker"): True,
        ("caseworker", "admin"): False,
        ("admin", "guest"): True,
        ("admin", "caseworker"): True,
        ("admin", "admin"): True,
    }
    assert {pair: allows(*pair) for pair in itertools.product(ROLES, ROLES)} == expected


@pytest.mark.parametrize(("role", "needed"), [("guest", "caseworker"), ("caseworker", "admin")])
def test_a_role_too_low_is_403(role: Role, needed: Role) -> None:
    with pytest.raises(Forbidden) as refused:
        require_role(role, needed)
    assert (refused.value.status, refused.value.code) == (403, "role_required")
    assert needed in refused.value.detail


@pytest.mark.parametrize("role", ROLES)
def test_a_role_high_enough_passes(role: Role) -> None:
    require_role(role, "guest")
    require_role("admin", role)


# -- credentials ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer cbt_abc", "cbt_abc"),
        ("bearer cbt_abc", "cbt_abc"),
        ("BEARER   cbt_abc  ", "cbt_abc"),
        ("Bearer", None),
        ("Bearer ", None),
        ("Basic dXNlcjpwdw==", None),
        ("Bearer a b", None),
        ("cbt_abc", None),
        ("", None),
    ],
)
def test_bearer_header(header: str, token: str | None) -> None:
    assert bearer_token(header) == token


@pytest.mark.parametrize(
    ("text", "number"),
    [("1001", 1001), ("0", 0), ("abc", None), ("-1", None), ("1.0", None), ("١٢", None)],
)
def test_agreement_numbers(text: str, number: int | None) -> None:
    assert agreement_number(text) == number
    assert agreement_number("9" * 19) is None  # past BIGINT: cannot exist


def test_csrf_is_needed_for_every_method_that_can_change_something() -> None:
    for method in ("GET", "HEAD", "OPTIONS"):
        check_csrf(method, None, "expected")
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        check_csrf(method, "expected", "expected")
        for sent in (None, "", "wrong", "expected "):
            with pytest.raises(Forbidden) as refused:
                check_csrf(method, sent, "expected")
            assert refused.value.code == "csrf_failed"


# -- paging -----------------------------------------------------------------------------------


def test_paging_defaults_and_limits() -> None:
    assert page_request({}).limit == DEFAULT_LIMIT == 100
    assert page_request({"cursor": "", "limit": ""}).after == 0
    assert page_request({"limit": "1"}).limit == 1
    assert page_request({"limit": "500"}).limit == 500
    for bad in ("0", "501", "-1", "1e2", "ten", " 5", "9" * 5000):
        with pytest.raises(Invalid) as refused:
            page_request({"limit": bad})
        assert (refused.value.status, refused.value.code) == (422, "invalid_limit")


def test_a_cursor_comes_back_as_its_position() -> None:
    for after in (0, 1, 2**40):
        assert decode_cursor(encode_cursor(after)) == after
        assert page_request({"cursor": encode_cursor(after)}).after == after
    too_far = encode_cursor(2**63)  # past PostgreSQL's BIGINT: refused, not a 500
    for bad in ("!!", "e30", "eyJhZnRlciI6LTF9", "eyJhZnRlciI6ImEifQ", "eyJ4IjoxfQ", too_far):
        with pytest.raises(Invalid) as refused:
            decode_cursor(bad)
        assert refused.value.code == "invalid_cursor"


# -- the route table --------------------------------------------------------------------------


def test_a_company_route_must_go_through_member_route_and_back() -> None:
    api = Api()
    with pytest.raises(ValueError, match="member_route"):
        api.caller_route("GET", "/installations/{agreement}", _handler, summary="", response=None)
    with pytest.raises(ValueError, match="caller_route"):
        api.member_route("GET", "/jobs", _handler, role="guest", summary="", response=None)


def test_every_path_parameter_is_described_and_no_route_is_added_twice() -> None:
    api = Api()
    with pytest.raises(ValueError, match="path parameters"):
        api.caller_route("GET", "/jobs/{job_id}", _handler, summary="", response=None)
    job_id = Param(name="job_id", location="path", description="", schema={"type": "integer"})
    api.caller_route("GET", "/jobs/{job_id}", _handler, summary="", response=None, params=[job_id])
    with pytest.raises(ValueError, match="twice"):
        api.caller_route(
            "GET", "/jobs/{job_id}", _handler, summary="", response=None, params=[job_id]
        )


def test_the_description_names_each_routes_errors_and_roles() -> None:
    document = build_api().openapi("https://collect.example.com")
    listing = document["paths"]["/api/v1/installations"]["get"]
    assert set(listing["responses"]) == {"200", "401", "422"}
    one = document["paths"]["/api/v1/installations/{agreement}"]["get"]
    assert set(one["responses"]) == {"200", "401", "404"}  # guest: no role can be too low
    assert one["x-role"] == "guest"
    assert one["parameters"][0]["name"] == "agreement" and one["parameters"][0]["required"]
    operation_ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))


def test_api_errors_carry_status_and_code() -> None:
    error: ApiError = Invalid("invalid_limit", "limit must be …")
    assert (error.status, error.code, str(error)) == (422, "invalid_limit", "limit must be …")
