"""Live sessions of one process: routing by user, limits, slow clients, and a socket's life."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from notification_service.application.live import (
    BURST_FACTOR,
    BURST_SECONDS,
    FLOOD_CLOSE_REASON,
    CloseCode,
    CloseFrame,
    LiveMessage,
    LiveMessageKind,
    LiveSession,
    LiveSessions,
    SendFrame,
    SessionPolicy,
    serve,
)
from notification_service.domain.exceptions import TooManyLiveSessions
from shared.domain.clock import Clock
from tests.unit.notification.fakes import InMemoryInactiveUsers, RecordingTransport

START = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
LATER = START + timedelta(hours=1)


class SteppingClock(Clock):
    """Moves forward by ``step`` every time it is read, so loops reach their deadlines."""

    def __init__(self, step: timedelta) -> None:
        self._at = START
        self._step = step

    def now(self) -> datetime:
        self._at += self._step
        return self._at


def message(user_id: str, text: str = "hello") -> LiveMessage:
    return LiveMessage(LiveMessageKind.NOTIFICATION, user_id, notification={"id": text})


def test_a_message_reaches_every_session_of_its_user_and_no_other() -> None:
    sessions = LiveSessions(max_per_user=5, queue_size=10)
    mine = [sessions.open("u1", LATER), sessions.open("u1", LATER)]
    other = sessions.open("u2", LATER)
    assert sessions.dispatch(message("u1")) == 2
    assert sessions.dispatch(message("nobody")) == 0
    for session in mine:
        step = session.next(0)
        assert isinstance(step, SendFrame)
        assert json.loads(step.text) == {"type": "notification", "notification": {"id": "hello"}}
    assert other.next(0) is None
    assert sessions.count() == 3


def test_a_user_may_not_open_more_than_the_limit() -> None:
    sessions = LiveSessions(max_per_user=2, queue_size=10)
    first = sessions.open("u1", LATER)
    sessions.open("u1", LATER)
    with pytest.raises(TooManyLiveSessions):
        sessions.open("u1", LATER)
    sessions.close(first)
    sessions.open("u1", LATER)
    assert sessions.count() == 2


class Ticking:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


TOO_SLOW = CloseFrame(CloseCode.TRY_AGAIN_LATER, "The client is too slow.")


def test_a_client_that_cannot_keep_up_is_closed() -> None:
    clock = Ticking()
    session = LiveSession("u1", LATER, queue_size=2, monotonic=clock)
    clock.now += BURST_SECONDS + 1  # it took nothing for a while
    assert [session.push(str(i)) for i in range(3)] == [True, True, False]
    assert session.next(0) == TOO_SLOW


def test_a_burst_larger_than_the_queue_reaches_a_client_that_reads() -> None:
    # A worker catching up on one player's backlog publishes hundreds at once, faster than
    # any socket sends them: a client that is reading is not "too slow".
    clock = Ticking()
    session = LiveSession("u1", LATER, queue_size=2, monotonic=clock)
    assert all(session.push(str(i)) for i in range(2 * BURST_FACTOR))
    assert session.next(0) == SendFrame("0")
    clock.now += BURST_SECONDS / 2
    assert session.push("more")  # still draining
    assert not session.push("beyond the burst limit")
    assert session.next(0) == TOO_SLOW


def test_a_close_order_wins_over_queued_frames() -> None:
    sessions = LiveSessions(max_per_user=2, queue_size=10)
    session = sessions.open("u1", LATER)
    sessions.dispatch(message("u1"))
    sessions.dispatch(LiveMessage.close_sessions("u1", CloseCode.FORBIDDEN, "inactive"))
    assert session.next(0) == CloseFrame(CloseCode.FORBIDDEN, "inactive")


def test_a_revocation_closes_the_sessions_opened_with_older_tokens_only() -> None:
    sessions = LiveSessions(max_per_user=3, queue_size=10)
    old = sessions.open("u1", LATER, issued_at=1_000)
    new = sessions.open("u1", LATER, issued_at=1_001)
    unknown = sessions.open("u1", LATER)
    closing = LiveMessage.close_sessions("u1", CloseCode.UNAUTHENTICATED, "revoked", 1_001)
    assert sessions.dispatch(closing) == 2
    assert old.next(0) == CloseFrame(CloseCode.UNAUTHENTICATED, "revoked")
    assert unknown.next(0) == CloseFrame(CloseCode.UNAUTHENTICATED, "revoked")
    assert new.next(0) is None


def served_until_closed(
    accounts: InMemoryInactiveUsers, expires_at: datetime = LATER, recheck_seconds: float = 10
) -> RecordingTransport:
    """A socket of u1 (token issued at 1,000) served, a second per step, until it closes."""
    session = LiveSessions(2, 10).open("u1", expires_at, issued_at=1_000)
    transport = RecordingTransport()
    serve(
        session,
        transport,
        SteppingClock(timedelta(seconds=1)),
        accounts,
        SessionPolicy(idle_seconds=0.001, recheck_seconds=recheck_seconds),
    )
    assert transport.closed is not None
    return transport


def test_serve_closes_a_socket_whose_token_was_revoked_since() -> None:
    accounts = InMemoryInactiveUsers()
    accounts.revoke_tokens("u1", issued_before=1_001, until=2_000)
    closed = served_until_closed(accounts).closed
    assert closed is not None
    assert closed[0] == CloseCode.UNAUTHENTICATED
    assert "revoked" in closed[1]


def test_draining_closes_every_session_and_new_ones_at_once() -> None:
    sessions = LiveSessions(max_per_user=2, queue_size=10)
    open_ones = [sessions.open("u1", LATER), sessions.open("u2", LATER)]
    sessions.drain()
    late = sessions.open("u3", LATER)
    for session in [*open_ones, late]:
        step = session.next(0)
        assert isinstance(step, CloseFrame)
        assert step.code == CloseCode.GOING_AWAY


def test_serve_sends_frames_in_order_until_the_client_leaves() -> None:
    sessions = LiveSessions(max_per_user=2, queue_size=10)
    session = sessions.open("u1", LATER)
    for text in ("a", "b"):
        sessions.dispatch(message("u1", text))
    transport = RecordingTransport(leave_after=2)
    serve(
        session,
        transport,
        SteppingClock(timedelta(milliseconds=1)),
        InMemoryInactiveUsers(),
        SessionPolicy(idle_seconds=0.001),
    )
    assert [json.loads(t)["notification"]["id"] for t in transport.sent] == ["a", "b"]
    assert transport.closed is None
    assert transport.discards >= 1


def test_serve_closes_a_socket_whose_client_floods_it() -> None:
    # What a client sends is buffered until dropped: sending faster than that grew the
    # process's memory without bound (ADR 0202: the socket takes no client messages).
    sessions = LiveSessions(max_per_user=2, queue_size=10)
    session = sessions.open("u1", LATER)
    transport = RecordingTransport(floods_after=3)
    serve(
        session,
        transport,
        SteppingClock(timedelta(milliseconds=1)),
        InMemoryInactiveUsers(),
        SessionPolicy(idle_seconds=0.001),
    )
    assert transport.closed == (CloseCode.POLICY_VIOLATION, FLOOD_CLOSE_REASON)
    assert transport.discards == 4


def test_serve_closes_the_socket_when_the_token_expires() -> None:
    session = LiveSessions(2, 10).open("u1", START + timedelta(seconds=5))
    transport = RecordingTransport()
    serve(
        session,
        transport,
        SteppingClock(timedelta(seconds=1)),
        InMemoryInactiveUsers(),
        SessionPolicy(idle_seconds=0.001, recheck_seconds=3600),
    )
    assert transport.closed is not None
    assert transport.closed[0] == CloseCode.UNAUTHENTICATED


def test_serve_closes_the_socket_of_an_account_found_inactive() -> None:
    inactive = InMemoryInactiveUsers()
    inactive.mark("u1", True)
    closed = served_until_closed(inactive).closed
    assert closed is not None
    assert closed[0] == CloseCode.FORBIDDEN


def test_an_unreachable_status_store_does_not_cut_the_socket() -> None:
    inactive = InMemoryInactiveUsers()
    inactive.failing = True
    closed = served_until_closed(inactive, START + timedelta(seconds=30), recheck_seconds=2).closed
    # It lived until its token expired.
    assert closed == (CloseCode.UNAUTHENTICATED, "The access token has expired.")


def test_serve_applies_a_close_order() -> None:
    sessions = LiveSessions(2, 10)
    session = sessions.open("u1", LATER)
    sessions.dispatch(LiveMessage.close_sessions("u1", CloseCode.FORBIDDEN, "inactive"))
    transport = RecordingTransport()
    serve(
        session,
        transport,
        SteppingClock(timedelta(milliseconds=1)),
        InMemoryInactiveUsers(),
        SessionPolicy(idle_seconds=0.001),
    )
    assert transport.closed == (CloseCode.FORBIDDEN, "inactive")
    assert transport.sent == []
