"""The receivers' pure checks: Standard Webhooks verification (the specification's example
vector, cross-checked with the reference ``standardwebhooks`` package) and the placeholders of
e-conomic hints with the jobs they make."""

from __future__ import annotations

import base64
import datetime as dt
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from sync import schedules
from webhooks.hints import (
    CustomerHint,
    DaybookHint,
    HintError,
    InvoiceHint,
    encode_hint,
    hint_dedupe_key,
    hint_job,
    parse_hint,
)
from webhooks.verify import TOLERANCE_SECONDS, VerificationError, secret_key, sign, verify

# The example of the Standard Webhooks specification (spec/standard-webhooks.md).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
OTHER_SECRET = "whsec_" + base64.b64encode(b"another secret of 32 bytes......").decode()


def spec_headers(**changes: str) -> dict[str, str]:
    headers = {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": SPEC_SIGNATURE,
    }
    headers.update({k.replace("_", "-"): v for k, v in changes.items()})
    return headers


def code_of(body: bytes, headers: dict[str, str], secrets: list[str], now: float) -> str:
    with pytest.raises(VerificationError) as caught:
        verify(body, headers, secrets, now)
    return caught.value.code


def reference_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    at = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    return Webhook(secret).sign(msg_id, at, body.decode())


# -- the specification's vector ---------------------------------------------------------------


def test_the_specification_vector_verifies_and_gives_the_event_id() -> None:
    assert verify(SPEC_BODY, spec_headers(), [SPEC_SECRET], SPEC_TIMESTAMP) == SPEC_ID


def test_the_reference_package_signs_the_vector_as_the_specification_says() -> None:
    assert reference_signature(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE
    digest = sign(secret_key(SPEC_SECRET) or b"", SPEC_ID, str(SPEC_TIMESTAMP), SPEC_BODY)
    assert "v1," + base64.b64encode(digest).decode() == SPEC_SIGNATURE


@settings(max_examples=60, deadline=None)
@given(
    key=st.binary(min_size=1, max_size=64),
    msg_id=st.text(st.characters(codec="ascii", exclude_characters=" ,"), min_size=1),
    body=st.text(max_size=300),
    age=st.integers(min_value=-200, max_value=200),
)
def test_we_and_the_reference_package_agree(key: bytes, msg_id: str, body: str, age: int) -> None:
    """Either side signs, the other verifies, at the wall clock the package reads."""
    secret = "whsec_" + base64.b64encode(key).decode()
    now = time.time()
    stamp = int(now) - age
    raw = body.encode()
    theirs = reference_signature(secret, msg_id, stamp, raw)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(stamp), "webhook-signature": theirs}
    assert verify(raw, headers, [secret], now) == msg_id
    ours = "v1," + base64.b64encode(sign(key, msg_id, str(stamp), raw)).decode()
    Webhook(secret).verify(raw, headers | {"webhook-signature": ours}, json_parse=False)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(raw + b"x", headers, json_parse=False)
    assert code_of(raw + b"x", headers, [secret], now) == "no_matching_signature"


# -- what is refused --------------------------------------------------------------------------


def test_a_tampered_body_is_refused() -> None:
    assert code_of(SPEC_BODY[:-1] + b"5}", spec_headers(), [SPEC_SECRET], SPEC_TIMESTAMP) == (
        "no_matching_signature"
    )
    assert code_of(SPEC_BODY + b" ", spec_headers(), [SPEC_SECRET], SPEC_TIMESTAMP) == (
        "no_matching_signature"
    )


@pytest.mark.parametrize(
    "signature",
    [
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyYlE3uFJELVlNIOLJ1OE=",  # one character changed
        "v1,h0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",  # another version
        "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",  # no version
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1O",  # cut short (no base64 of a digest)
        "v1,not base64!",
        "v1,",
        "v1",
    ],
)
def test_a_tampered_signature_is_refused(signature: str) -> None:
    headers = spec_headers(webhook_signature=signature)
    assert code_of(SPEC_BODY, headers, [SPEC_SECRET], SPEC_TIMESTAMP) == "no_matching_signature"


def test_the_wrong_secret_is_refused_and_no_secret_matches_nothing() -> None:
    assert code_of(SPEC_BODY, spec_headers(), [OTHER_SECRET], SPEC_TIMESTAMP) == (
        "no_matching_signature"
    )
    assert code_of(SPEC_BODY, spec_headers(), [], SPEC_TIMESTAMP) == "no_matching_signature"
    for broken in ("whsec_", "whsec_!!!not-base64", ""):
        assert code_of(SPEC_BODY, spec_headers(), [broken], SPEC_TIMESTAMP) == (
            "no_matching_signature"
        )


def test_timestamps_more_than_five_minutes_away_are_refused() -> None:
    at = SPEC_TIMESTAMP
    assert verify(SPEC_BODY, spec_headers(), [SPEC_SECRET], at + TOLERANCE_SECONDS) == SPEC_ID
    assert verify(SPEC_BODY, spec_headers(), [SPEC_SECRET], at - TOLERANCE_SECONDS) == SPEC_ID
    stale = code_of(SPEC_BODY, spec_headers(), [SPEC_SECRET], at + TOLERANCE_SECONDS + 1)
    future = code_of(SPEC_BODY, spec_headers(), [SPEC_SECRET], at - TOLERANCE_SECONDS - 1)
    assert (stale, future) == ("stale_timestamp", "future_timestamp")


def test_a_fresh_timestamp_does_not_help_a_signature_made_for_another() -> None:
    headers = spec_headers(webhook_timestamp=str(SPEC_TIMESTAMP + 1))
    assert code_of(SPEC_BODY, headers, [SPEC_SECRET], SPEC_TIMESTAMP) == "no_matching_signature"


@pytest.mark.parametrize("stamp", ["abc", "1614265330.5", "-1614265330", " 1614265330", "1e9"])
def test_a_timestamp_that_is_not_unix_seconds_is_refused(stamp: str) -> None:
    headers = spec_headers(webhook_timestamp=stamp)
    assert code_of(SPEC_BODY, headers, [SPEC_SECRET], SPEC_TIMESTAMP) == "bad_timestamp"


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_or_empty_headers_are_refused(missing: str) -> None:
    without = {k: v for k, v in spec_headers().items() if k != missing}
    assert code_of(SPEC_BODY, without, [SPEC_SECRET], SPEC_TIMESTAMP) == "missing_headers"
    empty = spec_headers() | {missing: ""}
    assert code_of(SPEC_BODY, empty, [SPEC_SECRET], SPEC_TIMESTAMP) == "missing_headers"
    assert code_of(SPEC_BODY, {}, [SPEC_SECRET], SPEC_TIMESTAMP) == "missing_headers"


def test_header_names_are_case_insensitive() -> None:
    headers = {k.title(): v for k, v in spec_headers().items()}
    assert verify(SPEC_BODY, headers, [SPEC_SECRET], SPEC_TIMESTAMP) == SPEC_ID


# -- rotation ---------------------------------------------------------------------------------


def test_rotation_either_side_may_hold_two_secrets() -> None:
    old_signature = reference_signature(OTHER_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    both = spec_headers(webhook_signature=f"{old_signature} {SPEC_SIGNATURE}")
    # The platform signs with old and new; we hold either one, or both.
    for ours in ([SPEC_SECRET], [OTHER_SECRET], [OTHER_SECRET, SPEC_SECRET]):
        assert verify(SPEC_BODY, both, ours, SPEC_TIMESTAMP) == SPEC_ID
    # The platform signs with one; we hold the old and the new.
    for signature in (old_signature, SPEC_SIGNATURE):
        one = spec_headers(webhook_signature=signature)
        assert verify(SPEC_BODY, one, [SPEC_SECRET, OTHER_SECRET], SPEC_TIMESTAMP) == SPEC_ID
    third = "whsec_" + base64.b64encode(b"a third secret, held by nobody.").decode()
    assert code_of(SPEC_BODY, both, [third], SPEC_TIMESTAMP) == "no_matching_signature"


def test_every_listed_signature_is_tried_whatever_else_is_listed() -> None:
    noise = " ".join(["v1a,abc", "v2,xyz", "v1,AAAA", "garbage"] * 20)
    headers = spec_headers(webhook_signature=f"{noise} {SPEC_SIGNATURE} {noise}")
    assert verify(SPEC_BODY, headers, [OTHER_SECRET, SPEC_SECRET], SPEC_TIMESTAMP) == SPEC_ID


def test_a_secret_without_its_prefix_or_padding_works() -> None:
    bare = SPEC_SECRET.removeprefix("whsec_")
    assert verify(SPEC_BODY, spec_headers(), [bare], SPEC_TIMESTAMP) == SPEC_ID
    unpadded = "whsec_" + base64.b64encode(b"0123456789abcdefghijklmnopqrstu").decode().rstrip("=")
    assert secret_key(unpadded) == b"0123456789abcdefghijklmnopqrstu"


# -- e-conomic placeholders -------------------------------------------------------------------


def test_placeholders_parse_into_hints() -> None:
    assert parse_hint("invoice", [("number", "10001")]) == InvoiceHint(number=10001)
    assert parse_hint("customer", [("new", "42"), ("old", "41")]) == CustomerHint(number=42, old=41)
    assert parse_hint("customer", [("new", "42"), ("old", "")]) == CustomerHint(number=42)
    assert parse_hint("customer", [("old", "41")]) == CustomerHint(number=41, old=41)
    assert parse_hint("daybook", [("daybook", "3"), ("from", "120"), ("to", "131")]) == (
        DaybookHint(daybook=3, first=120, last=131)
    )
    # Parameters we do not know are ignored (a subscription may add its own).
    assert parse_hint("invoice", [("number", "7"), ("utm", "x")]) == InvoiceHint(number=7)


@pytest.mark.parametrize(
    ("topic", "query"),
    [
        ("invoice", []),
        ("invoice", [("number", "")]),
        ("invoice", [("number", "0")]),
        ("invoice", [("number", "-5")]),
        ("invoice", [("number", "+5")]),
        ("invoice", [("number", "1.0")]),
        ("invoice", [("number", " 5")]),
        ("invoice", [("number", "[INVOICENO]")]),  # the placeholder left unfilled
        ("invoice", [("number", "١٢")]),  # digits, but not ASCII ones
        ("invoice", [("number", "1" * 19)]),  # more than a BIGINT holds
        ("invoice", [("number", "5"), ("number", "6")]),
        ("customer", []),
        ("customer", [("new", ""), ("old", "")]),
        ("customer", [("new", "[NEWNUMBER]"), ("old", "[OLDNUMBER]")]),
        ("customer", [("new", "42"), ("old", "x")]),
        ("daybook", [("daybook", "3"), ("from", "120")]),
        ("daybook", [("daybook", "3"), ("from", "a"), ("to", "131")]),
        ("daybook", [("daybook", "0"), ("from", "1"), ("to", "2")]),
        ("ledger", [("number", "1")]),
    ],
)
def test_malformed_placeholders_are_refused(topic: str, query: list[tuple[str, str]]) -> None:
    with pytest.raises(HintError):
        parse_hint(topic, query)


def test_each_hint_makes_the_coalescing_job_of_its_record() -> None:
    assert hint_job(InvoiceHint(number=10001), 7, 555) == schedules.invoice(7, 555, 10001)
    assert hint_job(CustomerHint(number=42, old=41), 7, 555) == schedules.customer(7, 555, 42, 41)
    assert hint_job(CustomerHint(number=42), 7, 555) == schedules.customer(7, 555, 42)
    assert hint_job(DaybookHint(daybook=3, first=1, last=2), 7, 555) == (
        schedules.remainders(7, 555)
    )
    assert schedules.invoice(7, 555, 10001).dedupe_key == "invoice:555:10001"


def test_a_hint_keeps_its_placeholders_and_a_key_of_its_delivery() -> None:
    hint = CustomerHint(number=42, old=41)
    assert encode_hint(hint) == b'{"type":"customer","number":42,"old":41}'
    assert hint_dedupe_key(7, "customer", hint, "abc") == "economic:7:customer:42:abc"
