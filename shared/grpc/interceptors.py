"""Server interceptors: the call context (correlation id, deadline, logs, metrics), bearer-token
authentication with scope checks, and the read of a unary call's request message.

Interceptors here wrap the method handler, so their work runs on the worker thread that serves the
call (never on the server's polling thread) and context variables they bind are seen by the
servicer and everything it calls. The request message of a unary-request method is read by
:class:`UnaryRequestInterceptor`, the innermost one, so the interceptors outside it (the token
check) decide about a call before it waits for its message.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from functools import partial
from typing import TYPE_CHECKING, Any, NoReturn

import grpc
from prometheus_client import Counter, Histogram

from shared import deadline
from shared.domain.principal import Principal
from shared.errors import CommonErrorCode
from shared.grpc.errors import abort
from shared.observability import context as trace_context
from shared.observability.logging import get_logger
from shared.security.tokens import (
    AccessTokenVerifier,
    TokenRejected,
    bearer_token,
)

log = get_logger("grpc")

if TYPE_CHECKING:
    ServerInterceptor = grpc.ServerInterceptor[Any, Any]
    MethodHandler = grpc.RpcMethodHandler[Any, Any]
else:
    ServerInterceptor = grpc.ServerInterceptor
    MethodHandler = grpc.RpcMethodHandler

GRPC_HANDLED = Counter(
    "grpc_server_handled_total",
    "gRPC calls completed on the server, by status code.",
    ["service", "method", "code"],
)
GRPC_LATENCY = Histogram(
    "grpc_server_handling_seconds",
    "gRPC call latency on the server.",
    ["service", "method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
GRPC_REQUEST_WAIT_EXCEEDED = Counter(
    "grpc_server_request_wait_exceeded_total",
    "gRPC calls cancelled because their request message did not arrive in time.",
    ["service", "method"],
)
GRPC_REQUEST_WAIT_REFUSED = Counter(
    "grpc_server_request_wait_refused_total",
    "gRPC calls that need no token refused because enough of them already wait for their"
    " request message.",
    ["service", "method"],
)

HEALTH_SERVICE = "grpc.health.v1.Health"
CORRELATION_METADATA = trace_context.CORRELATION_HEADER.lower()
TRACEPARENT_METADATA = trace_context.TRACEPARENT_HEADER

Behavior = Callable[[Any, grpc.ServicerContext], Any]
Around = Callable[[Behavior, Any, grpc.ServicerContext], Any]

_principal: ContextVar[Principal | None] = ContextVar("grpc_principal", default=None)


def current_principal() -> Principal:
    """The authenticated caller of the gRPC call in hand (inside a servicer)."""
    principal = _principal.get()
    if principal is None:
        raise RuntimeError("no authenticated principal: is BearerAuthInterceptor installed?")
    return principal


def split_method(full_method: str) -> tuple[str, str]:
    """``/pkg.Service/Method`` → (``pkg.Service``, ``Method``)."""
    service, _, method = full_method.lstrip("/").partition("/")
    return service, method


def metadata_value(context: grpc.ServicerContext, name: str) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == name:
            return _text(value)
    return None


def wrap_handler(handler: MethodHandler | None, around: Around) -> Any:
    """The handler with each of its behaviours run through ``around(behavior, request, ctx)``."""
    if handler is None:
        return None
    replaced: dict[str, Behavior] = {}
    for kind in ("unary_unary", "unary_stream", "stream_unary", "stream_stream"):
        behavior = getattr(handler, kind)
        if behavior is not None:

            def wrapped(request: Any, context: grpc.ServicerContext, b: Behavior = behavior) -> Any:
                return around(b, request, context)

            replaced[kind] = wrapped
    return handler._replace(**replaced)  # type: ignore[attr-defined]


class WrappedHandlers:
    """The wrapped handler of each method, built on the first call and reused while the server
    hands out the same handler (the server asks the interceptors on every call)."""

    def __init__(self, wrap: Callable[[str, MethodHandler], Any]) -> None:
        self._wrap = wrap
        self._cache: dict[str, tuple[MethodHandler, Any]] = {}

    def get(self, method: str, handler: MethodHandler | None) -> Any:
        if handler is None:
            return None
        cached = self._cache.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap(method, handler)
        self._cache[method] = (handler, wrapped)
        return wrapped


class CallContextInterceptor(ServerInterceptor):
    """Binds the caller's correlation id and trace id (``x-correlation-id``, ``traceparent``) and
    its deadline for the call, echoes the correlation id, refuses calls whose deadline has
    already passed, turns unexpected exceptions into INTERNAL, and measures each call. Failed and
    slow calls are always logged; every call only with ``access_log`` (at thousands of calls a
    second the metrics say more than the lines). Calls refused by the interceptors inside it (a
    missing token, a request that does not parse) are measured and logged like the others.

    The correlation id is echoed in the trailing metadata, which travels with the status: an
    echo in the initial metadata would cost every call a batch of its own."""

    def __init__(self, access_log: bool = True, slow_call_seconds: float = 0.5) -> None:
        self._access_log = access_log
        self._slow = slow_call_seconds
        self._handlers = WrappedHandlers(self._wrap)

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], MethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = continuation(handler_call_details)
        return self._handlers.get(handler_call_details.method, handler)

    def _wrap(self, full_method: str, handler: MethodHandler) -> Any:
        service, method = split_method(full_method)
        if service == HEALTH_SERVICE:
            return handler
        metrics = _MethodMetrics(service, method)

        def around(behavior: Behavior, request: Any, context: grpc.ServicerContext) -> Any:
            return self._call(service, method, metrics, behavior, request, context)

        return wrap_handler(handler, around)

    def _call(
        self,
        service: str,
        method: str,
        metrics: _MethodMetrics,
        behavior: Behavior,
        request: Any,
        context: grpc.ServicerContext,
    ) -> Any:
        correlation = traceparent = None
        for key, value in context.invocation_metadata() or ():
            if key == CORRELATION_METADATA:
                correlation = value
            elif key == TRACEPARENT_METADATA:
                traceparent = value
        trace = trace_context.from_values(_text(correlation), _text(traceparent))
        started = time.perf_counter()
        status = grpc.StatusCode.OK
        time_remaining = context.time_remaining()
        with trace_context.bound(trace), deadline.bound_deadline(time_remaining):
            try:
                if time_remaining is not None and time_remaining <= 0:
                    abort(
                        context,
                        grpc.StatusCode.DEADLINE_EXCEEDED,
                        CommonErrorCode.DEADLINE_EXCEEDED,
                        "The deadline passed before the call started.",
                    )
                return behavior(request, context)
            except Exception:
                code = context.code()  # type: ignore[attr-defined]  # set when the servicer (or we) aborted the call
                if code is None:
                    log.exception("grpc_unhandled_error", grpc_service=service, method=method)
                    status = grpc.StatusCode.INTERNAL
                    abort(
                        context,
                        grpc.StatusCode.INTERNAL,
                        CommonErrorCode.INTERNAL_ERROR,
                        "Internal server error.",
                    )
                status = code
                raise
            finally:
                # After the servicer's own trailers (a replay flag, an error code), before the
                # server sends them with the status.
                trailers = context.trailing_metadata() or ()
                context.set_trailing_metadata(
                    (*trailers, (CORRELATION_METADATA, trace.correlation_id))
                )
                elapsed = time.perf_counter() - started
                metrics.record(status, elapsed)
                if self._access_log or status is not grpc.StatusCode.OK or elapsed >= self._slow:
                    log.info(
                        "grpc_call",
                        grpc_service=service,
                        method=method,
                        code=status.name,
                        duration_ms=round(elapsed * 1000, 2),
                        peer=context.peer(),
                    )


class _MethodMetrics:
    """One method's metric children, bound once instead of looked up on every call."""

    def __init__(self, service: str, method: str) -> None:
        self._service = service
        self._method = method
        self._latency = GRPC_LATENCY.labels(service, method)
        self._handled: dict[grpc.StatusCode, Any] = {}

    def record(self, status: grpc.StatusCode, elapsed: float) -> None:
        counter = self._handled.get(status)
        if counter is None:
            counter = GRPC_HANDLED.labels(self._service, self._method, status.name)
            self._handled[status] = counter
        counter.inc()
        self._latency.observe(elapsed)


class MalformedRequest:
    """Stands in for a request whose bytes did not parse, so the call ends with
    INVALID_ARGUMENT and an error code (gRPC itself answers INTERNAL and logs a traceback)."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


def _tolerant(deserializer: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception as exc:  # any parse failure is the caller's bad input
            return MalformedRequest(exc)

    return deserialize


def _text(value: str | bytes | None) -> str | None:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


class BearerAuthInterceptor(ServerInterceptor):
    """Requires ``authorization: Bearer <access token>`` on every call except the health service:
    UNAUTHENTICATED without a valid token, PERMISSION_DENIED without ``required_scopes`` (and,
    with ``clients_only``, for user tokens). The principal is available through
    :func:`current_principal` inside the servicer."""

    def __init__(
        self,
        verifier: AccessTokenVerifier,
        required_scopes: Iterable[str],
        clients_only: bool = True,
        exempt_services: Iterable[str] = (HEALTH_SERVICE,),
    ) -> None:
        self._verifier = verifier
        self._required = frozenset(required_scopes)
        self._clients_only = clients_only
        self._exempt = frozenset(exempt_services)
        self._handlers = WrappedHandlers(self._wrap)

    @property
    def exempt_services(self) -> frozenset[str]:
        """The services called without a token."""
        return self._exempt

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], MethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = continuation(handler_call_details)
        return self._handlers.get(handler_call_details.method, handler)

    def _wrap(self, full_method: str, handler: MethodHandler) -> Any:
        service, _ = split_method(full_method)
        if service in self._exempt:
            return handler
        return wrap_handler(handler, self._authenticate)

    def _authenticate(self, behavior: Behavior, request: Any, context: grpc.ServicerContext) -> Any:
        token = bearer_token(metadata_value(context, "authorization"))
        try:
            principal = self._verifier.verify(token)
        except TokenRejected as exc:
            abort(context, grpc.StatusCode.UNAUTHENTICATED, exc.code, exc.message)
        if self._clients_only and not principal.is_client:
            abort(
                context,
                grpc.StatusCode.PERMISSION_DENIED,
                CommonErrorCode.FORBIDDEN,
                "A client-credentials access token is required.",
            )
        if not self._required <= principal.scopes:
            abort(
                context,
                grpc.StatusCode.PERMISSION_DENIED,
                CommonErrorCode.FORBIDDEN,
                f"The access token lacks the scope {' '.join(sorted(self._required))}.",
            )
        token_var = _principal.set(principal)
        try:
            return behavior(request, context)
        finally:
            _principal.reset(token_var)


class UnaryRequestInterceptor(ServerInterceptor):
    """Reads the request message of unary-request methods itself, after the interceptors outside
    it have let the call through, and waits for it at most ``wait_seconds`` from the call's
    arrival. Install it last (innermost); :class:`shared.grpc.server.GrpcServer` does.

    gRPC's sync server reads a unary call's request on a pool thread before any interceptor's
    wrapper runs, for as long as the caller likes: a caller that opened calls and never sent
    their messages (no token needed) held a thread each, and the pool's few threads were soon
    all held — every other call, the health check included, then waited. Here such a method is
    served as a stream-request one: the token check runs first (a refused call never waits
    for its message), and an admitted call whose message has not come within ``wait_seconds``
    of its arrival is cancelled, freeing its thread; a call that queued for a thread longer
    than that is cancelled as soon as it gets one. A request whose bytes do not parse ends the
    call with INVALID_ARGUMENT (``BAD_REQUEST``); gRPC alone would answer INTERNAL and log a
    traceback.

    Calls of ``open_services`` need no token (the health check), so anyone may open them: at
    most ``open_waiting_limit`` of them wait for their message at once, each at most
    ``open_wait_seconds``; more are refused at once with RESOURCE_EXHAUSTED. A real health
    probe sends its message with the call and waits for nothing.
    """

    def __init__(
        self,
        wait_seconds: float,
        open_services: Iterable[str] = (HEALTH_SERVICE,),
        open_wait_seconds: float = 0.5,
        open_waiting_limit: int = 2,
    ) -> None:
        self._open_services = frozenset(open_services)
        self._open_wait = min(wait_seconds, open_wait_seconds)
        self._open_limit = open_waiting_limit
        self._open_waiting = 0
        self._open_lock = threading.Lock()
        self._waits = _RequestWaits(self._open_wait)  # the shortest wait
        self._wait = wait_seconds
        self._handlers = WrappedHandlers(self._wrap)

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], MethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        # On the server's polling thread, when the call arrives (before it queues for a thread).
        arrived = time.monotonic()
        handler = continuation(handler_call_details)
        wrapped = self._handlers.get(handler_call_details.method, handler)
        if not isinstance(wrapped, _ReadingHandler):
            return wrapped
        return wrapped.handler._replace(  # type: ignore[attr-defined]
            **{wrapped.kind: partial(wrapped.serve, arrived=arrived)}
        )

    def close(self) -> None:
        """Stop watching (the server stopped)."""
        self._waits.close()

    def _wrap(self, full_method: str, handler: MethodHandler) -> Any:
        behavior = handler.unary_stream if handler.response_streaming else handler.unary_unary
        if handler.request_streaming or behavior is None:
            return handler
        service, method = split_method(full_method)
        deserializer = handler.request_deserializer
        call = _ReadPolicy(
            service,
            method,
            service in self._open_services,
            self._open_wait if service in self._open_services else self._wait,
        )

        def read_then_serve(
            requests: Iterator[Any], context: grpc.ServicerContext, arrived: float
        ) -> Any:
            request = self._read(requests, context, call, arrived)
            return behavior(request, context)

        if handler.response_streaming:
            make, kind = grpc.stream_stream_rpc_method_handler, "stream_stream"
        else:
            make, kind = grpc.stream_unary_rpc_method_handler, "stream_unary"
        reading = make(
            read_then_serve,  # given its arrival per call
            request_deserializer=None if deserializer is None else _tolerant(deserializer),
            response_serializer=handler.response_serializer,
        )
        return _ReadingHandler(reading, kind, read_then_serve)

    def _read(
        self,
        requests: Iterator[Any],
        context: grpc.ServicerContext,
        call: _ReadPolicy,
        arrived: float,
    ) -> Any:
        peer = context.peer()  # empty once the call is cancelled
        if call.open:
            with self._open_lock:
                admitted = self._open_waiting < self._open_limit
                if admitted:
                    self._open_waiting += 1
            if not admitted:
                call.refused.inc()
                _give_up(
                    context,
                    call,
                    "grpc_request_wait_refused",
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    CommonErrorCode.RATE_LIMITED,
                    "Too many calls wait for their request message; send it with the call.",
                    waiting_limit=self._open_limit,
                    peer=peer,
                )
        try:
            ticket = self._waits.start(context, arrived + call.wait_seconds)
            try:
                request = None if ticket is None else next(requests, None)
            except grpc.RpcError:  # the caller cancelled the call
                request = None
            finally:
                in_time = ticket is not None and self._waits.stop(ticket)
        finally:
            if call.open:
                with self._open_lock:
                    self._open_waiting -= 1
        if not in_time:
            if ticket is None:  # queued for a thread past its wait
                context.cancel()  # type: ignore[no-untyped-call]
            call.exceeded.inc()
            _give_up(
                context,
                call,
                "grpc_request_wait_exceeded",
                grpc.StatusCode.DEADLINE_EXCEEDED,
                CommonErrorCode.DEADLINE_EXCEEDED,
                "The request message did not arrive in time.",
                wait_seconds=call.wait_seconds,
                peer=peer,
            )
        if request is None:
            if not context.is_active():
                context.abort(grpc.StatusCode.CANCELLED, "The caller cancelled the call.")
            abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                CommonErrorCode.BAD_REQUEST,
                "The call ended without its request message.",
            )
        if isinstance(request, MalformedRequest):
            _give_up(
                context,
                call,
                "grpc_malformed_request",
                grpc.StatusCode.INVALID_ARGUMENT,
                CommonErrorCode.BAD_REQUEST,
                "The request is not a valid message of this method's type.",
                error=f"{type(request.error).__name__}: {request.error}",
            )
        return request


class _ReadingHandler:
    """A unary-request method served as a stream-request one: ``serve`` is given the call's
    arrival as ``arrived`` before it becomes the handler's ``kind`` behaviour."""

    __slots__ = ("handler", "kind", "serve")

    def __init__(self, handler: MethodHandler, kind: str, serve: Callable[..., Any]) -> None:
        self.handler = handler
        self.kind = kind
        self.serve = serve


def _give_up(
    context: grpc.ServicerContext,
    call: _ReadPolicy,
    event: str,
    status: grpc.StatusCode,
    code: CommonErrorCode,
    message: str,
    **fields: Any,
) -> NoReturn:
    """Log why a call ends before its servicer runs, then end it."""
    log.warning(event, grpc_service=call.service, method=call.method, **fields)
    abort(context, status, code, message)


class _ReadPolicy:
    """How long one method's calls wait for their message, and their metric children."""

    __slots__ = ("exceeded", "method", "open", "refused", "service", "wait_seconds")

    def __init__(self, service: str, method: str, open_: bool, wait_seconds: float) -> None:
        self.service = service
        self.method = method
        self.open = open_
        self.wait_seconds = wait_seconds
        self.exceeded = GRPC_REQUEST_WAIT_EXCEEDED.labels(service, method)
        self.refused = GRPC_REQUEST_WAIT_REFUSED.labels(service, method)


class _RequestWaits:
    """The calls waiting for their request message; one thread cancels those past their due
    time (checked every quarter of the shortest wait, at most every second), which wakes the
    pool thread waiting for the message."""

    def __init__(self, shortest_seconds: float) -> None:
        self._tick = min(1.0, max(0.01, shortest_seconds / 4))
        self._lock = threading.Lock()
        # At most one per pool thread: the watcher looks at them all.
        self._waiting: dict[object, tuple[float, grpc.ServicerContext]] = {}
        self._closed = threading.Event()
        self._watcher: threading.Thread | None = None

    def start(self, context: grpc.ServicerContext, due: float) -> object | None:
        """A ticket for the wait, or None when ``due`` has already passed."""
        if due <= time.monotonic():
            return None
        ticket = object()
        with self._lock:
            self._waiting[ticket] = (due, context)
            if self._watcher is None:
                self._watcher = threading.Thread(
                    target=self._watch, name="grpc-request-waits", daemon=True
                )
                self._watcher.start()
        return ticket

    def stop(self, ticket: object) -> bool:
        """Whether the call got its message in time (False: it was cancelled)."""
        with self._lock:
            return self._waiting.pop(ticket, None) is not None

    def close(self) -> None:
        self._closed.set()

    def _watch(self) -> None:
        while not self._closed.wait(self._tick):
            now = time.monotonic()
            with self._lock:
                late = [
                    (ticket, context)
                    for ticket, (due, context) in self._waiting.items()
                    if due <= now
                ]
                for ticket, _ in late:
                    del self._waiting[ticket]
            for _, context in late:
                context.cancel()  # type: ignore[no-untyped-call]
