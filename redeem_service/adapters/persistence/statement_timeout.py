"""Statement timeouts that follow the deadline of the work in hand (a gRPC call's).

The database must never work past the caller's deadline, and may stop at most 10% before it.
A pooled connection remembers the session timeout it was last given, and a ``SET`` is sent only
when that timeout no longer fits the work in hand: above its remaining budget, or below 90% of
it. Callers keep a fixed deadline, so the budget left on arrival hovers around one value —
and, as gRPC rounds the timeout it sends up, on both sides of it (10 s arrives as 9,998 ms or
10,001 ms): an exact match sent a ``SET`` round trip on one call in seven; the 10% band sends
one when the budget really changes. A new timeout is the budget rounded down to two
significant digits (9,987 → 9,900; 987 → 980), always within the band.
"""

from __future__ import annotations

from sqlalchemy import Connection

from shared import deadline

_SESSION_TIMEOUT = "statement_timeout_ms"
#: the database may stop this much before the caller's deadline
SLACK = 0.1


def _two_significant_digits(milliseconds: int) -> int:
    """Rounded down, so the database never works past the deadline: 9,987 → 9,900; 987 → 980."""
    if milliseconds < 100:
        return max(1, milliseconds)
    scale = 10 ** (len(str(milliseconds)) - 2)
    return int(milliseconds // scale * scale)


def _budget_ms(default_ms: int) -> int | None:
    """The most the work in hand may take: its remaining deadline capped by ``default_ms``
    (0, PostgreSQL's "no timeout", caps nothing); None without a deadline."""
    remaining = deadline.remaining()
    if remaining is None:
        return None
    remaining_ms = max(1, int(remaining * 1000))
    return remaining_ms if default_ms <= 0 else min(default_ms, remaining_ms)


def wanted_timeout_ms(default_ms: int) -> int:
    """The timeout to set for the work in hand: its budget rounded down, or ``default_ms``
    without a deadline."""
    budget = _budget_ms(default_ms)
    if budget is None:
        return default_ms
    rounded = _two_significant_digits(budget)
    return rounded if default_ms <= 0 else min(default_ms, rounded)


def timeout_to_set(current_ms: int, default_ms: int) -> int | None:
    """The timeout to set when ``current_ms`` does not fit the work in hand; None when it does
    (within the budget and at least 90% of it; exactly ``default_ms`` without a deadline)."""
    budget = _budget_ms(default_ms)
    if budget is None:
        return None if current_ms == default_ms else default_ms
    if budget * (1 - SLACK) <= current_ms <= budget:
        return None
    return wanted_timeout_ms(default_ms)


def _session_timeout_ms(connection: Connection, default_ms: int) -> int:
    # A new connection has the default from its connect options (see create_database_engine).
    return int(connection.info.get(_SESSION_TIMEOUT, default_ms))


def bound_session(connection: Connection, default_ms: int) -> None:
    """For an autocommit connection: set the session's timeout when it does not fit."""
    wanted = timeout_to_set(_session_timeout_ms(connection, default_ms), default_ms)
    if wanted is not None:
        # An int computed here, so the plain driver call is safe (and cheap on a hot path).
        connection.exec_driver_sql(f"SET statement_timeout = {wanted}")
        connection.info[_SESSION_TIMEOUT] = wanted


def bound_transaction(connection: Connection, default_ms: int) -> None:
    """Inside a transaction: override the session's timeout for this transaction only, when it
    does not fit."""
    wanted = timeout_to_set(_session_timeout_ms(connection, default_ms), default_ms)
    if wanted is not None:
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {wanted}")
