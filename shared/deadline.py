"""The time budget of the work in hand (a gRPC call's deadline), so adapters can bound their own
waits (a database statement timeout, an outbound call) instead of working for a caller who left."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_deadline: ContextVar[float | None] = ContextVar("deadline", default=None)


@contextmanager
def bound_deadline(seconds: float | None) -> Iterator[None]:
    """Bind a budget of ``seconds`` from now (None: no deadline) for the duration of a block."""
    token = _deadline.set(None if seconds is None else time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining() -> float | None:
    """Seconds left in the bound budget (may be negative), or None when there is no deadline."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()
