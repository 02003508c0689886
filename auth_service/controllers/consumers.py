"""Kafka handlers of the identity service's worker."""

from __future__ import annotations

from collections.abc import Sequence

from auth_service.application.services import OwnAccountEvents
from shared.application.events import TOKENS_REVOKED
from shared.domain.principal import CLIENT_ROLE
from shared.messaging.account_status import USER_STATUS_CHANGED, revocation_of
from shared.messaging.consumer import EventHandler, InboundEvent, Rejected, RejectEvent


class OwnUserStatus(EventHandler):
    """``user-status``, auth's own events read back: the web applies each change to Redis
    right after its commit and only logs when Redis fails at that moment; this applies it
    again (idempotent), so such a change still takes effect here."""

    event_types = frozenset({USER_STATUS_CHANGED, TOKENS_REVOKED})

    def __init__(self, events: OwnAccountEvents) -> None:
        self._events = events

    def handle(self, events: Sequence[InboundEvent]) -> Sequence[Rejected]:
        rejected: list[Rejected] = []
        for inbound in events:
            event = inbound.event
            if event.event_type == USER_STATUS_CHANGED:
                client = event.data.get("role") == CLIENT_ROLE
                self._events.follow_status(event.user_id, client=client)
                continue
            try:
                self._events.follow_revocation(revocation_of(inbound))
            except RejectEvent as refused:
                rejected.append(Rejected(inbound, refused.reason, refused.message))
        return rejected
