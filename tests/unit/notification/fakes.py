"""In-memory fakes of the notification ports."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from notification_service.application.live import LiveMessage, SessionTransport
from notification_service.application.ports import LiveChannel
from notification_service.domain.exceptions import UnknownPageAnchor
from notification_service.domain.model import (
    AddedNotifications,
    EventIdConflict,
    Notification,
    NotificationDraft,
)
from notification_service.domain.ports import NotificationRepository
from shared.domain.exceptions import DependencyUnavailable
from shared.domain.pagination import Page, PageRequest
from tests.support.tokens import RevocationsInMemory


class InMemoryNotificationRepository(NotificationRepository):
    def __init__(self) -> None:
        self.by_id: dict[str, Notification] = {}
        self._ids = itertools.count(1)

    def add_new(self, drafts: Sequence[NotificationDraft]) -> AddedNotifications:
        holders = {n.event_id: n for n in self.by_id.values()}
        stored: list[Notification] = []
        conflicts: list[EventIdConflict] = []
        for index, draft in enumerate(drafts):
            holder = holders.get(draft.event_id)
            if holder is not None:
                if not draft.repeats(holder):
                    conflicts.append(EventIdConflict(index, draft, holder))
                continue
            notification = Notification.from_draft(f"{next(self._ids):024x}", draft)
            holders[draft.event_id] = self.by_id[notification.id] = notification
            stored.append(notification)
        return AddedNotifications(stored, conflicts)

    def get(self, user_id: str, notification_id: str) -> Notification | None:
        found = self.by_id.get(notification_id)
        # A copy, as a store returns: what a caller changes is not stored until it is saved.
        return replace(found) if found is not None and found.user_id == user_id else None

    def _of(
        self, user_id: str, unread_only: bool, players_only: bool = False
    ) -> list[Notification]:
        mine = [
            n
            for n in self.by_id.values()
            if n.user_id == user_id
            and not (unread_only and n.read)
            and (n.addressed_to_player or not players_only)
        ]
        return sorted(mine, key=lambda n: (n.created_at, n.id), reverse=True)

    def list(
        self,
        user_id: str,
        unread_only: bool,
        page: PageRequest,
        before: str | None = None,
        players_only: bool = False,
    ) -> Page[Notification]:
        mine = self._of(user_id, unread_only, players_only)
        total = len(mine)
        if before is not None:
            anchor = self.by_id.get(before)
            if anchor is None or anchor not in self._of(user_id, False, players_only):
                raise UnknownPageAnchor()
            mine = [n for n in mine if (n.created_at, n.id) < (anchor.created_at, anchor.id)]
        end = page.offset + page.page_size
        return Page(mine[page.offset : end], total, page, has_more=len(mine) > end)

    def save_read_state(self, notification: Notification) -> Notification:
        stored = self.by_id[notification.id]
        if not stored.read:
            stored.read, stored.read_at = notification.read, notification.read_at
        return replace(stored)

    def mark_all_read(self, user_id: str, at: datetime) -> int:
        return sum(1 for n in self._of(user_id, unread_only=True) if n.mark_read(at))

    def count_unread(self, user_id: str, players_only: bool = False) -> int:
        return len(self._of(user_id, unread_only=True, players_only=players_only))


class RecordingLiveChannel(LiveChannel):
    def __init__(self) -> None:
        self.published: list[LiveMessage] = []
        self.down = False

    def publish(self, messages: Sequence[LiveMessage]) -> None:
        if self.down:
            raise DependencyUnavailable("live channel down")
        self.published.extend(messages)


class InMemoryInactiveUsers(RevocationsInMemory):
    def __init__(self) -> None:
        super().__init__()
        self.inactive: set[str] = set()
        self.changed_at: dict[str, datetime] = {}
        self.failing = False

    def is_inactive(self, user_id: str) -> bool:
        if self.failing:
            raise ConnectionError("store down")
        return user_id in self.inactive

    def mark(self, user_id: str, inactive: bool, as_of: datetime | None = None) -> bool:
        if as_of is not None:
            if as_of < self.changed_at.get(user_id, as_of):
                return False
            self.changed_at[user_id] = as_of
        if inactive:
            self.inactive.add(user_id)
        else:
            self.inactive.discard(user_id)
        return True


class RecordingTransport(SessionTransport):
    """A socket that records what was sent; ``leave_after`` sends, the client goes away."""

    def __init__(self, leave_after: int | None = None, floods_after: int = 10**9) -> None:
        self.sent: list[str] = []
        self.closed: tuple[int, str] | None = None
        self.discards = 0
        #: the wake-up after which the client sends more than a wake-up may drop
        self.floods_after = floods_after
        self._leave_after = leave_after

    @property
    def connected(self) -> bool:
        if self.closed is not None:
            return False
        return self._leave_after is None or len(self.sent) < self._leave_after

    def send(self, text: str) -> None:
        self.sent.append(text)

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def discard_incoming(self) -> bool:
        self.discards += 1
        return self.discards > self.floods_after
