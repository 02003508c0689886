"""Public signing keys fetched from the authorization server's JWKS, cached, refetched on demand.

An unknown ``kid`` (a rotation happened) is looked up with a refetch at once, but the key set is
fetched at most once per ``min_interval`` (1 s), and a ``kid`` a fetch showed unpublished is not
asked for again for ``refetch_cooldown`` (30 s). So the first token signed with a new key
verifies within a second of its first use, and a stream of forged ``kid`` values (random or
repeated) costs the auth service at most one request a second per process. A single cooldown
for every ``kid`` let one forged ``kid`` sent just before a rotation refuse every new token for
30 s at every service.
"""

from __future__ import annotations

import json
import math
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
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
        min_interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = jwks_url
        self._ttl = cache_ttl
        self._cooldown = refetch_cooldown
        self._min_interval = min_interval
        self._timeout = timeout
        self._session = session or requests.Session()
        self._monotonic = monotonic
        self._keys: dict[str, PyJWK] = {}
        #: when the key set was last fetched successfully / last asked for
        self._fetched_at = -math.inf
        self._attempted_at = -math.inf
        #: ``kid`` values a fetch showed unpublished, and when
        self._missing: dict[str, float] = {}
        self._lock = threading.Lock()

    def public_key(self, kid: str) -> Any | None:
        key = self._keys.get(kid)
        if key is not None and self._monotonic() - self._fetched_at < self._ttl:
            return key.key
        with self._lock:
            now = self._monotonic()
            key = self._keys.get(kid)
            wanted = key is None and now - self._missing.get(kid, -math.inf) >= self._cooldown
            stale = now - self._fetched_at >= self._ttl
            if (wanted or stale) and now - self._attempted_at >= self._min_interval:
                self._refresh()
                key = self._keys.get(kid)
                if key is None and self._fetched_at == self._attempted_at:
                    self._remember_missing(kid)
        return key.key if key is not None else None

    def refresh(self) -> None:
        """Fetch the key set now (a process warming up before it takes traffic)."""
        with self._lock:
            self._refresh()

    def _remember_missing(self, kid: str) -> None:
        now = self._monotonic()
        if len(self._missing) >= _MAX_MISSING:  # forged kids: forget the expired ones
            self._missing = {k: at for k, at in self._missing.items() if now - at < self._cooldown}
        if len(self._missing) < _MAX_MISSING:
            self._missing[kid] = now

    def _refresh(self) -> None:
        self._attempted_at = self._monotonic()
        try:
            response = self._session.get(self._url, timeout=self._timeout)
            response.raise_for_status()
            keyset = PyJWKSet.from_dict(response.json())
        except (requests.RequestException, ValueError, PyJWKSetError, json.JSONDecodeError) as exc:
            # Keep serving the keys we have; the next try waits the minimum interval.
            log.warning("jwks_fetch_failed", url=self._url, error=str(exc))
            return
        self._keys = {
            k.key_id: k
            for k in keyset.keys
            if k.key_id and k.algorithm_name == "RS256" and k.public_key_use in (None, "sig")
        }
        self._missing = {k: at for k, at in self._missing.items() if k not in self._keys}
        self._fetched_at = self._attempted_at
        log.info("jwks_refreshed", kids=sorted(self._keys))


#: how many unpublished ``kid`` values are remembered (forged ones are unbounded)
_MAX_MISSING = 10_000
