"""Kafka consumers of the wallet service: account status, points from partner events, and
redemption requests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from redeem_service.application.commands import DecideRedemption
from redeem_service.application.points import PointsService
from redeem_service.application.redemptions import RedemptionDecisions
from redeem_service.application.services import PlayerDirectory
from redeem_service.controllers.metrics import POINTS_AWARDS, REDEMPTIONS_DECIDED
from redeem_service.domain.exceptions import (
    AwardConflict,
    BalanceLimitExceeded,
    RedemptionConflict,
)
from redeem_service.domain.model import PointsAward
from redeem_service.domain.redemption import Merchant
from shared.domain.exceptions import InvalidInput
from shared.domain.player_ids import canonical_player_id
from shared.messaging.consumer import EventHandler, InboundEvent, Rejected, RejectEvent
from shared.messaging.registrations import registration_of
from shared.observability import context
from shared.observability.logging import get_logger

log = get_logger(__name__)


class PlayerRegisteredHandler(EventHandler):
    """``players``: remembers who registered, so adjustments refuse ids that are nobody's."""

    event_types = frozenset({"PLAYER_REGISTERED"})

    def __init__(self, directory: PlayerDirectory) -> None:
        self._directory = directory

    def handle(self, events: Sequence[InboundEvent]) -> list[Rejected]:
        registrations: dict[str, datetime] = {}
        rejected: list[Rejected] = []
        for inbound in events:
            try:
                player_id, registered_at = registration_of(inbound)
            except RejectEvent as refused:
                rejected.append(Rejected(inbound, refused.reason, refused.message))
                continue
            registrations.setdefault(player_id, registered_at)
        self._directory.record(list(registrations.items()))
        return rejected


def _award(inbound: InboundEvent) -> PointsAward:
    data = inbound.event.data
    try:
        return PointsAward(
            # As every other way in: a UUID in capitals is the same player's, not a second
            # wallet nobody sees (a clawback sent so would be lost).
            player_id=canonical_player_id(inbound.event.user_id),
            points=data["pointsAwarded"],
            source_event_id=str(data["sourceEventId"]).lower(),
            source_event_type=str(data["sourceEventType"]),
            partner_id=data.get("partnerId"),
            reference=data.get("reference"),
            rule_version=data.get("ruleVersion"),
            event_id=inbound.event.event_id,
        )
    except InvalidInput as exc:
        raise RejectEvent("invalid_award", exc.message) from exc


class RewardConfirmedHandler(EventHandler):
    """``reward-confirmed``: each batch of awards is credited (reversals debited) in one
    transaction, once per ``sourceEventId`` whatever the redeliveries."""

    event_types = frozenset({"REWARD_CONFIRMED"})

    def __init__(self, service: PointsService) -> None:
        self._service = service

    def handle(self, events: Sequence[InboundEvent]) -> None:
        awards = [_award(inbound) for inbound in events]
        try:
            result = self._service.award(awards)
        except BalanceLimitExceeded as exc:
            # Raised for the batch; the runner then retries the events one by one, so only the
            # award that would overflow the balance ends up in the dead-letter topic.
            raise RejectEvent("balance_limit", exc.message) from exc
        except AwardConflict as exc:
            # Likewise: only the award reusing another's source event id is dead-lettered.
            raise RejectEvent("award_conflict", exc.message) from exc
        for outcome in ("earned", "reversed", "duplicates", "zero"):
            count = getattr(result, outcome)
            if count:
                POINTS_AWARDS.labels(outcome.removesuffix("s")).inc(count)
        log.info(
            "points_awarded",
            events=len(events),
            earned=result.earned,
            reversed=result.reversed,
            duplicates=result.duplicates,
            zero=result.zero,
        )


def _decision(inbound: InboundEvent) -> DecideRedemption:
    data = inbound.event.data
    try:
        merchant = Merchant.from_dict(data.get("merchant"))
    except InvalidInput as exc:
        raise RejectEvent("invalid_redemption", exc.message) from exc
    return DecideRedemption(
        redeem_request_id=str(data["redeemRequestId"]),
        player_id=inbound.event.user_id,
        points=data["points"],
        reward_description=str(data["rewardDescription"]),
        event_id=inbound.event.event_id,
        requested_by=data.get("requestedBy"),
        merchant=merchant,
        correlation_id=inbound.event.correlation_id,
    )


def _safe(correlation_id: str | None) -> str | None:
    """The request's own id when it is safe to log (an envelope's is unchecked), else the
    batch's."""
    if context.is_safe_correlation_id(correlation_id):
        return correlation_id
    return context.current_correlation_id()


class RedeemRequestedHandler(EventHandler):
    """``redeem-events``: REDEEM_REQUESTED (from the API, or produced by a partner) → decided,
    outcome published on ``redeem-confirmed``. A request that can never be decided (not a
    valid player or request, or an id already naming another request) is dead-lettered."""

    event_types = frozenset({"REDEEM_REQUESTED"})
    other_types_are_errors = True  # partners produce to redeem-events directly

    def __init__(self, decisions: RedemptionDecisions) -> None:
        self._decisions = decisions

    def handle(self, events: Sequence[InboundEvent]) -> list[Rejected]:
        # One player's requests must share a partition (they are decided in order, one consumer
        # at a time): the key is the player id, in the lower case auth issues, as on
        # reward-events. A partner keying otherwise would have its requests raced.
        refused = [
            Rejected(
                inbound,
                "key_mismatch",
                f"the record key {(inbound.key or '')[:64]!r} is not the player id "
                f"{canonical_player_id(inbound.event.user_id)} (in lower case)",
            )
            for inbound in events
            if inbound.key != canonical_player_id(inbound.event.user_id)
        ]
        keyed = [inbound for inbound in events if all(r.inbound is not inbound for r in refused)]
        if not keyed:
            return refused
        requests = [_decision(inbound) for inbound in keyed]
        try:
            result = self._decisions.decide(requests)
        except RedemptionConflict as exc:
            raise RejectEvent("redeem_request_conflict", exc.message) from exc
        except InvalidInput as exc:
            raise RejectEvent("invalid_redemption", exc.message) from exc
        correlation = {r.redeem_request_id: r.correlation_id for r in requests}
        for redemption in result.decided:
            reason = redemption.reason.value if redemption.reason else "none"
            REDEMPTIONS_DECIDED.labels(redemption.status.value, reason).inc()
            # One line per decision, under its own request's correlation id (a batch is bound
            # to its first event's): what support looks up when a player asks why.
            log.info(
                "redemption_decided",
                redeem_request_id=redemption.id,
                player_id=redemption.player_id,
                status=redemption.status.value,
                reason=reason,
                correlation_id=_safe(correlation.get(redemption.id)),
            )
        return refused
