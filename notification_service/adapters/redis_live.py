"""Live messages over Redis pub/sub: the worker publishes, every web process listens once.

One channel carries every message; each web process keeps the ones for users with a socket open
there. Pub/sub is fire-and-forget, which is what live delivery needs (the notifications are
stored before they are published). Pub/sub spans the whole Redis server, so the channel is named
with the database the service uses (``notifications:live:3``): a client of another database
publishing on the bare name reaches nobody. A message is delivered only if it has the shape
this module writes; anything else is dropped and logged.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from redis import Redis
from redis.exceptions import RedisError

from notification_service.application.live import CloseCode, LiveMessage, LiveMessageKind
from notification_service.application.ports import LiveChannel
from shared.domain.exceptions import DependencyUnavailable
from shared.observability.logging import get_logger
from shared.redis_client import database_channel

log = get_logger(__name__)
T = TypeVar("T")


def encode(message: LiveMessage) -> str:
    body: dict[str, Any] = {"kind": message.kind.value, "userId": message.user_id}
    if message.kind is LiveMessageKind.NOTIFICATION:
        body["notification"] = message.notification
    else:
        body["closeCode"] = message.close_code
        body["reason"] = message.reason
        if message.issued_before is not None:
            body["issuedBefore"] = message.issued_before
    return json.dumps(body, separators=(",", ":"))


#: a notification as :func:`notification_view` writes it: its fields and their JSON types
_NOTIFICATION_FIELDS: dict[str, type] = {
    "id": str,
    "type": str,
    "content": dict,
    "read": bool,
    "createdAt": str,
}
_OPTIONAL_NOTIFICATION_FIELDS: dict[str, type] = {"title": str, "message": str, "readAt": str}
_CLOSE_CODES = frozenset(int(code) for code in CloseCode)
#: a close frame's reason: at most 123 bytes (RFC 6455 §5.5)
_MAX_REASON_BYTES = 123


def decode(data: str | bytes) -> LiveMessage:
    """Raise ValueError (or KeyError/TypeError) for anything that is not a live message as
    :func:`encode` writes it (the fields, their types, nothing else)."""
    body = json.loads(data)
    if not isinstance(body, dict):
        raise TypeError("a live message is an object")
    kind = LiveMessageKind(body["kind"])
    user_id = _typed(body, "userId", str)
    if not user_id:
        raise ValueError("userId is empty")
    if kind is LiveMessageKind.NOTIFICATION:
        _only(body, {"kind", "userId", "notification"})
        notification = _typed(body, "notification", dict)
        _only(notification, {*_NOTIFICATION_FIELDS, *_OPTIONAL_NOTIFICATION_FIELDS})
        for name, expected in _NOTIFICATION_FIELDS.items():
            _typed(notification, name, expected)
        for name, expected in _OPTIONAL_NOTIFICATION_FIELDS.items():
            if name in notification:
                _typed(notification, name, expected)
        return LiveMessage(kind, user_id, notification=notification)
    _only(body, {"kind", "userId", "closeCode", "reason", "issuedBefore"})
    close_code = _typed(body, "closeCode", int)
    if close_code not in _CLOSE_CODES:
        raise ValueError(f"closeCode {close_code} is none of this service's")
    reason = _typed(body, "reason", str)
    if len(reason.encode()) > _MAX_REASON_BYTES:
        raise ValueError("the reason is too long for a close frame")
    issued_before = body.get("issuedBefore")
    return LiveMessage(
        kind,
        user_id,
        close_code=close_code,
        reason=reason,
        issued_before=None if issued_before is None else _typed(body, "issuedBefore", int),
    )


def _typed(body: dict[str, Any], name: str, expected: type[T]) -> T:
    value = body[name]
    # JSON true/false are ints to Python: a count or a code is never one.
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise TypeError(f"{name} must be a {expected.__name__}")
    return value


def _only(body: dict[str, Any], names: set[str]) -> None:
    unknown = set(body) - names
    if unknown:
        raise ValueError(f"unknown fields: {sorted(unknown)[:5]}")


class RedisLiveChannel(LiveChannel):
    """Publishes a batch in one round trip (a pipeline of PUBLISH commands)."""

    def __init__(self, redis: Redis, channel: str) -> None:
        self._redis = redis
        self._channel = database_channel(redis, channel)

    def publish(self, messages: Sequence[LiveMessage]) -> None:
        if not messages:
            return
        try:
            pipe = self._redis.pipeline(transaction=False)
            for message in messages:
                pipe.publish(self._channel, encode(message))
            pipe.execute()
        except RedisError as exc:
            raise DependencyUnavailable("The live channel is unavailable.") from exc


class RedisLiveSubscriber:
    """One subscription per web process (a greenlet under gevent), re-established after a
    Redis outage. Messages published while it is down are missed; clients catch up over REST."""

    def __init__(
        self,
        redis: Redis,
        channel: str,
        on_message: Callable[[LiveMessage], object],
        poll_seconds: float = 1.0,
        max_backoff: float = 5.0,
    ) -> None:
        self._redis = redis
        self._channel = database_channel(redis, channel)
        self._on_message = on_message
        self._poll = poll_seconds
        self._max_backoff = max_backoff
        self._stopping = threading.Event()
        self._subscribed = threading.Event()
        self._thread: threading.Thread | None = None
        self.name = "live-subscriber"

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def subscribed(self) -> bool:
        return self._subscribed.is_set()

    def wait_subscribed(self, timeout: float) -> bool:
        return self._subscribed.wait(timeout)

    def check(self) -> None:
        """Readiness probe: the subscription is confirmed by Redis."""
        if not self._subscribed.is_set():
            raise ConnectionError("not subscribed to the live channel")

    def run(self) -> None:
        backoff = 0.2
        while not self._stopping.is_set():
            pubsub = self._redis.pubsub()  # type: ignore[no-untyped-call, unused-ignore]
            try:
                pubsub.subscribe(self._channel)
                while not self._stopping.is_set():
                    message = pubsub.get_message(timeout=self._poll)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        self._subscribed.set()
                        backoff = 0.2
                        log.info("live_channel_subscribed", channel=self._channel)
                    elif message["type"] == "message":
                        self._dispatch(message["data"])
            except (RedisError, OSError) as exc:
                log.warning("live_channel_lost", error=str(exc), retry_in=backoff)
            except Exception:
                # Whatever it was, every socket of this process depends on resubscribing.
                log.exception("live_channel_failed", retry_in=backoff)
            finally:
                self._subscribed.clear()
                with contextlib.suppress(RedisError, OSError):
                    pubsub.close()
            self._stopping.wait(backoff)
            backoff = min(backoff * 2, self._max_backoff)

    def _dispatch(self, data: str | bytes) -> None:
        try:
            message = decode(data)
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            # Not from the worker (it writes nothing else): nothing of it reaches a socket.
            log.warning("live_message_malformed", channel=self._channel, error=str(exc)[:200])
            return
        try:
            self._on_message(message)
        except Exception:
            # One bad delivery must not end the subscription every socket depends on.
            log.exception("live_dispatch_failed", user_id=message.user_id)
