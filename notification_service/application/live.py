"""Live delivery inside one web process: the open sockets by user, and the life of one socket.

The worker stores a notification and publishes a :class:`LiveMessage`; every web process hears
it once and hands it to :class:`LiveSessions`, which queues it on each open session of that
user. Each session is served by its own greenlet (:func:`serve`), so a slow client delays only
itself: its queue is bounded, and a client that cannot keep up is disconnected (it reads what it
missed over REST when it comes back).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum
from typing import Any

from notification_service.application.views import notification_view
from notification_service.domain.exceptions import TooManyLiveSessions
from notification_service.domain.model import Notification
from shared.application.ports import InactiveUsers
from shared.domain.clock import Clock

log = logging.getLogger(__name__)


class CloseCode(IntEnum):
    """WebSocket close codes this service uses (4xxx are application codes)."""

    GOING_AWAY = 1001
    POLICY_VIOLATION = 1008
    TRY_AGAIN_LATER = 1013
    UNAUTHENTICATED = 4401
    FORBIDDEN = 4403
    TOO_MANY_SESSIONS = 4429


REVOCATION_CLOSE_REASON = "The access token was revoked; sign in again."
#: a session whose queue is full is a burst, not a slow client, while it took a frame this
#: recently; the queue may then grow to this many times its size
BURST_SECONDS = 2.0
BURST_FACTOR = 16
FLOOD_CLOSE_REASON = "This socket takes no messages from the client."


class LiveMessageKind(StrEnum):
    NOTIFICATION = "notification"
    CLOSE = "close"


@dataclass(frozen=True, slots=True)
class LiveMessage:
    """What travels from the worker to every web process about one user."""

    kind: LiveMessageKind
    user_id: str
    notification: Mapping[str, Any] | None = None
    close_code: int = CloseCode.FORBIDDEN
    reason: str = ""
    #: a close order for the sessions opened with tokens issued before this (None: every one)
    issued_before: int | None = None

    @classmethod
    def deliver(cls, notification: Notification) -> LiveMessage:
        return cls(
            LiveMessageKind.NOTIFICATION,
            notification.user_id,
            notification=notification_view(notification),
        )

    @classmethod
    def close_sessions(
        cls, user_id: str, code: CloseCode, reason: str, issued_before: int | None = None
    ) -> LiveMessage:
        return cls(
            LiveMessageKind.CLOSE,
            user_id,
            close_code=int(code),
            reason=reason,
            issued_before=issued_before,
        )

    def closes(self, session: LiveSession) -> bool:
        """Whether this close order is for ``session`` (a revocation spares the sessions
        opened with tokens issued since)."""
        if self.issued_before is None or session.issued_at is None:
            return True
        return session.issued_at < self.issued_before

    def frame(self) -> str:
        """The text sent on the socket for a notification."""
        return json.dumps(
            {"type": "notification", "notification": self.notification}, separators=(",", ":")
        )


@dataclass(frozen=True, slots=True)
class SendFrame:
    text: str


@dataclass(frozen=True, slots=True)
class CloseFrame:
    code: int
    reason: str


class LiveSession:
    """One open socket of a user: a bounded queue of frames, and at most one close order."""

    def __init__(
        self,
        user_id: str,
        expires_at: datetime,
        queue_size: int,
        issued_at: int | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.user_id = user_id
        self.expires_at = expires_at
        #: when the token the socket was opened with was issued (``iat``), for revocations
        self.issued_at = issued_at
        self._limit = queue_size
        self._frames: deque[str] = deque()
        self._close: CloseFrame | None = None
        self._ready = threading.Condition()
        self._monotonic = monotonic
        #: when the socket last took a frame: a full queue that is being drained is a burst
        self._last_taken = monotonic()

    def push(self, text: str) -> bool:
        """Queue a frame. Past ``queue_size`` unsent frames the session is told to close (its
        client cannot keep up) unless it took a frame within ``BURST_SECONDS``: a burst larger
        than the queue (a worker catching up on one player's backlog) reaches a client that
        reads, up to ``BURST_FACTOR`` times the queue."""
        with self._ready:
            if self._close is not None:
                return False
            queued = len(self._frames)
            if queued >= self._limit:
                draining = self._monotonic() - self._last_taken < BURST_SECONDS
                if not draining or queued >= self._limit * BURST_FACTOR:
                    self._close = CloseFrame(CloseCode.TRY_AGAIN_LATER, "The client is too slow.")
                    self._ready.notify()
                    return False
            self._frames.append(text)
            self._ready.notify()
            return True

    def order_close(self, code: int, reason: str) -> None:
        """Close the session soon; frames not yet sent are dropped (they are stored)."""
        with self._ready:
            if self._close is None:
                self._close = CloseFrame(code, reason)
            self._ready.notify()

    def next(self, timeout: float) -> SendFrame | CloseFrame | None:
        """The next thing to do, waiting at most ``timeout`` seconds; a close order wins."""
        with self._ready:
            if not self._frames and self._close is None and timeout > 0:
                self._ready.wait(timeout)
            if self._close is not None:
                return self._close
            if self._frames:
                self._last_taken = self._monotonic()
                return SendFrame(self._frames.popleft())
            return None


class LiveSessions:
    """The open sessions of this process, by user."""

    def __init__(self, max_per_user: int, queue_size: int) -> None:
        self.max_per_user = max_per_user
        self.queue_size = queue_size
        self._by_user: dict[str, set[LiveSession]] = {}
        self._lock = threading.Lock()
        self._draining = False

    def open(self, user_id: str, expires_at: datetime, issued_at: int | None = None) -> LiveSession:
        """Register a session; refuses past ``max_per_user`` sessions of one user."""
        session = LiveSession(user_id, expires_at, self.queue_size, issued_at)
        with self._lock:
            if self._draining:
                session.order_close(CloseCode.GOING_AWAY, "The server is restarting.")
                return session
            sessions = self._by_user.setdefault(user_id, set())
            if len(sessions) >= self.max_per_user:
                if not sessions:
                    del self._by_user[user_id]
                raise TooManyLiveSessions()
            sessions.add(session)
        return session

    def close(self, session: LiveSession) -> None:
        with self._lock:
            sessions = self._by_user.get(session.user_id)
            if sessions is not None:
                sessions.discard(session)
                if not sessions:
                    del self._by_user[session.user_id]

    def _sessions_of(self, user_id: str) -> list[LiveSession]:
        with self._lock:
            return list(self._by_user.get(user_id, ()))

    def dispatch(self, message: LiveMessage) -> int:
        """Hand ``message`` to the user's sessions here; returns how many it reached."""
        sessions = self._sessions_of(message.user_id)
        if not sessions:
            return 0
        if message.kind is LiveMessageKind.CLOSE:
            closing = [session for session in sessions if message.closes(session)]
            for session in closing:
                session.order_close(message.close_code, message.reason)
            return len(closing)
        text = message.frame()
        return sum(1 for session in sessions if session.push(text))

    def drain(self) -> None:
        """The process is stopping: close every session (clients reconnect elsewhere)."""
        with self._lock:
            self._draining = True
            everyone = [s for sessions in self._by_user.values() for s in sessions]
        for session in everyone:
            session.order_close(CloseCode.GOING_AWAY, "The server is restarting.")

    def count(self) -> int:
        with self._lock:
            return sum(len(sessions) for sessions in self._by_user.values())


class SessionTransport(ABC):
    """The socket under a session, as :func:`serve` needs it."""

    @property
    @abstractmethod
    def connected(self) -> bool: ...

    @abstractmethod
    def send(self, text: str) -> None: ...

    @abstractmethod
    def close(self, code: int, reason: str) -> None: ...

    @abstractmethod
    def discard_incoming(self) -> bool:
        """Drop what the client sent (this socket only speaks server to client); True when
        the client sent more than a wake-up may drop, i.e. it floods the socket."""


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """How often a session wakes up when idle, re-checks that its account is active, and how
    long a write may wait for the client to take it before the connection is dropped."""

    idle_seconds: float = 1.0
    recheck_seconds: float = 30.0
    write_timeout_seconds: float = 10.0


def serve(
    session: LiveSession,
    transport: SessionTransport,
    clock: Clock,
    inactive_users: InactiveUsers,
    policy: SessionPolicy,
) -> None:
    """Send the session's frames until the client leaves, the token expires, the account is
    deactivated or the token revoked, or a close is ordered."""
    # The first re-check is spread over the second half of the period, so sockets opened
    # together (a reconnect storm after a deploy) do not all ask at the same moment.
    first = policy.recheck_seconds * random.uniform(0.5, 1.0)  # noqa: S311 - not security
    next_recheck = clock.now() + timedelta(seconds=first)
    while transport.connected:
        now = clock.now()
        if now >= session.expires_at:
            transport.close(CloseCode.UNAUTHENTICATED, "The access token has expired.")
            return
        if now >= next_recheck:
            next_recheck = now + timedelta(seconds=policy.recheck_seconds)
            if _is_inactive(inactive_users, session.user_id):
                transport.close(CloseCode.FORBIDDEN, "The account is not active.")
                return
            if _is_revoked(inactive_users, session):
                transport.close(CloseCode.UNAUTHENTICATED, REVOCATION_CLOSE_REASON)
                return
        timeout = min(
            policy.idle_seconds,
            (session.expires_at - now).total_seconds(),
            (next_recheck - now).total_seconds(),
        )
        step = session.next(max(timeout, 0.0))
        if isinstance(step, CloseFrame):
            transport.close(step.code, step.reason)
            return
        if isinstance(step, SendFrame):
            transport.send(step.text)
        if transport.discard_incoming():
            # Whatever a client sends is buffered until dropped here: a client sending faster
            # than it is dropped would grow the process's memory without bound.
            transport.close(CloseCode.POLICY_VIOLATION, FLOOD_CLOSE_REASON)
            return


def _is_inactive(inactive_users: InactiveUsers, user_id: str) -> bool:
    try:
        return inactive_users.is_inactive(user_id)
    except Exception:
        # A safety net only (the deactivation event closes sockets at once): an unreachable
        # store must not cut healthy sockets; the next check tries again.
        log.warning("inactive_check_failed", exc_info=True)
        return False


def _is_revoked(inactive_users: InactiveUsers, session: LiveSession) -> bool:
    if session.issued_at is None:
        return False
    try:
        return inactive_users.tokens_revoked(session.user_id, session.issued_at)
    except Exception:
        # The same safety net as above (the revocation event closes the sockets at once).
        log.warning("revocation_check_failed", exc_info=True)
        return False
