"""Access tokens for service-to-service calls (OAuth2 client credentials), fetched once and reused
until shortly before they expire."""

from __future__ import annotations

import threading
import time

import requests

from shared.domain.exceptions import DependencyUnavailable
from shared.observability.logging import get_logger

log = get_logger(__name__)

#: a token endpoint that keeps failing is logged once, then at most this often
FAILURE_LOG_INTERVAL_SECONDS = 300.0


class TokenUnavailable(DependencyUnavailable):
    default_message = "The authorization server did not issue a token."


class ClientCredentialsTokens:
    """Thread-safe cache of one client's token for one scope. A token the endpoint does not
    issue is logged (``client_token_unavailable``): callers only see the service they wanted to
    call as unreachable."""

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
        # What was last logged of a failing endpoint, and the failures since (under the lock).
        self._failure_logged: tuple[str, float] | None = None
        self._failures_unlogged = 0

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
            error = f"The token endpoint cannot be reached: {type(exc).__name__}"
            self._failed(error, status=None)
            raise TokenUnavailable(error) from exc
        if response.status_code != 200:
            error = f"The token endpoint answered {response.status_code}."
            self._failed(error, status=response.status_code)
            raise TokenUnavailable(error)
        body = response.json()
        lifetime = float(body.get("expires_in", 300))
        self._token = str(body["access_token"])
        self._expires_at = time.monotonic() + max(lifetime - self._margin, lifetime / 2)
        self._failure_logged = None
        self._failures_unlogged = 0

    def _failed(self, error: str, status: int | None) -> None:
        # Every call that needs a token asks again: logged when it starts or changes, then
        # at most every FAILURE_LOG_INTERVAL_SECONDS with the count of failures in between.
        now = time.monotonic()
        last = self._failure_logged
        if last is not None and last[0] == error and now - last[1] < FAILURE_LOG_INTERVAL_SECONDS:
            self._failures_unlogged += 1
            return
        log.warning(
            "client_token_unavailable",
            token_url=self._url,
            client_id=self._auth[0],
            scope=self._scope,
            status=status,
            error=error,
            suppressed=self._failures_unlogged,
        )
        self._failure_logged = (error, now)
        self._failures_unlogged = 0
