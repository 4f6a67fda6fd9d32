"""Onboarding (DESIGN.md, journey step 2): from an installed company to a running bootstrap.

flow.py          onboard(services, installation, choices, *, actor) -> Finished | Linking,
                 the one core the page, the API and the CLI share
choices.py       the choices, checked and completed with defaults (pure)
collection.py    the collection account: created (partner API) or linked (OAuth code + PKCE)
webhooks.py      e-conomic's Webhooks API (or legacy) and the collection webhook endpoint
webhook_urls.py  our webhook URLs and the mode they add up to (pure)
pages.py         GET|POST /onboarding/{agreement}, GET /install/collection/callback
"""

from __future__ import annotations

from aiohttp import web

from plugin.onboarding.choices import OnboardingChoices, OnboardingError, OnboardingInvalid
from plugin.onboarding.collection import Linking
from plugin.onboarding.flow import Finished, Outcome, onboard, plan

__all__ = [
    "Finished",
    "Linking",
    "OnboardingChoices",
    "OnboardingError",
    "OnboardingInvalid",
    "Outcome",
    "onboard",
    "plan",
    "setup_routes",
]


def setup_routes(app: web.Application) -> None:
    # Imported here: the pages use the API's installation view, whose package imports this one.
    from plugin.onboarding import pages

    pages.setup_routes(app)
