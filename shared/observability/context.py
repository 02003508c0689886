"""Correlation id and trace id of the work in hand, carried across HTTP, Kafka and gRPC."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

CORRELATION_HEADER = "X-Correlation-ID"
TRACEPARENT_HEADER = "traceparent"

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")

_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
_trace_id: ContextVar[str | None] = ContextVar("trace_id", default=None)


@dataclass(frozen=True, slots=True)
class TraceContext:
    """What travels with a request or a message so its logs can be joined up."""

    correlation_id: str
    trace_id: str

    def traceparent(self) -> str:
        """W3C ``traceparent`` value for an outgoing call (a fresh span id each time)."""
        return f"00-{self.trace_id}-{secrets.token_hex(8)}-01"

    def headers(self) -> dict[str, str]:
        """Outgoing headers (HTTP and Kafka; gRPC metadata uses the lower-cased names)."""
        return {CORRELATION_HEADER: self.correlation_id, TRACEPARENT_HEADER: self.traceparent()}


def new_correlation_id() -> str:
    return str(uuid.uuid4())


def new_trace_id() -> str:
    return secrets.token_hex(16)


def is_safe_correlation_id(value: str | None) -> bool:
    """1-128 letters, digits and ``._:-``: safe to log, echo and pass on."""
    return bool(value) and _SAFE_ID.fullmatch(str(value)) is not None


def accept_correlation_id(value: str | None) -> str:
    """Keep a caller's correlation id when it is safe to log and echo, otherwise make one."""
    if value and is_safe_correlation_id(value):
        return value
    return new_correlation_id()


def trace_id_from_traceparent(value: str | None) -> str | None:
    if not value:
        return None
    match = _TRACEPARENT.match(value.strip().lower())
    if not match or match.group(1) == "0" * 32:
        return None
    return match.group(1)


def from_headers(headers: Mapping[str, str]) -> TraceContext:
    """The context from incoming headers (names case-insensitive), filling in what is missing."""
    lowered = {k.lower(): v for k, v in headers.items()}
    return from_values(lowered.get(CORRELATION_HEADER.lower()), lowered.get(TRACEPARENT_HEADER))


def from_values(correlation_id: str | None, traceparent: str | None) -> TraceContext:
    """The context from a caller's correlation id and ``traceparent``, filling in what is
    missing or unsafe."""
    return TraceContext(
        correlation_id=accept_correlation_id(correlation_id),
        trace_id=trace_id_from_traceparent(traceparent) or new_trace_id(),
    )


def current() -> TraceContext:
    """The context of the work in hand; a fresh one when nothing is bound."""
    correlation = _correlation_id.get()
    trace = _trace_id.get()
    return TraceContext(
        correlation_id=correlation or new_correlation_id(), trace_id=trace or new_trace_id()
    )


def current_correlation_id() -> str | None:
    return _correlation_id.get()


@contextmanager
def bound(context: TraceContext) -> Iterator[TraceContext]:
    """Bind ``context`` for the duration of a block (a request, a message, a call)."""
    token_c = _correlation_id.set(context.correlation_id)
    token_t = _trace_id.set(context.trace_id)
    try:
        yield context
    finally:
        _correlation_id.reset(token_c)
        _trace_id.reset(token_t)


def bind(context: TraceContext) -> None:
    """Bind ``context`` until the next bind (for request hooks that cannot use a with-block)."""
    _correlation_id.set(context.correlation_id)
    _trace_id.set(context.trace_id)


def clear() -> None:
    _correlation_id.set(None)
    _trace_id.set(None)
