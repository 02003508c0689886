"""Kafka consumers of the rewards service: player registrations, account status changes and
partner events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from prometheus_client import Gauge

from rewards_service.application.commands import PlayerRegistration
from rewards_service.application.earning import EarningService, ParkedEventsService
from rewards_service.application.partner_events import (
    EVENT_ID_CONFLICT,
    PARTNER_EVENT_TYPES,
    conflict_message,
    parse_partner_event,
    same_event,
)
from rewards_service.application.services import CreditReconciliation, WelcomeService
from rewards_service.domain.earning import PartnerEvent
from rewards_service.domain.exceptions import (
    InvalidPartnerEvent,
    WalletRefused,
    WalletUnavailable,
)
from shared.application.events import Topic
from shared.domain.clock import Clock
from shared.messaging.consumer import EventHandler, InboundEvent, Rejected
from shared.messaging.registrations import registration_of
from shared.observability import context
from shared.observability.logging import get_logger
from shared.observability.metrics import EVENTS_CONSUMED

log = get_logger(__name__)

PENDING_CREDITS = Gauge(
    "claim_credits_pending",
    "Notes of wallet credits whose claim did not commit yet (claims in flight, or rolled back "
    "after the wallet call and waiting for the reconciliation).",
)
PARKED_EVENTS = Gauge(
    "reward_events_parked",
    "Partner events waiting for their player's registration (dead-lettered when the wait ends).",
)


class PlayerRegistrations(EventHandler):
    """``players``: PLAYER_REGISTERED → remember the player, give the running welcome
    promotion once, notify (idempotent by eventId and by the unique assignment)."""

    event_types = frozenset({"PLAYER_REGISTERED"})

    def __init__(self, service: WelcomeService) -> None:
        self._service = service

    def handle(self, events: Sequence[InboundEvent]) -> None:
        registrations: list[PlayerRegistration] = []
        for inbound in events:
            player_id, registered_at = registration_of(inbound)
            registrations.append(
                PlayerRegistration(inbound.event.event_id, player_id, registered_at)
            )
        welcomed = self._service.register_players(registrations)
        log.info("players_registered", events=len(registrations), welcomed=len(welcomed))


class PartnerEvents(EventHandler):
    """``reward-events``: HOTEL_STAY, CASINO_SPEND, DINING and their reversals → canonical
    events, points, REWARD_CONFIRMED. Each event is checked on its own first, so a bad one is
    dead-lettered with its reason while the rest of the batch is recorded in one transaction."""

    event_types = PARTNER_EVENT_TYPES
    other_types_are_errors = True  # partners produce to reward-events directly

    def __init__(self, service: EarningService, clock: Clock, max_ahead: timedelta) -> None:
        self._service = service
        self._clock = clock
        self._max_ahead = max_ahead

    def handle(self, events: Sequence[InboundEvent]) -> list[Rejected]:
        now = self._clock.now()
        rejected: list[Rejected] = []
        parsed: list[PartnerEvent] = []
        by_id: dict[str, InboundEvent] = {}
        first: dict[str, PartnerEvent] = {}
        for inbound in events:
            try:
                event = parse_partner_event(inbound.raw, now, self._max_ahead)
                _check_key(inbound, event)
            except InvalidPartnerEvent as exc:
                rejected.append(Rejected(inbound, exc.reason, exc.message))
                continue
            earlier = first.setdefault(event.event_id, event)
            if earlier is not event and not same_event(earlier, event):
                message = conflict_message(event.event_id)
                rejected.append(Rejected(inbound, EVENT_ID_CONFLICT, message))
                continue
            parsed.append(event)
            by_id.setdefault(event.event_id, inbound)
        if parsed:
            result = self._service.record(parsed)
            rejected.extend(
                Rejected(by_id[r.event_id], r.reason, r.message) for r in result.refused
            )
            for late in result.rejected_later:
                log.warning(
                    "pending_reversal_rejected",
                    event_id=late.event_id,
                    original_event_id=late.event.original_event_id,
                )
            _count_dead_letters(self._service.group_id, len(result.rejected_later))
            log.info(
                "partner_events_recorded",
                events=len(events),
                confirmed=result.confirmed,
                pending=result.pending,
                parked=result.parked,
                replayed=result.replayed,
                refused=len(rejected),
            )
        return rejected


def _check_key(inbound: InboundEvent, event: PartnerEvent) -> None:
    # One player's events must share a partition (their order, and one consumer at a time).
    # The partition comes from the key's bytes, so only one spelling of the id will do: the
    # lower-case form auth issues (a key in capitals lands on another partition).
    key = inbound.key or ""
    if key != event.player_id:
        raise InvalidPartnerEvent(
            "key_mismatch",
            f"the record key {key[:64]!r} is not the player id {event.player_id} "
            "(in lower case, as auth issues it)",
        )


def _count_dead_letters(group_id: str, count: int) -> None:
    """Events dead-lettered after they were taken in (a parked event whose player never
    registered, a reversal that waited for an original it does not fit), through the outbox:
    counted with the consumer's own dead letters, which alerts watch."""
    if count:
        EVENTS_CONSUMED.labels(group_id, Topic.REWARD_EVENTS, "dead_lettered").inc(count)


class ParkedEventsSweep:
    """Run by the worker every second: publishes parked events again once their player is
    registered, dead-letters those whose wait ended (``unknown_player``)."""

    def __init__(self, service: ParkedEventsService) -> None:
        self._service = service

    def __call__(self) -> bool:
        sweep = self._service.sweep()
        PARKED_EVENTS.set(sweep.waiting)
        if sweep.released:
            log.info("parked_events_released", events=sweep.released, waiting=sweep.waiting)
        for parked in sweep.expired:
            # Under the event's own correlation id, as the consumer logged it when it came in,
            # so it can be followed from the partner's request to its dead letter.
            with context.bound(context.from_values(parked.correlation_id, None)):
                log.warning(
                    "parked_event_dead_lettered",
                    reason="unknown_player",
                    event_id=parked.event_id,
                    player_id=parked.player_id,
                    parked_at=parked.parked_at.isoformat(),
                )
        for record in sweep.reversals_expired:
            log.warning(
                "pending_reversal_dead_lettered",
                reason="original_not_found",
                event_id=record.event_id,
                original_event_id=record.event.original_event_id,
                player_id=record.event.player_id,
            )
        _count_dead_letters(
            self._service.group_id, len(sweep.expired) + len(sweep.reversals_expired)
        )
        return sweep.more


class CreditReconciliationTask:
    """Run by the worker every minute: resolves the wallet credits of claims that rolled back
    after the wallet call (ADR 0014). A wallet that cannot answer leaves them for the next run."""

    def __init__(self, reconciliation: CreditReconciliation) -> None:
        self._reconciliation = reconciliation

    def __call__(self) -> bool:
        try:
            result = self._reconciliation.run_once()
        except (WalletUnavailable, WalletRefused) as exc:
            # The notes stay: the gauge the runbook watches must show them all the same.
            waiting = self._reconciliation.waiting()
            PENDING_CREDITS.set(waiting)
            log.warning(
                "claim_reconciliation_postponed", reason=type(exc).__name__, pending=waiting
            )
            return False
        PENDING_CREDITS.set(
            result.waiting
            - len(result.claim_recorded)
            - len(result.not_credited)
            - len(result.recorded)
        )
        for key in result.claim_recorded:
            log.warning("claim_recorded_from_wallet", key=key)
        for key in result.not_credited:
            log.info("claim_note_dropped_not_credited", key=key)
        return result.more
