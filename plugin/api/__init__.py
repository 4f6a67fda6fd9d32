"""``/api/v1``: JSON for scripts, described by ``/api/v1/openapi.json``.

    errors.py         problem+json errors and the middleware that answers them
    auth.py           who calls (API token or session + CSRF), as a member of which company
    registry.py       the route table every API route is added to, and the OpenAPI document
    paging.py         ?cursor=&limit= and next_cursor
    shapes.py         the JSON shapes answered
    installations.py  GET /installations, GET /installations/{agreement}
    lifecycle.py      POST /installations/{agreement}/pause, …/resume, …/disconnect
    onboarding.py     PUT /installations/{agreement}/onboarding
    claims.py         …/claims and their actions
    policy.py         …/policy, …/problems
    jobs.py           POST …/resync, GET /jobs/{job_id}, POST /jobs/{job_id}/retry
    writeoffs.py      GET …/write-offs, POST …/write-offs/{id}/approve
    outbox.py         GET …/outbox, POST …/outbox/{id}/retry
    reconciliation.py GET …/reconciliation?month=YYYY-MM (JSON or CSV)
    tokens.py         GET and POST /tokens, DELETE /tokens/{token_id}
    inbox.py          GET /inbox, POST /inbox/{id}/replay
    webhooks.py       POST …/webhooks/economic/rotate, …/webhooks/collection/rotate
    debtors.py        GET …/debtors/{customer_number}/export, POST …/erase (personal data)

A new group of routes is a module with ``add_routes(api)``, called from `setup_routes`.
"""

from __future__ import annotations

from aiohttp import web

from plugin.api import (
    claims,
    company,
    debtors,
    inbox,
    installations,
    jobs,
    lifecycle,
    onboarding,
    outbox,
    policy,
    reconciliation,
    tokens,
    webhooks,
    writeoffs,
)
from plugin.api.registry import Api


def build_api() -> Api:
    api = Api()
    installations.add_routes(api)
    lifecycle.add_routes(api)
    onboarding.add_routes(api)
    claims.add_routes(api)
    policy.add_routes(api)
    jobs.add_routes(api)
    tokens.add_routes(api)
    writeoffs.add_routes(api)
    outbox.add_routes(api)
    inbox.add_routes(api)
    reconciliation.add_routes(api)
    webhooks.add_routes(api)
    debtors.add_routes(api)
    company.add_routes(api)
    return api


def setup_routes(app: web.Application) -> None:
    build_api().mount(app)
