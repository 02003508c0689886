"""Public signing keys fetched from the authorization server's JWKS, cached, refetched on demand.

An unknown ``kid`` (a rotation happened) triggers a refetch, at most once per cooldown, so a
stream of forged ``kid`` values cannot turn every request into a call to the auth service.
"""

from __future__ import annotations

import json
import threading
import time
from abc import ABC, abstractmethod
from typing import Any

import requests
from jwt import PyJWK, PyJWKSet
from jwt.exceptions import PyJWKSetError

from shared.observability.logging import get_logger

log = get_logger(__name__)


class KeyResolver(ABC):
    @abstractmethod
    def public_key(self, kid: str) -> Any | None:
        """The verification key for ``kid``, or None when it is not (or no longer) published."""


class JwksKeyResolver(KeyResolver):
    def __init__(
        self,
        jwks_url: str,
        cache_ttl: float = 300.0,
        refetch_cooldown: float = 30.0,
        timeout: float = 3.0,
        session: requests.Session | None = None,
    ) -> None:
        self._url = jwks_url
        self._ttl = cache_ttl
        self._cooldown = refetch_cooldown
        self._timeout = timeout
        self._session = session or requests.Session()
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def public_key(self, kid: str) -> Any | None:
        now = time.monotonic()
        key = self._keys.get(kid)
        if key is not None and now - self._fetched_at < self._ttl:
            return key.key
        with self._lock:
            key = self._keys.get(kid)
            stale = time.monotonic() - self._fetched_at
            if (key is None and stale >= self._cooldown) or stale >= self._ttl:
                self._refresh()
            key = self._keys.get(kid)
        return key.key if key is not None else None

    def refresh(self) -> None:
        """Fetch the key set now (a process warming up before it takes traffic)."""
        with self._lock:
            self._refresh()

    def _refresh(self) -> None:
        try:
            response = self._session.get(self._url, timeout=self._timeout)
            response.raise_for_status()
            keyset = PyJWKSet.from_dict(response.json())
        except (requests.RequestException, ValueError, PyJWKSetError, json.JSONDecodeError) as exc:
            # Keep serving the keys we have; try again after the cooldown.
            log.warning("jwks_fetch_failed", url=self._url, error=str(exc))
            self._fetched_at = time.monotonic() - self._ttl + self._cooldown
            return
        self._keys = {
            k.key_id: k
            for k in keyset.keys
            if k.key_id and k.algorithm_name == "RS256" and k.public_key_use in (None, "sig")
        }
        self._fetched_at = time.monotonic()
        log.info("jwks_refreshed", kids=sorted(self._keys))
