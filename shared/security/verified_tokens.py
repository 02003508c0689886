"""A bounded memory of access tokens whose signature and claims have been checked.

Callers send the same token many times (a partner's client, a player's session, an internal
service): remembering the verified result for a short while (never past the token's expiry)
turns the RSA check and the repeated parsing into one dictionary look-up. Only what the token
itself proves is kept; anything that can change under a valid token (an account disabled) is
checked by the caller on every use.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")

# Longer strings are never remembered (the gateway and gunicorn refuse such headers anyway).
MAX_CACHED_TOKEN_LENGTH = 8192


class VerifiedTokenCache(Generic[V]):
    """Thread-safe LRU of ``token -> value`` for at most ``seconds`` and never past expiry.

    ``size`` 0 disables it: nothing is remembered.
    """

    def __init__(self, size: int, seconds: float) -> None:
        self._size = size
        self._seconds = seconds
        self._entries: OrderedDict[str, tuple[V, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str) -> V | None:
        if not self._size:
            return None
        with self._lock:
            entry = self._entries.get(token)
            if entry is None:
                return None
            value, valid_until = entry
            if valid_until <= time.time():
                del self._entries[token]
                return None
            self._entries.move_to_end(token)
            return value

    def put(self, token: str, value: V, expires_at: float) -> None:
        """Remember ``value`` for ``token`` until ``expires_at`` (epoch seconds) at the latest."""
        if not self._size or len(token) > MAX_CACHED_TOKEN_LENGTH:
            return
        now = time.time()
        valid_until = min(expires_at, now + self._seconds)
        if valid_until <= now:
            return
        with self._lock:
            self._entries[token] = (value, valid_until)
            self._entries.move_to_end(token)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
