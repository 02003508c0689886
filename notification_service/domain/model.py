"""Notifications: what a player was told, when, and whether they have read it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from notification_service.domain.exceptions import InvalidNotification

#: the envelope bounds ``user_id`` to 64 characters; event types are ``^[A-Z][A-Z0-9_]{1,63}$``
MAX_USER_ID_LENGTH = 64
MAX_TYPE_LENGTH = 64
MAX_TITLE_LENGTH = 200
MAX_MESSAGE_LENGTH = 1000
MAX_CONTENT_DEPTH = 8

#: the roles of accounts a notification may be addressed to
PLAYER_ROLE = "player"
RECIPIENT_ROLES = frozenset({PLAYER_ROLE, "staff", "admin"})
#: notification types sent to accounts of every role (the others are players'): their events
#: name the recipient's role, and one that names none is not taken for a player's
ANY_ACCOUNT_TYPES = frozenset({"PASSWORD_CHANGED"})


class AccountStatus(StrEnum):
    """An account's status as the identity service announces it."""

    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"


@dataclass(frozen=True, slots=True)
class NotificationDraft:
    """A notification about to be stored: one per consumed event (``event_id`` is unique)."""

    user_id: str
    type: str
    event_id: str
    created_at: datetime
    content: Mapping[str, Any] = field(default_factory=dict)
    title: str | None = None
    message: str | None = None
    #: the recipient account's role (``player``, ``staff``, ``admin``); None: not known
    recipient_role: str | None = PLAYER_ROLE

    def __post_init__(self) -> None:
        if not self.user_id or len(self.user_id) > MAX_USER_ID_LENGTH:
            raise InvalidNotification("A notification needs a user id of at most 64 characters.")
        if not self.type or len(self.type) > MAX_TYPE_LENGTH:
            raise InvalidNotification("A notification needs a type of at most 64 characters.")
        if not self.event_id:
            raise InvalidNotification("A notification needs the id of the event it came from.")
        if self.created_at.tzinfo is None:
            raise InvalidNotification("A notification's time must carry its time zone.")
        if self.title is not None and len(self.title) > MAX_TITLE_LENGTH:
            raise InvalidNotification("The title is too long.")
        if self.message is not None and len(self.message) > MAX_MESSAGE_LENGTH:
            raise InvalidNotification("The message is too long.")
        if self.recipient_role is not None and self.recipient_role not in RECIPIENT_ROLES:
            raise InvalidNotification("The recipient's role is none of player, staff, admin.")
        _check_content(self.content, depth=1)

    def repeats(self, stored: Notification) -> bool:
        """Whether this draft is ``stored`` again (its event redelivered) rather than another
        notification reusing its event id: the same user, type, time and content. Title and
        message are left out (this service writes them for some sources, and their wording
        may change between versions); times are compared to the millisecond, as stores keep
        them."""
        return (
            self.user_id == stored.user_id
            and self.type == stored.type
            and _to_millisecond(self.created_at) == _to_millisecond(stored.created_at)
            and dict(self.content) == dict(stored.content)
        )


@dataclass(frozen=True, slots=True)
class EventIdConflict:
    """A draft whose event id an earlier, different notification holds (another user's, or
    other content): storing it would lose one of them, so it is refused."""

    #: its position in the batch it came in
    index: int
    draft: NotificationDraft
    stored: Notification

    def describe(self) -> str:
        other = "another user's" if self.stored.user_id != self.draft.user_id else "different"
        return (
            f"eventId {self.draft.event_id} is already notification {self.stored.id}, {other}; "
            "an event id names one notification"
        )


@dataclass(frozen=True, slots=True)
class AddedNotifications:
    """What a batch of drafts became: the notifications stored now, and the drafts refused for
    an event id an earlier, different notification holds. A redelivery is neither."""

    stored: list[Notification]
    conflicts: list[EventIdConflict] = field(default_factory=list)


def _to_millisecond(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@dataclass(slots=True)
class Notification:
    """A stored notification of one user; only its read state ever changes."""

    id: str
    user_id: str
    type: str
    event_id: str
    created_at: datetime
    content: Mapping[str, Any] = field(default_factory=dict)
    title: str | None = None
    message: str | None = None
    read: bool = False
    read_at: datetime | None = None
    recipient_role: str | None = PLAYER_ROLE

    @classmethod
    def from_draft(cls, notification_id: str, draft: NotificationDraft) -> Notification:
        return cls(
            id=notification_id,
            user_id=draft.user_id,
            type=draft.type,
            event_id=draft.event_id,
            created_at=draft.created_at,
            content=draft.content,
            title=draft.title,
            message=draft.message,
            recipient_role=draft.recipient_role,
        )

    def belongs_to(self, user_id: str) -> bool:
        return self.user_id == user_id

    @property
    def addressed_to_player(self) -> bool:
        """Whether its recipient is known to be a player: only those are shown to staff and
        administrators (a staff member's or an administrator's are their own business)."""
        return self.recipient_role == PLAYER_ROLE

    def mark_read(self, at: datetime) -> bool:
        """Mark read (once: the first time it was read is kept); True when it changed."""
        if self.read:
            return False
        self.read = True
        self.read_at = at
        return True


def _check_content(value: Any, depth: int) -> None:
    """Free-form, but storable as is: string keys that are not operators, bounded nesting."""
    if depth > MAX_CONTENT_DEPTH:
        raise InvalidNotification("The content is nested too deeply.")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str) or not key or key.startswith("$") or "\x00" in key:
                raise InvalidNotification(f"The content has an unusable field name: {key!r:.40}.")
            _check_content(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_content(item, depth + 1)
