"""Access tokens for service-to-service calls (OAuth2 client credentials), fetched once and reused
until shortly before they expire."""

from __future__ import annotations

import threading
import time

import requests

from shared.domain.exceptions import DependencyUnavailable


class TokenUnavailable(DependencyUnavailable):
    default_message = "The authorization server did not issue a token."


class ClientCredentialsTokens:
    """Thread-safe cache of one client's token for one scope."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str,
        timeout: float = 3.0,
        refresh_margin: float = 60.0,
        session: requests.Session | None = None,
    ) -> None:
        self._url = token_url
        self._auth = (client_id, client_secret)
        self._scope = scope
        self._timeout = timeout
        self._margin = refresh_margin
        self._session = session or requests.Session()
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    def token(self) -> str:
        """A valid token, fetching a new one when the cached one is (nearly) expired."""
        if self._token is not None and time.monotonic() < self._expires_at:
            return self._token
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at:
                self._fetch()
            assert self._token is not None
            return self._token

    def invalidate(self) -> None:
        """Forget the cached token (the server refused it: revoked or keys rotated)."""
        with self._lock:
            self._token = None
            self._expires_at = 0.0

    def _fetch(self) -> None:
        try:
            response = self._session.post(
                self._url,
                data={"grant_type": "client_credentials", "scope": self._scope},
                auth=self._auth,
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            raise TokenUnavailable(
                f"The token endpoint cannot be reached: {type(exc).__name__}"
            ) from exc
        if response.status_code != 200:
            raise TokenUnavailable(f"The token endpoint answered {response.status_code}.")
        body = response.json()
        lifetime = float(body.get("expires_in", 300))
        self._token = str(body["access_token"])
        self._expires_at = time.monotonic() + max(lifetime - self._margin, lifetime / 2)
