"""Kafka consumers of the wallet service."""

from __future__ import annotations

from collections.abc import Sequence

from shared.application.ports import InactiveUsers
from shared.messaging.consumer import EventHandler, InboundEvent


class UserStatusHandler(EventHandler):
    """Learns which accounts are deactivated (``user-status``), so their tokens are refused
    here within seconds. Setting a flag is idempotent, so redeliveries are harmless."""

    event_types = frozenset({"USER_STATUS_CHANGED"})

    def __init__(self, inactive_users: InactiveUsers) -> None:
        self._inactive_users = inactive_users

    def handle(self, events: Sequence[InboundEvent]) -> None:
        # In order: one user's events share a partition, so the last one wins.
        for inbound in events:
            event = inbound.event
            self._inactive_users.mark(event.user_id, event.data.get("status") == "INACTIVE")
