"""Use cases: store consumed events as notifications and push them, read and mark them, and
follow account status changes."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from notification_service.application.live import REVOCATION_CLOSE_REASON, CloseCode, LiveMessage
from notification_service.application.ports import LiveChannel
from notification_service.application.sources import NOTIFICATION_SOURCES, NotificationMapper
from notification_service.domain.exceptions import InvalidNotification, NotificationNotFound
from notification_service.domain.model import (
    AccountStatus,
    AddedNotifications,
    Notification,
    NotificationDraft,
)
from notification_service.domain.ports import NotificationRepository
from shared.application.events import IntegrationEvent, TokenRevocation
from shared.application.ports import InactiveUsers
from shared.domain.clock import Clock
from shared.domain.exceptions import DependencyUnavailable
from shared.domain.pagination import Page, PageRequest
from shared.domain.player_ids import canonical_player_id
from shared.domain.principal import Principal

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SourcedEvent:
    """A consumed event and the topic it came from (the topic picks the mapping)."""

    topic: str
    event: IntegrationEvent


@dataclass(frozen=True, slots=True)
class IngestResult:
    stored: int
    duplicates: int
    pushed: bool
    #: the events refused for an event id another notification holds: position → why
    conflicts: Mapping[int, str] = field(default_factory=dict)


class NotificationIngestion:
    """Consumed events → stored notifications (each event once) → pushed to live sockets."""

    def __init__(
        self,
        repository: NotificationRepository,
        live: LiveChannel,
        sources: Mapping[str, NotificationMapper] = NOTIFICATION_SOURCES,
    ) -> None:
        self._repository = repository
        self._live = live
        self._sources = sources

    def draft(self, sourced: SourcedEvent) -> NotificationDraft | None:
        """The notification an event describes (None when it is worth none);
        ``InvalidNotification`` when it cannot be one."""
        mapper = self._sources.get(sourced.topic)
        if mapper is None:
            raise InvalidNotification(f"Events on {sourced.topic!r} are not notifications.")
        draft = mapper(sourced.event)
        if draft is None:
            return None
        # Stored under the id the player's token carries (a producer may write it in capitals:
        # the wallet credits the player then, and so the player must see it).
        return replace(draft, user_id=canonical_player_id(draft.user_id))

    def ingest(self, events: Sequence[SourcedEvent]) -> IngestResult:
        """Store the batch (a redelivered event stores nothing), then push what is new. An
        event whose id another notification already holds (another user's, or other content)
        is stored neither over it nor beside it: it is returned as a conflict, and logged.

        The push is best effort: the notifications are stored whatever happens to it, and a
        client reads them over REST. Failing the batch for it would not help, because a
        redelivered event is a duplicate and is not pushed again.
        """
        drafted = [
            (position, draft)
            for position, draft in enumerate(self.draft(sourced) for sourced in events)
            if draft is not None
        ]
        added = (
            self._repository.add_new([draft for _, draft in drafted])
            if drafted
            else AddedNotifications([])
        )
        conflicts: dict[int, str] = {}
        for conflict in added.conflicts:
            conflicts[drafted[conflict.index][0]] = conflict.describe()
            log.warning(
                "notification_event_id_conflict",
                extra={
                    "event_id": conflict.draft.event_id,
                    "user_id": conflict.draft.user_id,
                    "stored_user_id": conflict.stored.user_id,
                    "stored_id": conflict.stored.id,
                },
            )
        stored = added.stored
        pushed = False
        if stored:
            try:
                self._live.publish([LiveMessage.deliver(n) for n in stored])
                pushed = True
            except DependencyUnavailable as exc:
                log.warning("live_push_failed", extra={"error": str(exc), "stored": len(stored)})
        return IngestResult(
            stored=len(stored),
            duplicates=len(drafted) - len(stored) - len(conflicts),
            pushed=pushed,
            conflicts=conflicts,
        )


@dataclass(frozen=True, slots=True)
class NotificationPage:
    user_id: str
    page: Page[Notification]


@dataclass(frozen=True, slots=True)
class UserCount:
    user_id: str
    count: int


class NotificationService:
    """What players (and staff, read-only) do with notifications."""

    def __init__(self, repository: NotificationRepository, clock: Clock) -> None:
        self._repository = repository
        self._clock = clock

    @staticmethod
    def _readable_user(reader: Principal, user_id: str | None) -> tuple[str, bool]:
        """A player reads their own notifications; staff and administrators may read a
        player's. Whose, and whether only those addressed to a player are shown: another staff
        member's or an administrator's notifications are their own (auth lets nobody act for
        an administrator, nor staff for staff), so they read as those of an id of no player."""
        target = canonical_player_id(user_id) if user_id else reader.subject
        reader.ensure_can_read_player(target)
        return target, target != reader.subject

    def list(
        self,
        reader: Principal,
        user_id: str | None,
        unread_only: bool,
        page: PageRequest,
        before: str | None = None,
    ) -> NotificationPage:
        """The user's notifications, newest first (older than ``before``, when given)."""
        target, players_only = self._readable_user(reader, user_id)
        listed = self._repository.list(target, unread_only, page, before, players_only)
        return NotificationPage(target, listed)

    def unread_count(self, reader: Principal, user_id: str | None) -> UserCount:
        """How many of the user's notifications are unread."""
        target, players_only = self._readable_user(reader, user_id)
        return UserCount(target, self._repository.count_unread(target, players_only))

    def mark_read(self, reader: Principal, notification_id: str) -> Notification:
        """Mark one of the reader's own notifications read (again is harmless) and return it as
        stored: the first ``read_at`` kept, also when several requests mark it at once."""
        notification = self._repository.get(reader.subject, notification_id)
        if notification is None or not notification.belongs_to(reader.subject):
            raise NotificationNotFound()
        if notification.mark_read(self._clock.now()):
            return self._repository.save_read_state(notification)
        return notification

    def mark_all_read(self, reader: Principal) -> UserCount:
        """Mark every unread notification of the reader read; the count says how many."""
        changed = self._repository.mark_all_read(reader.subject, self._clock.now())
        return UserCount(reader.subject, changed)


class AccountStatusService:
    """Follows ``user-status``: an inactive account is refused at the REST edge and its open
    sockets on every replica are closed; a reactivated one is let in again. Revoked tokens
    (``TOKENS_REVOKED``) are refused and the sockets opened with them closed."""

    def __init__(self, inactive_users: InactiveUsers, live: LiveChannel) -> None:
        self._inactive_users = inactive_users
        self._live = live

    def apply(self, user_id: str, status: AccountStatus, as_of: datetime | None = None) -> None:
        """``as_of``: when the change was made; an older one than the last applied (a replayed
        event) changes nothing."""
        inactive = status is AccountStatus.INACTIVE
        if not self._inactive_users.mark(user_id, inactive, as_of):
            return
        if inactive:
            # Unlike a notification push this must happen: a failure retries the event.
            self._live.publish(
                [
                    LiveMessage.close_sessions(
                        user_id, CloseCode.FORBIDDEN, "The account is not active."
                    )
                ]
            )

    def revoke(self, revocation: TokenRevocation) -> None:
        self._inactive_users.apply(revocation)
        # As above, this must happen; sockets opened with newer tokens stay open.
        self._live.publish(
            [
                LiveMessage.close_sessions(
                    revocation.account,
                    CloseCode.UNAUTHENTICATED,
                    REVOCATION_CLOSE_REASON,
                    issued_before=revocation.issued_before,
                )
            ]
        )
