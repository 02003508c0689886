"""Promotions use cases: manage promotions, assign them, and welcome newly registered players."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from rewards_service.application.commands import (
    AssignmentResult,
    CreatePromotion,
    PlayerPromotionView,
    PlayerRegistration,
    RevisePromotion,
)
from rewards_service.application.events import bonus_credited, promotion_assigned
from rewards_service.application.ports import (
    CreditNotes,
    RewardsUnitOfWork,
    WalletCredit,
    WalletGateway,
)
from rewards_service.domain.exceptions import (
    InactivePlayers,
    OverlappingPromotion,
    PlayerNotFound,
    PromotionClaimLimitReached,
    PromotionNotAssigned,
    PromotionNotFound,
    TooManyPlayers,
    UnknownPlayers,
)
from rewards_service.domain.model import (
    MAX_PLAYERS_PER_ASSIGNMENT,
    AssignmentSource,
    Claim,
    Player,
    PlayerPromotion,
    Promotion,
    PromotionType,
)
from rewards_service.domain.ports import (
    Lock,
    PendingCredit,
    PlayerPromotionFilter,
    PromotionFilter,
)
from shared.application.events import Topic
from shared.application.ports import InactiveUsers
from shared.domain.clock import Clock
from shared.domain.pagination import Page, PageRequest
from shared.domain.principal import Principal

UowFactory = Callable[[], RewardsUnitOfWork]


class PromotionService:
    """Promotions managed by staff, assigned to players, read by players."""

    def __init__(self, uow: UowFactory, clock: Clock, inactive_users: InactiveUsers) -> None:
        self._uow = uow
        self._clock = clock
        self._inactive_users = inactive_users

    def create(self, command: CreatePromotion, actor: Principal) -> Promotion:
        """Create a promotion; a second active one of a unique type over the same period is
        refused by the database (OverlappingPromotion), whatever the concurrency."""
        promotion = Promotion.create(
            title=command.title,
            description=command.description,
            type=command.type,
            amount=command.amount,
            start_date=command.start_date,
            end_date=command.end_date,
            is_active=command.is_active,
            max_claims=command.max_claims,
            max_claims_per_player=command.max_claims_per_player,
            created_by=actor.subject,
            now=self._clock.now(),
        )
        with self._uow() as uow:
            uow.promotions.add(promotion)
            uow.commit()
        return promotion

    def get(self, promotion_id: str, viewer: Principal) -> Promotion:
        """Staff see any promotion; a player only one assigned to them (others do not exist)."""
        with self._uow() as uow:
            promotion = uow.promotions.get(promotion_id)
            if promotion is None or not (
                viewer.is_staff or uow.player_promotions.exists(viewer.subject, promotion_id)
            ):
                raise PromotionNotFound()
        return promotion

    def list(self, filters: PromotionFilter, page: PageRequest) -> Page[Promotion]:
        with self._uow() as uow:
            return uow.promotions.list(filters, page)

    def revise(self, promotion_id: str, command: RevisePromotion) -> Promotion:
        """Deactivate, reactivate or move the window of a promotion."""
        with self._uow() as uow:
            # After the claims in flight; claims coming later see the change (see claim).
            uow.promotions.hold(promotion_id, exclusive=True)
            promotion = uow.promotions.get(promotion_id, lock=Lock.UPDATE)
            if promotion is None:
                raise PromotionNotFound()
            revised = promotion.revise(
                self._clock.now(),
                is_active=command.is_active,
                start_date=command.start_date,
                end_date=command.end_date,
            )
            uow.promotions.update(revised)
            uow.commit()
        return revised

    def assign(
        self, promotion_id: str, player_ids: Sequence[str], actor: Principal
    ) -> AssignmentResult:
        """Assign a running promotion with claims left to registered players, each at most once;
        one PROMOTION notification per newly assigned player, in the same transaction."""
        wanted = sorted(dict.fromkeys(player_ids))  # one lock order for concurrent requests
        if not wanted:
            return AssignmentResult(promotion_id, [], [])
        if len(wanted) > MAX_PLAYERS_PER_ASSIGNMENT:
            raise TooManyPlayers(
                f"At most {MAX_PLAYERS_PER_ASSIGNMENT} players can be assigned at once."
            )
        now = self._clock.now()
        with self._uow() as uow:
            # A share lock keeps the promotion from being deactivated or claimed until we commit.
            promotion = uow.promotions.get(promotion_id, lock=Lock.SHARE)
            if promotion is None:
                raise PromotionNotFound()
            promotion.ensure_assignable(now)
            known = uow.players.known(wanted)
            unknown = [p for p in wanted if p not in known]
            if unknown:
                raise UnknownPlayers(unknown)
            # A deactivated account (closed, self-excluded) is offered no promotion.
            inactive = [p for p in wanted if self._inactive_users.is_inactive(p)]
            if inactive:
                raise InactivePlayers(inactive)
            candidates = [
                promotion.assign_to(p, AssignmentSource.STAFF, now, assigned_by=actor.subject)
                for p in wanted
            ]
            assigned = uow.player_promotions.add_new(candidates)
            for assignment in assigned:
                uow.outbox.add(Topic.NOTIFICATIONS, promotion_assigned(assignment, promotion))
            uow.commit()
        new = {a.player_id for a in assigned}
        return AssignmentResult(
            promotion_id=promotion.id,
            assigned=[p for p in wanted if p in new],
            already_assigned=[p for p in wanted if p not in new],
        )

    def list_for_player(
        self,
        player_id: str,
        filters: PlayerPromotionFilter,
        page: PageRequest,
        viewer: Principal,
    ) -> Page[PlayerPromotionView]:
        """A player's promotions (assigned, claimed, expired); players read only their own."""
        viewer.ensure_can_read_player(player_id)
        now = self._clock.now()
        with self._uow() as uow:
            found = uow.player_promotions.list_for_player(player_id, filters, page, now)
            if (
                found.total == 0
                and not viewer.is_player(player_id)
                and not uow.players.known([player_id])
            ):
                # Staff naming an id that is nobody's: not found (as the points answer), not an
                # empty list a mistyped id would pass for. A player asking for themself right
                # after registering is known by the signed token.
                raise PlayerNotFound()
        views = [
            PlayerPromotionView(
                id=item.assignment.id,
                player_id=item.assignment.player_id,
                status=item.assignment.status_at(item.promotion, now),
                source=item.assignment.source,
                claim_count=item.assignment.claim_count,
                claims_remaining=item.assignment.claims_remaining(item.promotion, now),
                assigned_at=item.assignment.assigned_at,
                last_claimed_at=item.assignment.last_claimed_at,
                promotion=item.promotion,
            )
            for item in found.items
        ]
        return Page(items=views, total=found.total, request=found.request)

    def ensure_welcome_promotion(
        self, title: str, amount: Decimal, duration: timedelta, actor: str
    ) -> Promotion | None:
        """Create a welcome promotion from now on when none is running (demo data); None when
        one runs already or another one is scheduled inside the period."""
        now = self._clock.now()
        with self._uow() as uow:
            if uow.promotions.running(PromotionType.WELCOME_BONUS, now) is not None:
                return None
        try:
            return self.create(
                CreatePromotion(
                    title=title,
                    description="A bonus for joining the loyalty club, credited when claimed.",
                    type=PromotionType.WELCOME_BONUS,
                    amount=amount,
                    start_date=now,
                    end_date=now + duration,
                ),
                actor=Principal(subject=actor),
            )
        except OverlappingPromotion:
            return None


class WelcomeService:
    """Registered players: remembered, and given the welcome promotion running now, once."""

    #: the processed-events name of this use case (independent of the consumer group id)
    CONSUMER = "rewards.player-registrations"

    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def register_players(
        self, registrations: Sequence[PlayerRegistration]
    ) -> list[PlayerPromotion]:
        """Apply a batch of registrations in one transaction. Redelivered events change nothing
        (processed event ids), and a player holds a promotion at most once (unique assignment).
        Returns the welcome assignments made."""
        now = self._clock.now()
        with self._uow() as uow:
            new_ids = uow.processed_events.add_new(
                self.CONSUMER, [r.event_id for r in registrations]
            )
            fresh = {r.event_id: r for r in registrations if r.event_id in new_ids}
            if not fresh:
                uow.commit()
                return []
            players = {r.player_id: r for r in fresh.values()}
            # Only a player recorded now is welcomed: a registration sent again under another
            # event id (a replayed topic) must not hand over whichever welcome runs today.
            recorded = uow.players.add_new(
                [Player(p, players[p].registered_at) for p in sorted(players)]
            )
            welcome = uow.promotions.running(PromotionType.WELCOME_BONUS, now, lock=Lock.SHARE)
            assigned: list[PlayerPromotion] = []
            # One whose total claims are used up runs on, but is given to nobody any more.
            if welcome is not None and welcome.is_assignable(now) and recorded:
                assigned = uow.player_promotions.add_new(
                    [welcome.assign_to(p, AssignmentSource.WELCOME, now) for p in sorted(recorded)]
                )
                for assignment in assigned:
                    uow.outbox.add(Topic.NOTIFICATIONS, promotion_assigned(assignment, welcome))
            uow.commit()
        return assigned


@dataclass(frozen=True, slots=True)
class ClaimResult:
    assignment: PlayerPromotion
    promotion: Promotion
    amount: Decimal
    credit: WalletCredit | None


class ClaimService:
    """A player claims a promotion assigned to them: the bonus goes to their wallet once."""

    def __init__(
        self, uow: UowFactory, wallet: WalletGateway, clock: Clock, notes: CreditNotes
    ) -> None:
        self._uow = uow
        self._wallet = wallet
        self._clock = clock
        self._notes = notes

    def claim(self, player_id: str, promotion_id: str) -> ClaimResult:
        """In one transaction: lock the assignment, apply the claim rules, credit the wallet
        (idempotency key = the assignment and claim number), record the claim and its
        notification. When the wallet cannot be reached nothing is recorded and the promotion
        stays claimable; a later claim reuses the key, so a credit the wallet did record before
        its answer was lost is returned, not made twice."""
        with self._uow() as uow:
            # Concurrent claims of one assignment queue here; the first to commit wins.
            assignment = uow.player_promotions.get_for_player(
                player_id, promotion_id, lock=Lock.UPDATE
            )
            if assignment is None:
                raise PromotionNotAssigned()
            # Claims hold the promotion shared (they do not wait for each other); staff changing
            # it wait for the claims in flight: once a deactivation is answered, no claim made
            # before it can still be recorded after it.
            uow.promotions.hold(promotion_id)
            promotion = uow.promotions.get(promotion_id)
            if promotion is None:
                raise PromotionNotAssigned()
            limited = promotion.max_claims is not None  # never changed once created
            if limited:
                # The total limit needs the counter held until commit (the wallet call included);
                # unlimited promotions count their claims after the call, so claims of a popular
                # promotion do not queue behind each other's wallet calls.
                promotion = uow.promotions.get(promotion_id, lock=Lock.UPDATE) or promotion
            # The time of the claim is when its locks are held: a claim that queued behind
            # others past the promotion's end is refused.
            now = self._clock.now()
            claim = assignment.claim(promotion, now)
            if limited and not uow.promotions.count_claim(promotion.id):
                raise PromotionClaimLimitReached()
            credit = None
            if claim.amount > 0:
                self._note(claim, now)
                credit = self._wallet.credit_bonus(
                    player_id=player_id,
                    amount=claim.amount,
                    description=f"Promotion: {promotion.title}"[:500],
                    additional_data={
                        "promotionId": promotion.id,
                        "playerPromotionId": assignment.id,
                        "claimNumber": str(claim.number),
                    },
                    idempotency_key=claim.idempotency_key,
                )
            uow.player_promotions.update(claim.assignment)
            uow.outbox.add(Topic.NOTIFICATIONS, bonus_credited(claim, credit))
            if credit is not None:
                uow.pending_credits.remove(claim.idempotency_key)
            if not limited:
                # Last before the commit: the promotion row is locked from here to the commit.
                uow.promotions.count_claim(promotion.id)
            uow.commit()
        return ClaimResult(
            assignment=claim.assignment,
            promotion=claim.promotion,
            amount=claim.amount,
            credit=credit,
        )

    def _note(self, claim: Claim, now: datetime) -> None:
        """Note the credit about to be asked for, committed before the call: should the claim
        roll back after the wallet recorded it, the note is left for the reconciliation."""
        pending = PendingCredit(
            idempotency_key=claim.idempotency_key,
            player_id=claim.assignment.player_id,
            promotion_id=claim.promotion.id,
            claim_number=claim.number,
            noted_at=now,
        )
        self._notes.note(pending)


class CreditReconciliation:
    """Resolves the notes claims left behind (ADR 0014): a claim whose transaction rolled back
    after the wallet call. When the wallet recorded the credit, the claim is recorded as the
    wallet has it (with the player's notification); when it did not, the note goes and the
    promotion stays claimable as it was. A note is only looked at once it is older than any
    claim can last (``grace``), and under the assignment's lock, so never beside its claim."""

    def __init__(
        self,
        uow: UowFactory,
        wallet: WalletGateway,
        clock: Clock,
        grace: timedelta = timedelta(minutes=5),
        batch_size: int = 100,
    ) -> None:
        self._uow = uow
        self._wallet = wallet
        self._clock = clock
        self._grace = grace
        self._batch_size = batch_size

    def run_once(self) -> ReconciliationResult:
        """Resolve the notes due now; the wallet being unreachable leaves them for later."""
        with self._uow() as uow:
            due = uow.pending_credits.due(self._clock.now() - self._grace, self._batch_size)
            waiting = uow.pending_credits.count()
        result = ReconciliationResult(waiting=waiting, more=len(due) == self._batch_size)
        for pending in due:
            outcome = self._resolve(pending)
            if outcome is not None:
                result.add(outcome, pending.idempotency_key)
        return result

    def waiting(self) -> int:
        """The notes there are now, due or not (what a run that could not finish leaves)."""
        with self._uow() as uow:
            return uow.pending_credits.count()

    def _resolve(self, pending: PendingCredit) -> str | None:
        with self._uow() as uow:
            # The claim's own lock order (assignment, then note); a claim of it in flight
            # holds the assignment, and the note waits for the next run.
            assignment = uow.player_promotions.get_for_player(
                pending.player_id, pending.promotion_id, lock=Lock.UPDATE_SKIP_LOCKED
            )
            if assignment is None or not uow.pending_credits.remove(pending.idempotency_key):
                return None
            promotion = uow.promotions.get(pending.promotion_id)
            if assignment.claim_count >= pending.claim_number or promotion is None:
                uow.commit()
                return "recorded"
            recorded = self._wallet.recorded_credit(pending.idempotency_key)
            if recorded is None:
                uow.commit()
                return "not_credited"
            claim = assignment.credited_claim(
                promotion, pending.claim_number, recorded.amount, recorded.created_at
            )
            if claim is None:  # pragma: no cover - claim_count was checked above
                uow.commit()
                return "recorded"
            uow.player_promotions.update(claim.assignment)
            uow.promotions.count_claim(promotion.id, within_limit=False)
            credit = WalletCredit(
                transaction_id=recorded.transaction_id,
                bonus_balance=recorded.bonus_balance,
                replayed=True,
            )
            uow.outbox.add(Topic.NOTIFICATIONS, bonus_credited(claim, credit))
            uow.commit()
        return "claim_recorded"


@dataclass
class ReconciliationResult:
    """The keys of the notes one run resolved, by outcome: ``claim_recorded`` (the wallet had
    credited it; the claim is recorded now), ``not_credited`` (it had not), ``recorded`` (the
    claim had been recorded after all, e.g. by a later claim)."""

    #: notes there were at the start (due or not)
    waiting: int = 0
    #: a full batch was due: run again at once
    more: bool = False
    claim_recorded: list[str] = field(default_factory=list)
    not_credited: list[str] = field(default_factory=list)
    recorded: list[str] = field(default_factory=list)

    def add(self, outcome: str, key: str) -> None:
        getattr(self, outcome).append(key)
