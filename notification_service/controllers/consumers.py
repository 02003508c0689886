"""Kafka consumers: notification events become stored, pushed notifications; account status
changes close sockets and refuse inactive users."""

from __future__ import annotations

from collections.abc import Sequence

from dependency_injector.wiring import Provide, inject

from notification_service.application.services import (
    AccountStatusService,
    NotificationIngestion,
    SourcedEvent,
)
from notification_service.application.sources import NOTIFICATION_SOURCES
from notification_service.container import Container
from notification_service.controllers.metrics import (
    LIVE_PUSH_FAILURES,
    NOTIFICATIONS_CONSUMED,
)
from notification_service.domain.exceptions import InvalidNotification
from notification_service.domain.model import AccountStatus
from shared.application.events import TOKENS_REVOKED, status_account
from shared.messaging.account_status import USER_STATUS_CHANGED, revocation_of
from shared.messaging.consumer import EventHandler, InboundEvent, Rejected, RejectEvent

#: every topic whose events become notifications
NOTIFICATION_TOPICS = tuple(NOTIFICATION_SOURCES)


class NotificationEventsHandler(EventHandler):
    """Stores each event once (a redelivery is a no-op), then pushes what is new. Every event
    type on these topics is a notification, so none is skipped; one without a schema, or that
    does not describe a notification, goes to the dead-letter topic, and so does one reusing
    the event id of another notification (``event_id_conflict``: the stored one stays)."""

    @inject
    def __init__(self, ingestion: NotificationIngestion = Provide[Container.ingestion]) -> None:
        self._ingestion = ingestion

    def handle(self, events: Sequence[InboundEvent]) -> list[Rejected]:
        try:
            result = self._ingestion.ingest([SourcedEvent(i.topic, i.event) for i in events])
        except InvalidNotification as exc:
            raise RejectEvent("invalid_notification", exc.message) from exc
        NOTIFICATIONS_CONSUMED.labels("stored").inc(result.stored)
        NOTIFICATIONS_CONSUMED.labels("duplicate").inc(result.duplicates)
        NOTIFICATIONS_CONSUMED.labels("conflict").inc(len(result.conflicts))
        if result.stored and not result.pushed:
            LIVE_PUSH_FAILURES.inc()
        return [
            Rejected(events[position], "event_id_conflict", why)
            for position, why in result.conflicts.items()
        ]


class UserStatusHandler(EventHandler):
    """``USER_STATUS_CHANGED``: applied in order, so the latest status of a user wins;
    ``TOKENS_REVOKED``: the tokens issued before are refused and their sockets closed."""

    event_types = frozenset({USER_STATUS_CHANGED, TOKENS_REVOKED})

    @inject
    def __init__(self, service: AccountStatusService = Provide[Container.account_status]) -> None:
        self._service = service

    def handle(self, events: Sequence[InboundEvent]) -> None:
        for inbound in events:
            if inbound.event.event_type == TOKENS_REVOKED:
                self._service.revoke(revocation_of(inbound))
                continue
            status = inbound.event.data.get("status")
            try:
                account_status = AccountStatus(str(status))
            except ValueError as exc:
                raise RejectEvent("unknown_status", f"unknown account status {status!r}") from exc
            self._service.apply(
                status_account(inbound.event), account_status, as_of=inbound.event.occurred_at
            )
