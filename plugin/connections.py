"""The platform clients of one installation, built in one place from the process's services.

Jobs, onboarding and disconnect all reach e-conomic and the collection platform through these,
so every client shares the process's HTTP session, the database's shared API-call count and
budget, the token store and the injected clock. A missing piece of configuration or a grant
that was never stored is a `ConfigurationError` or `AuthLostError` with a message a person can
act on, raised before any call is made.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import aiohttp

from sync.budget import Pace
from sync.clients.collection import CollectionClient
from sync.clients.collection_auth import TokenKeeper
from sync.clients.collection_tokens import DatabaseTokenStore
from sync.clients.economic import EconomicClient
from sync.clients.economic_wire import PLATFORM as ECONOMIC
from sync.errors import AuthLostError, ConfigurationError
from sync.store.economic_grants import EconomicGrants
from sync.store.installations import Installation
from sync.store.usage import ApiUsage

if TYPE_CHECKING:
    from plugin.bootstrap import Services

COLLECTION = "collection"
TOKEN_TIMEOUT = aiohttp.ClientTimeout(total=15, connect=5)


class Connections:
    """Builds `EconomicClient` and `CollectionClient` for an installation."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def economic(
        self, installation: Installation, *, pace: Pace = "prompt"
    ) -> EconomicClient:
        """The e-conomic client of ``installation``; ``bulk`` work keeps to its share of the
        daily budget (`sync.budget`)."""
        settings, cipher = self.services.settings, self.services.cipher
        if settings.economic_app_secret_token is None or cipher is None:
            raise ConfigurationError(
                "e-conomic is not configured (COLLECTBRIDGE_ECONOMIC_APP_SECRET_TOKEN and "
                "COLLECTBRIDGE_SECRET_KEY)",
                platform=ECONOMIC,
            )
        grant = await EconomicGrants(self.services.db, cipher).load(installation.id)
        if grant is None:
            raise AuthLostError("no e-conomic grant is stored for the company", platform=ECONOMIC)
        return EconomicClient(
            self.services.http,
            base_url=settings.economic_api_url,
            openapi_url=settings.economic_openapi_url,
            app_secret_token=settings.economic_app_secret_token.reveal(),
            grant_token=grant,
            installation_id=installation.id,
            recorder=ApiUsage(self.services.db),
            daily_budget=settings.economic_daily_budget,
            now=self.services.clock,
            pace=pace,
        )

    def token_store(self) -> DatabaseTokenStore:
        cipher = self.services.cipher
        if cipher is None:
            raise ConfigurationError("COLLECTBRIDGE_SECRET_KEY is not configured")
        return DatabaseTokenStore(self.services.db, cipher)

    def collection_api_url(self) -> str:
        settings = self.services.settings
        if (
            settings.collection_api_url is None
            or not settings.collection_client_id
            or settings.collection_client_secret is None
        ):
            raise ConfigurationError(
                "the collection platform is not configured (COLLECTBRIDGE_COLLECTION_API_URL, "
                "…_CLIENT_ID, …_CLIENT_SECRET)",
                platform=COLLECTION,
            )
        return settings.collection_api_url.rstrip("/")

    def token_keeper(self, installation: Installation) -> TokenKeeper:
        settings = self.services.settings
        api_url = self.collection_api_url()
        assert settings.collection_client_id and settings.collection_client_secret
        return TokenKeeper(
            self.services.http,
            token_url=api_url + "/oauth/token",
            client_id=settings.collection_client_id,
            client_secret=settings.collection_client_secret.reveal(),
            installation_id=installation.id,
            store=self.token_store(),
            holder=f"{os.getpid()}:{installation.id}",
            now=self.services.clock,
            timeout=TOKEN_TIMEOUT,
        )

    def collection(self, installation: Installation) -> CollectionClient:
        if installation.collection_state == "lost":
            raise AuthLostError(
                "the collection account's link is lost: an admin must link it again",
                platform=COLLECTION,
            )
        if installation.collection_state == "none":
            raise ConfigurationError(
                "the company has no collection account yet: finish onboarding",
                platform=COLLECTION,
            )
        return CollectionClient(
            self.services.http,
            base_url=self.collection_api_url(),
            tokens=self.token_keeper(installation),
        )
