"""Redemptions: accept requests (REST, idempotent per caller and key), decide them in batches
(the worker), and let the player, the requesting partner and staff read them."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from redeem_service.application.commands import DecideRedemption, RequestRedemption
from redeem_service.application.events import redeem_requested, redemption_decided
from redeem_service.application.points import expect_balances
from redeem_service.application.ports import RedeemUnitOfWork, RedemptionIntake
from redeem_service.domain.exceptions import (
    BalanceChangedConcurrently,
    InvalidRedemption,
    RedemptionConflict,
    RedemptionKeyReused,
    RedemptionNotFound,
)
from redeem_service.domain.model import Wallet, WalletTransaction, check_player_id
from redeem_service.domain.ports import RedemptionFilter
from redeem_service.domain.redemption import (
    Redemption,
    RedemptionChannel,
    RedemptionStatus,
    requester_of,
)
from shared.application.events import Topic
from shared.application.ports import InactiveUsers
from shared.domain.clock import Clock
from shared.domain.exceptions import Conflict, PermissionDenied
from shared.domain.pagination import Page, PageRequest
from shared.domain.player_ids import canonical_player_id
from shared.domain.principal import Principal, Role, Scope

UowFactory = Callable[[], RedeemUnitOfWork]
#: who a redemption produced straight to ``redeem-events`` is recorded as, when it does not say
UNNAMED_PARTNER = "redeem-events"


@dataclass(frozen=True, slots=True)
class RedemptionReceipt:
    """The accepted request (the first one, for a retry with the same key and body)."""

    redemption: Redemption
    replayed: bool


@dataclass(frozen=True, slots=True)
class DecisionResult:
    decided: Sequence[Redemption]
    #: events about redemptions decided before (redeliveries, replays): nothing changed
    already_decided: int


class RedemptionService:
    """What players, partners and staff do with redemptions over the API."""

    def __init__(self, uow: UowFactory, intake: RedemptionIntake, clock: Clock) -> None:
        self._uow = uow
        self._intake = intake
        self._clock = clock

    def request(self, command: RequestRedemption, caller: Principal) -> RedemptionReceipt:
        """Accept a request to spend points (decided later by the worker): stored PENDING with
        its ``REDEEM_REQUESTED`` event in one transaction. The caller's idempotency key with
        the same body returns the first request; with another body it is refused."""
        player_id = _redeeming_player(command, caller)
        redemption = Redemption.request(
            redemption_id=str(uuid.uuid4()),
            player_id=player_id,
            points=command.points,
            reward_description=command.reward_description,
            requested_by=requester_of(caller),
            channel=RedemptionChannel.API,
            now=self._clock.now(),
            merchant=command.merchant,
            idempotency_key=command.idempotency_key,
            requested_by_player=caller.is_player(player_id),
        )
        if self._intake.accept(redemption, redeem_requested(redemption)):
            return RedemptionReceipt(redemption, replayed=False)
        # The key was used before (or concurrently, and that request committed first).
        with self._uow() as uow:
            first = uow.redemptions.get_by_idempotency_key(
                redemption.requested_by, command.idempotency_key
            )
        if first is None:  # pragma: no cover - a stored redemption is never deleted
            raise Conflict("The request conflicted with another one. Please retry.")
        if not first.is_same_request(redemption):
            raise RedemptionKeyReused()
        return RedemptionReceipt(first, replayed=True)

    def get(self, redemption_id: str, reader: Principal) -> Redemption:
        """One redemption, for the player, the partner that requested it, or staff."""
        with self._uow() as uow:
            redemption = uow.redemptions.get(redemption_id)
        if redemption is None or not redemption.readable_by(reader):
            raise RedemptionNotFound()
        return redemption

    def list(
        self,
        reader: Principal,
        player_id: str | None,
        status: RedemptionStatus | None,
        page: PageRequest,
    ) -> Page[Redemption]:
        """A player's redemptions, newest first: players their own, staff anyone's, partners
        those they requested."""
        target = player_id or (reader.subject if reader.role is Role.PLAYER else None)
        if target is None:
            raise InvalidRedemption("Name the player (playerId).")
        check_player_id(target)
        target = canonical_player_id(target)
        requested_by = None
        if reader.is_client:
            requested_by = requester_of(reader)
        else:
            reader.ensure_can_read_player(target)
        with self._uow() as uow:
            return uow.redemptions.list(RedemptionFilter(target, status, requested_by), page)


def _redeeming_player(command: RequestRedemption, caller: Principal) -> str:
    if caller.is_client:
        if not caller.has_scope(Scope.REWARDS_REDEEM):
            raise PermissionDenied("Redeeming needs the rewards.redeem scope.")
        if not command.player_id:
            raise InvalidRedemption("A partner names the player (playerId).")
        return command.player_id
    if caller.role is Role.PLAYER:
        if command.player_id is not None and canonical_player_id(command.player_id) != (
            caller.subject
        ):
            raise PermissionDenied("A player redeems only their own points.")
        return caller.subject
    raise PermissionDenied("Only players and partners redeem points.")


class RedemptionDecisions:
    """The worker's side: decide pending redemptions, a batch of events at a time."""

    def __init__(self, uow: UowFactory, clock: Clock, inactive_users: InactiveUsers) -> None:
        self._uow = uow
        self._clock = clock
        self._inactive_users = inactive_users

    def decide(self, requests: Sequence[DecideRedemption]) -> DecisionResult:
        """Decide every pending redemption the events name, in event order per player, in one
        transaction: requests produced straight to ``redeem-events`` are stored first; each
        is confirmed with its debit (never below zero) or rejected with a reason, and its
        outcome is written to ``redeem-confirmed``. Already decided ones change nothing.
        Raises RedemptionConflict when an event reuses the id of another request."""
        now = self._clock.now()
        candidates = [(_from_event(request, now), request) for request in requests]
        arrived: dict[str, tuple[Redemption, DecideRedemption]] = {}
        for candidate, request in candidates:
            arrived.setdefault(candidate.id, (candidate, request))
        ids = sorted(arrived)
        with self._uow() as uow:
            uow.redemptions.add_missing([arrived[i][0] for i in ids])
            stored = uow.redemptions.lock(ids)
            for candidate, _ in candidates:
                if not stored[candidate.id].is_same_request(candidate):
                    raise RedemptionConflict(
                        f"Redeem request {candidate.id} already names a different request."
                    )
            # Event order (dict order), so one player's requests are decided as they came.
            pending = [stored[i] for i in arrived if stored[i].is_pending]
            if not pending:
                return DecisionResult([], already_decided=len(arrived))
            debits = self._decide(uow, pending, now)
            if debits:
                changes: dict[str, int] = defaultdict(int)
                expected: dict[str, Wallet] = {}
                for debit in debits:
                    changes[debit.player_id] -= debit.amount.points
                    expected[debit.player_id] = debit.wallet_after
                # The guard is in the statement too: a balance never goes below zero here.
                applied = uow.wallets.add_points(changes, now, allow_negative=False)
                expect_balances(applied, expected, changes)
                if uow.transactions.add_many(debits) != len(debits):
                    raise BalanceChangedConcurrently()
            uow.redemptions.save_decisions(pending)
            uow.outbox.add_all(
                Topic.REDEEM_CONFIRMED,
                [redemption_decided(r, arrived[r.id][1].correlation_id) for r in pending],
            )
            uow.commit()
        return DecisionResult(pending, already_decided=len(arrived) - len(pending))

    def _decide(
        self, uow: RedeemUnitOfWork, pending: list[Redemption], now: datetime
    ) -> list[WalletTransaction]:
        players = sorted({r.player_id for r in pending})
        wallets = uow.wallets.lock(players)
        inactive = self._inactive_users.inactive_among(players)
        # A wallet's owner is known; of the rest, only those whose registration was seen.
        without_wallet = [p for p in players if p not in wallets]
        registered = uow.players.registered_among(without_wallet)
        debits: list[WalletTransaction] = []
        for redemption in pending:
            player = redemption.player_id
            wallet = wallets.get(player) or Wallet(player)
            debit = redemption.decide(
                wallet,
                player_active=player not in inactive,
                # The player who asked with their own token is known: auth issued it (they may
                # have registered a moment ago). Marked by the API; an event's requestedBy can
                # name anyone.
                player_known=(
                    player in wallets or player in registered or redemption.requested_by_player
                ),
                now=now,
            )
            if debit is not None:
                wallets[redemption.player_id] = debit.wallet_after
                debits.append(debit)
        return debits


def _from_event(request: DecideRedemption, now: datetime) -> Redemption:
    return Redemption.request(
        redemption_id=request.redeem_request_id,
        player_id=request.player_id,
        points=request.points,
        reward_description=request.reward_description,
        requested_by=(request.requested_by or UNNAMED_PARTNER),
        channel=RedemptionChannel.EVENT,
        now=now,
        merchant=request.merchant,
    )
