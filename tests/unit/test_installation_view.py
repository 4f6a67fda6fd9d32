"""`installation_view`: what the store knows of a company, mapped onto the documented shape."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from plugin.api.installations import installation_view, onboarding_state, stream_view
from sync.store.installations import Installation, Status
from sync.store.overviews import InstallationOverview
from sync.store.users import Role

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
CET = dt.timezone(dt.timedelta(hours=1))


def overview(
    *, role: Role = "guest", status: Status = "active", settings: dict[str, Any] | None = None
) -> InstallationOverview:
    installation = Installation(
        id=7,
        agreement_number=1001,
        installation_key="key",
        company_name="Nordlys ApS",
        status=status,
        collection_state="ok",
        collection_account_id="acc_1",
        settings=settings or {},
        created_at=NOW,
        updated_at=NOW,
    )
    return InstallationOverview(
        installation=installation,
        role=role,
        streams={"invoices": NOW - dt.timedelta(seconds=90)},
        last_received={"invoice": None, "customer": NOW.astimezone(CET), "daybook": None},
        economic_calls_24h=12,
    )


def shown(o: InstallationOverview) -> Any:
    return msgspec.json.decode(msgspec.json.encode(installation_view(o, now=NOW, budget_limit=99)))


def test_legacy_urls_are_shown_to_admins_only() -> None:
    assert shown(overview(role="admin"))["webhooks"]["economic"]["legacy_urls"] is None
    for role in ("guest", "caseworker"):
        assert "legacy_urls" not in shown(overview(role=role))["webhooks"]["economic"]


def test_timestamps_are_utc_and_lag_is_counted_from_now() -> None:
    body = shown(overview())
    assert body["webhooks"]["economic"]["last_received"]["customer"] == "2026-11-23T12:00:00Z"
    assert body["streams"]["invoices"] == {
        "last_success_at": "2026-11-23T11:58:30Z",
        "lag_seconds": 90,
    }
    assert body["streams"]["customers"] == {"last_success_at": None, "lag_seconds": None}
    # a success stamped a little after "now" (another machine's clock) is no negative lag
    assert stream_view(NOW + dt.timedelta(seconds=5), now=NOW).lag_seconds == 0


def test_connection_states() -> None:
    body = shown(overview())
    assert body["collection"] == {"state": "ok", "account_id": "acc_1"}
    assert body["economic"] == {"state": "ok"} and body["budget"] == {"used_24h": 12, "limit": 99}
    for status in ("revoked", "deleted"):
        assert shown(overview(status=status))["economic"] == {"state": "lost"}
    assert shown(overview(status="paused"))["economic"] == {"state": "ok"}


def test_onboarding_is_done_once_it_recorded_completion() -> None:
    assert onboarding_state({}) == "pending"
    assert onboarding_state({"onboarding": {"step": "accounts"}}) == "pending"
    assert onboarding_state({"onboarding": "garbled"}) == "pending"
    assert onboarding_state({"onboarding": {"completed_at": "2026-11-23T12:00:00Z"}}) == "done"
