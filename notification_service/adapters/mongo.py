"""Notifications in MongoDB through mongoengine: one document per notification.

Writes come in batches from the consumer: one unordered ``insert_many`` per batch, and the
unique index on ``event_id`` turns a redelivered event into a duplicate-key error; the drafts
refused so are compared with what holds their event id, and only an exact redelivery is
ignored. Reads are by user, newest first, over compound indexes that start with ``user_id``.

Written for MongoDB; notes on the embedded nx-27017 server (which the dev and test profiles use):
counts go through an aggregation ``$count`` stage (nx-27017 runs ``count_documents`` without
its indexes, ~150 ms per call), and values written by ``$set`` may come back as other types
there (``read`` as 1, ``read_at`` as a string), so the mapping reads them leniently.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from mongoengine import (
    BooleanField,
    DateTimeField,
    DictField,
    Document,
    Q,
    StringField,
    connect,
    disconnect,
)
from mongoengine.connection import get_db
from pymongo import ReturnDocument
from pymongo.database import Database
from pymongo.errors import BulkWriteError, ConnectionFailure, ExecutionTimeout

from notification_service.domain.exceptions import UnknownPageAnchor
from notification_service.domain.model import (
    ANY_ACCOUNT_TYPES,
    PLAYER_ROLE,
    AddedNotifications,
    EventIdConflict,
    Notification,
    NotificationDraft,
)
from notification_service.domain.ports import NotificationRepository
from shared.domain.clock import Clock
from shared.domain.exceptions import DependencyUnavailable
from shared.domain.pagination import Page, PageRequest

ALIAS = "notifications"
DUPLICATE_KEY = 11000
_OBJECT_ID = re.compile(r"^[0-9a-fA-F]{24}$")


class NotificationDocument(Document):  # type: ignore[misc]
    """The stored form. Indexes: ``event_id`` unique (idempotent consumption), and the two
    listing orders of one user (all / unread, newest first), which also serve the counts and
    "mark all read"."""

    meta = {
        "collection": "notifications",
        "db_alias": ALIAS,
        # Indexes are created by ``manage migrate`` (and at start-up in dev/test), never as a
        # side effect of the first query.
        "auto_create_index": False,
        "indexes": [
            {"fields": ["event_id"], "unique": True, "name": "event_id_unique"},
            # Ties on created_at are broken by _id in a top-k sort bounded by the page (an index
            # with _id in it is refused by nx-27017).
            {"fields": ["user_id", "-created_at"], "name": "user_newest"},
            {"fields": ["user_id", "read", "-created_at"], "name": "user_unread_newest"},
        ],
    }

    user_id = StringField(required=True, max_length=64)
    type = StringField(required=True, max_length=64)
    content = DictField()
    title = StringField(max_length=200, null=True)
    message = StringField(max_length=1000, null=True)
    read = BooleanField(required=True, default=False)
    read_at = DateTimeField(null=True)
    event_id = StringField(required=True, max_length=64)
    created_at = DateTimeField(required=True)
    received_at = DateTimeField(required=True)
    #: the recipient account's role; absent when not known (see ``complete_recipient_roles``)
    recipient_role = StringField(max_length=16, null=True)


def mongo_connection(settings: Mapping[str, Any]) -> Iterator[Database[Any]]:
    """dependency-injector Resource: the process's MongoDB client, closed at shutdown."""
    connect(
        db=str(settings["database"]),
        host=str(settings["url"]),
        alias=ALIAS,
        tz_aware=True,
        uuidRepresentation="standard",
        appname=str(settings.get("app_name", "notification-service")),
        serverSelectionTimeoutMS=int(settings.get("server_selection_timeout_ms", 3000)),
        connectTimeoutMS=int(settings.get("connect_timeout_ms", 3000)),
        socketTimeoutMS=int(settings.get("socket_timeout_ms", 10000)),
        maxPoolSize=int(settings.get("max_pool_size", 50)),
    )
    try:
        yield get_db(ALIAS)
    finally:
        disconnect(ALIAS)


def ensure_indexes(_database: Database[Any]) -> None:
    """Create the collection's indexes and complete older documents (idempotent)."""
    with _translated():
        NotificationDocument.ensure_indexes()
    complete_recipient_roles()


def complete_recipient_roles() -> int:
    """Documents stored before the recipient's role was recorded: those of a type only players
    are sent are a player's; the others (a password change, sent to every account) stay of no
    known role, so staff do not see them. Returns how many were completed."""
    with _translated():
        result = NotificationDocument._get_collection().update_many(
            {"recipient_role": {"$exists": False}, "type": {"$nin": sorted(ANY_ACCOUNT_TYPES)}},
            {"$set": {"recipient_role": PLAYER_ROLE}},
        )
    return int(result.modified_count)


def verify_indexes(_database: Database[Any]) -> None:
    """Refuse to consume without the unique index on ``event_id``: without it a redelivered
    event would be stored twice."""
    with _translated():
        indexes = list(NotificationDocument._get_collection().list_indexes())
    if not any(list(i["key"].keys()) == ["event_id"] and i.get("unique") for i in indexes):
        raise RuntimeError(
            "the notifications collection has no unique index on event_id; "
            "run `python -m notification_service.manage migrate`"
        )


def check_mongo(database: Database[Any]) -> None:
    """Readiness probe."""
    database.command("ping")


@contextmanager
def _translated() -> Iterator[None]:
    """Connection-level failures become the port's ``DependencyUnavailable``."""
    try:
        yield
    except (ConnectionFailure, ExecutionTimeout) as exc:
        raise DependencyUnavailable("The notification store is unavailable.") from exc


def _moment(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"not a time: {type(value).__name__}")
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _to_domain(raw: Mapping[str, Any]) -> Notification:
    created_at = _moment(raw["created_at"])
    assert created_at is not None  # required field
    return Notification(
        id=str(raw["_id"]),
        user_id=str(raw["user_id"]),
        type=str(raw["type"]),
        event_id=str(raw["event_id"]),
        created_at=created_at,
        content=dict(raw.get("content") or {}),
        title=raw.get("title"),
        message=raw.get("message"),
        read=bool(raw.get("read")),
        read_at=_moment(raw.get("read_at")),
        recipient_role=raw.get("recipient_role"),
    )


def _object_id(value: str) -> ObjectId | None:
    return ObjectId(value) if _OBJECT_ID.fullmatch(value) else None


class MongoNotificationRepository(NotificationRepository):
    def __init__(self, database: Database[Any], clock: Clock) -> None:
        # Taking the database makes the container connect before the first query.
        self._database = database
        self._clock = clock

    def add_new(self, drafts: Sequence[NotificationDraft]) -> AddedNotifications:
        if not drafts:
            return AddedNotifications([])
        received_at = self._clock.now()
        candidates = [Notification.from_draft(str(ObjectId()), draft) for draft in drafts]
        documents = [self._document(n, received_at) for n in candidates]
        rejected: set[int] = set()
        with _translated():
            try:
                NotificationDocument._get_collection().insert_many(documents, ordered=False)
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                others = [e for e in errors if e.get("code") != DUPLICATE_KEY]
                if others:
                    raise
                rejected = {int(e["index"]) for e in errors}
        stored = [n for index, n in enumerate(candidates) if index not in rejected]
        return AddedNotifications(stored, self._conflicts({i: drafts[i] for i in rejected}))

    def _conflicts(self, duplicates: Mapping[int, NotificationDraft]) -> list[EventIdConflict]:
        """The drafts refused for their event id that do not repeat what holds it (whether
        stored earlier or just now, by a draft of the same batch)."""
        if not duplicates:
            return []
        event_ids = sorted({draft.event_id for draft in duplicates.values()})
        with _translated():
            holders = {
                str(raw["event_id"]): _to_domain(raw)
                for raw in NotificationDocument._get_collection().find(
                    {"event_id": {"$in": event_ids}}
                )
            }
        return [
            EventIdConflict(index, draft, holder)
            for index, draft in sorted(duplicates.items())
            if (holder := holders.get(draft.event_id)) is not None and not draft.repeats(holder)
        ]

    @staticmethod
    def _document(notification: Notification, received_at: datetime) -> dict[str, Any]:
        """The stored form of a new notification, as ``NotificationDocument`` declares it (built
        directly: the draft is already validated, and this is the consumer's hot path)."""
        document: dict[str, Any] = {
            "_id": ObjectId(notification.id),
            "user_id": notification.user_id,
            "type": notification.type,
            "content": dict(notification.content),
            "read": False,
            "event_id": notification.event_id,
            "created_at": notification.created_at,
            "received_at": received_at,
        }
        if notification.title is not None:
            document["title"] = notification.title
        if notification.message is not None:
            document["message"] = notification.message
        if notification.recipient_role is not None:
            document["recipient_role"] = notification.recipient_role
        return document

    def get(self, user_id: str, notification_id: str) -> Notification | None:
        object_id = _object_id(notification_id)
        if object_id is None:
            return None
        with _translated():
            raw = NotificationDocument.objects(id=object_id, user_id=user_id).as_pymongo().first()
        return _to_domain(raw) if raw is not None else None

    def list(
        self,
        user_id: str,
        unread_only: bool,
        page: PageRequest,
        before: str | None = None,
        players_only: bool = False,
    ) -> Page[Notification]:
        query = self._of(user_id, players_only)
        if unread_only:
            query["read"] = False
        with _translated():
            selected = NotificationDocument.objects(**query)
            if before is not None:
                selected = selected.filter(self._older_than(user_id, before, players_only))
            # One more than the page: whether another page follows, without a second query.
            rows = list(
                selected.order_by("-created_at", "-id")
                .skip(page.offset)
                .limit(page.page_size + 1)
                .as_pymongo()
            )
            total = self._count(query)
        return Page(
            items=[_to_domain(r) for r in rows[: page.page_size]],
            total=total,
            request=page,
            has_more=len(rows) > page.page_size,
        )

    @staticmethod
    def _of(user_id: str, players_only: bool) -> dict[str, Any]:
        """The user's notifications (those addressed to a player only, when asked)."""
        query: dict[str, Any] = {"user_id": user_id}
        if players_only:
            query["recipient_role"] = PLAYER_ROLE
        return query

    def _older_than(self, user_id: str, before: str, players_only: bool) -> Q:
        """After ``before`` in the list's order (created_at, then id, both descending)."""
        anchor_id = _object_id(before)
        anchor = (
            NotificationDocument.objects(id=anchor_id, **self._of(user_id, players_only))
            .only("created_at")
            .as_pymongo()
            .first()
            if anchor_id is not None
            else None
        )
        if anchor is None:
            raise UnknownPageAnchor()
        created_at = anchor["created_at"]
        return Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=anchor_id)

    def _count(self, query: Mapping[str, Any]) -> int:
        result = list(NotificationDocument.objects(**query).aggregate([{"$count": "n"}]))
        return int(result[0]["n"]) if result else 0

    def save_read_state(self, notification: Notification) -> Notification:
        if not notification.read:
            return notification
        owned = {"_id": ObjectId(notification.id), "user_id": notification.user_id}
        collection = NotificationDocument._get_collection()
        with _translated():
            # One conditional write: of requests marking it at once, only the first sets
            # read_at, and every one of them answers what is stored.
            raw = collection.find_one_and_update(
                {**owned, "read": False},
                {"$set": {"read": True, "read_at": notification.read_at}},
                return_document=ReturnDocument.AFTER,
            )
            if raw is None:
                raw = collection.find_one(owned)
        return _to_domain(raw) if raw is not None else notification

    def mark_all_read(self, user_id: str, at: datetime) -> int:
        with _translated():
            changed = NotificationDocument.objects(user_id=user_id, read=False).update(
                set__read=True, set__read_at=at
            )
        return int(changed or 0)

    def count_unread(self, user_id: str, players_only: bool = False) -> int:
        with _translated():
            return self._count({**self._of(user_id, players_only), "read": False})
