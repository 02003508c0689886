"""Statement timeouts that follow the deadline of the work in hand (a gRPC call's).

A pooled connection remembers the session timeout it was last given, so a run of calls with
the same budget (a caller's fixed deadline, rounded down to two significant digits) costs no
extra round trip: the ``SET`` is sent only when the wanted timeout differs from the session's.
"""

from __future__ import annotations

from sqlalchemy import Connection

from shared import deadline

_SESSION_TIMEOUT = "statement_timeout_ms"


def _two_significant_digits(milliseconds: int) -> int:
    """Rounded down, so the database never works past the deadline: 9,987 → 9,900; 987 → 980."""
    if milliseconds < 100:
        return max(1, milliseconds)
    scale = 10 ** (len(str(milliseconds)) - 2)
    return int(milliseconds // scale * scale)


def wanted_timeout_ms(default_ms: int) -> int:
    """The timeout for the work in hand: its remaining deadline, or ``default_ms`` without one."""
    remaining = deadline.remaining()
    if remaining is None:
        return default_ms
    return min(default_ms, _two_significant_digits(max(1, int(remaining * 1000))))


def _session_timeout_ms(connection: Connection, default_ms: int) -> int:
    # A new connection has the default from its connect options (see create_database_engine).
    return int(connection.info.get(_SESSION_TIMEOUT, default_ms))


def bound_session(connection: Connection, default_ms: int) -> None:
    """For an autocommit connection: set the session's timeout when it is not the wanted one."""
    wanted = wanted_timeout_ms(default_ms)
    if _session_timeout_ms(connection, default_ms) != wanted:
        # An int computed here, so the plain driver call is safe (and cheap on a hot path).
        connection.exec_driver_sql(f"SET statement_timeout = {wanted}")
        connection.info[_SESSION_TIMEOUT] = wanted


def bound_transaction(connection: Connection, default_ms: int) -> None:
    """Inside a transaction: override the session's timeout for this transaction only, when it
    is not the wanted one."""
    wanted = wanted_timeout_ms(default_ms)
    if _session_timeout_ms(connection, default_ms) != wanted:
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {wanted}")
