"""Repository port of the notification domain; the adapter implements it over MongoDB."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime

from notification_service.domain.model import (
    AddedNotifications,
    Notification,
    NotificationDraft,
)
from shared.domain.pagination import Page, PageRequest


class NotificationRepository(ABC):
    @abstractmethod
    def add_new(self, drafts: Sequence[NotificationDraft]) -> AddedNotifications:
        """Store every draft whose event was not stored before (``event_id`` is unique) and
        return the notifications actually stored now, in the order of ``drafts``. A draft
        whose event is already stored is skipped without error when it repeats the stored
        notification (:meth:`NotificationDraft.repeats`), so redelivery is harmless; one that
        does not (another user's, or other content) is returned as a conflict. Of drafts of
        one batch sharing an event id, the first stored wins."""

    @abstractmethod
    def get(self, user_id: str, notification_id: str) -> Notification | None:
        """The user's notification; None when it does not exist, is someone else's, or the
        id is malformed."""

    @abstractmethod
    def list(
        self,
        user_id: str,
        unread_only: bool,
        page: PageRequest,
        before: str | None = None,
        players_only: bool = False,
    ) -> Page[Notification]:
        """The user's notifications, newest first; with ``before`` (the id of one of them), only
        those older than it: a page that stays put while notifications arrive or are marked
        read. The page says whether more follow it (``has_more``). :class:`UnknownPageAnchor`
        when ``before`` is no notification of the user (of those listed). ``players_only``:
        only those addressed to a player (:attr:`Notification.addressed_to_player`)."""

    @abstractmethod
    def save_read_state(self, notification: Notification) -> Notification:
        """Persist ``read``/``read_at`` unless it is already read (then it stays as it was,
        even when another request marked it a moment ago) and return it as stored."""

    @abstractmethod
    def mark_all_read(self, user_id: str, at: datetime) -> int:
        """Mark every unread notification of the user read; returns how many changed."""

    @abstractmethod
    def count_unread(self, user_id: str, players_only: bool = False) -> int:
        """How many of the user's notifications are unread (``players_only`` as in ``list``)."""
