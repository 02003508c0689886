"""Kafka consumers of the rewards service: player registrations and account status changes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from rewards_service.application.commands import PlayerRegistration
from rewards_service.application.services import WelcomeService
from shared.application.events import parse_timestamp
from shared.application.ports import InactiveUsers
from shared.messaging.consumer import EventHandler, InboundEvent, RejectEvent
from shared.observability.logging import get_logger

log = get_logger(__name__)


def _player_id(inbound: InboundEvent) -> str:
    """The event's user id as a canonical UUID; anything else can never be processed."""
    try:
        return str(uuid.UUID(inbound.event.user_id))
    except ValueError:
        raise RejectEvent(
            "invalid_player_id", f"user_id {inbound.event.user_id[:64]!r} is not a UUID"
        ) from None


def _registered_at(inbound: InboundEvent) -> datetime:
    # Checked here as well: the schema's date-time format is not enforced by every validator.
    value = str(inbound.event.data["registeredAt"])
    try:
        return parse_timestamp(value)
    except ValueError:
        raise RejectEvent(
            "invalid_registered_at", f"registeredAt {value[:40]!r} is not a timestamp"
        ) from None


class PlayerRegistrations(EventHandler):
    """``players``: PLAYER_REGISTERED → remember the player, give the running welcome
    promotion once, notify (idempotent by eventId and by the unique assignment)."""

    event_types = frozenset({"PLAYER_REGISTERED"})

    def __init__(self, service: WelcomeService) -> None:
        self._service = service

    def handle(self, events: Sequence[InboundEvent]) -> None:
        registrations = [
            PlayerRegistration(
                event_id=inbound.event.event_id,
                player_id=_player_id(inbound),
                registered_at=_registered_at(inbound),
            )
            for inbound in events
        ]
        welcomed = self._service.register_players(registrations)
        log.info("players_registered", events=len(registrations), welcomed=len(welcomed))


class UserStatusChanges(EventHandler):
    """``user-status``: USER_STATUS_CHANGED → refuse (or accept again) the user's tokens here
    within seconds. Setting a flag is idempotent, and one user's events stay in order."""

    event_types = frozenset({"USER_STATUS_CHANGED"})

    def __init__(self, inactive_users: InactiveUsers) -> None:
        self._inactive_users = inactive_users

    def handle(self, events: Sequence[InboundEvent]) -> None:
        for inbound in events:
            inactive = inbound.event.data["status"] == "INACTIVE"
            self._inactive_users.mark(inbound.event.user_id, inactive=inactive)
