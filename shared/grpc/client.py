"""Client-side gRPC helpers: channels with keepalive and bounded messages, and the metadata every
call carries (bearer token, correlation id, trace)."""

from __future__ import annotations

from collections.abc import Sequence

import grpc

from shared.observability import context as trace_context

MAX_MESSAGE_BYTES = 4 * 1024 * 1024


def create_channel(target: str, tls: bool = False) -> grpc.Channel:
    """A channel that keeps its connection alive and retries name resolution by itself."""
    options = [
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        # Fail fast while the server is down instead of waiting for it: the caller's retry and
        # circuit breaker decide what to do.
        ("grpc.enable_retries", 0),
        ("grpc.lb_policy_name", "round_robin"),
        # While the server is down the channel reconnects with exponential backoff (up to 120 s
        # by default), and calls fail at once meanwhile: capped at 1 s, a server that is back is
        # used within about a second, not after the channel's next, ever later, attempt.
        ("grpc.initial_reconnect_backoff_ms", 250),
        ("grpc.max_reconnect_backoff_ms", 1_000),
    ]
    if tls:
        return grpc.secure_channel(target, grpc.ssl_channel_credentials(), options=options)
    return grpc.insecure_channel(target, options=options)


def call_metadata(token: str | None = None) -> Sequence[tuple[str, str]]:
    """Metadata for an outgoing call: the bearer token and the current trace context."""
    trace = trace_context.current()
    metadata = [
        (trace_context.CORRELATION_HEADER.lower(), trace.correlation_id),
        (trace_context.TRACEPARENT_HEADER, trace.traceparent()),
    ]
    if token:
        metadata.append(("authorization", f"Bearer {token}"))
    return metadata
