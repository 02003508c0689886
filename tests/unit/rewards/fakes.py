"""In-memory adapters of the rewards ports: a unit of work that commits or forgets its changes."""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Self, TypeVar

from rewards_service.application.ports import RewardsUnitOfWork, WalletCredit, WalletGateway
from rewards_service.domain.exceptions import OverlappingPromotion, WalletUnavailable
from rewards_service.domain.model import (
    AssignedPromotion,
    Player,
    PlayerPromotion,
    Promotion,
    PromotionType,
)
from rewards_service.domain.ports import (
    Lock,
    PlayerPromotionFilter,
    PlayerPromotionRepository,
    PlayerRepository,
    PromotionFilter,
    PromotionRepository,
)
from shared.application.events import IntegrationEvent, Topic
from shared.application.unit_of_work import Outbox, ProcessedEvents
from shared.domain.pagination import Page, PageRequest
from shared.messaging.schemas import event_schemas


@dataclass
class Store:
    promotions: dict[str, Promotion] = field(default_factory=dict)
    players: dict[str, Player] = field(default_factory=dict)
    assignments: dict[str, PlayerPromotion] = field(default_factory=dict)
    outbox: list[tuple[Topic, IntegrationEvent]] = field(default_factory=list)
    processed: set[tuple[str, str]] = field(default_factory=set)


T = TypeVar("T")


def _page(items: list[T], page: PageRequest) -> Page[T]:
    return Page(
        items=items[page.offset : page.offset + page.page_size], total=len(items), request=page
    )


class FakePromotions(PromotionRepository):
    def __init__(self, store: Store) -> None:
        self._store = store

    def _refuse_overlap(self, promotion: Promotion) -> None:
        # What the exclusion constraint does in PostgreSQL.
        if any(promotion.conflicts_with(other) for other in self._store.promotions.values()):
            raise OverlappingPromotion()

    def add(self, promotion: Promotion) -> None:
        self._refuse_overlap(promotion)
        self._store.promotions[promotion.id] = promotion

    def get(self, promotion_id: str, lock: Lock = Lock.NONE) -> Promotion | None:
        return self._store.promotions.get(promotion_id)

    def update(self, promotion: Promotion) -> None:
        self._refuse_overlap(promotion)
        self._store.promotions[promotion.id] = promotion

    def count_claim(self, promotion_id: str) -> bool:
        promotion = self._store.promotions[promotion_id]
        if promotion.max_claims is not None and promotion.claims_count >= promotion.max_claims:
            return False
        self._store.promotions[promotion_id] = replace(
            promotion, claims_count=promotion.claims_count + 1
        )
        return True

    def list(self, filters: PromotionFilter, page: PageRequest) -> Page[Promotion]:
        found = [
            p
            for p in self._store.promotions.values()
            if (filters.type is None or p.type is filters.type)
            and (filters.active is None or p.is_active is filters.active)
            and (filters.window_from is None or p.end_date > filters.window_from)
            and (filters.window_to is None or p.start_date < filters.window_to)
            and (not filters.text or filters.text.lower() in f"{p.title}\n{p.description}".lower())
        ]
        found.sort(key=lambda p: (p.start_date, p.id), reverse=True)
        return _page(found, page)

    def running(
        self, promotion_type: PromotionType, now: datetime, lock: Lock = Lock.NONE
    ) -> Promotion | None:
        running = [
            p
            for p in self._store.promotions.values()
            if p.type is promotion_type and p.is_running(now)
        ]
        return max(running, key=lambda p: p.start_date, default=None)


class FakePlayers(PlayerRepository):
    def __init__(self, store: Store) -> None:
        self._store = store

    def add_new(self, players: Sequence[Player]) -> None:
        for player in players:
            self._store.players.setdefault(player.id, player)

    def known(self, player_ids: Collection[str]) -> set[str]:
        return {p for p in player_ids if p in self._store.players}


class FakePlayerPromotions(PlayerPromotionRepository):
    def __init__(self, store: Store) -> None:
        self._store = store

    def add_new(self, assignments: Sequence[PlayerPromotion]) -> list[PlayerPromotion]:
        added = []
        for assignment in assignments:
            if assignment.player_id not in self._store.players:
                raise AssertionError("foreign key: unknown player")
            if self.exists(assignment.player_id, assignment.promotion_id):
                continue
            self._store.assignments[assignment.id] = assignment
            added.append(assignment)
        return added

    def exists(self, player_id: str, promotion_id: str) -> bool:
        return any(
            a.player_id == player_id and a.promotion_id == promotion_id
            for a in self._store.assignments.values()
        )

    def get_for_player(
        self, player_id: str, promotion_id: str, lock: Lock = Lock.NONE
    ) -> PlayerPromotion | None:
        return next(
            (
                a
                for a in self._store.assignments.values()
                if a.player_id == player_id and a.promotion_id == promotion_id
            ),
            None,
        )

    def update(self, assignment: PlayerPromotion) -> None:
        self._store.assignments[assignment.id] = assignment

    def list_for_player(
        self, player_id: str, filters: PlayerPromotionFilter, page: PageRequest, now: datetime
    ) -> Page[AssignedPromotion]:
        found = [
            AssignedPromotion(a, self._store.promotions[a.promotion_id])
            for a in self._store.assignments.values()
            if a.player_id == player_id
        ]
        found = [
            f
            for f in found
            if (filters.type is None or f.promotion.type is filters.type)
            and (
                filters.status is None or f.assignment.status_at(f.promotion, now) is filters.status
            )
        ]
        found.sort(key=lambda f: (f.assignment.assigned_at, f.assignment.id), reverse=True)
        return _page(found, page)


class FakeOutbox(Outbox):
    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, topic: Topic, event: IntegrationEvent, key: str | None = None) -> None:
        event_schemas().validate(event.to_message())  # the contract, as the real outbox checks
        self._store.outbox.append((topic, event))


class FakeProcessedEvents(ProcessedEvents):
    def __init__(self, store: Store) -> None:
        self._store = store

    def add_new(self, consumer: str, event_ids: list[str]) -> set[str]:
        new = {e for e in event_ids if (consumer, e) not in self._store.processed}
        self._store.processed.update((consumer, e) for e in new)
        return new


class FakeUnitOfWork(RewardsUnitOfWork):
    """Works on a copy of the store; commit publishes the copy, anything else forgets it."""

    def __init__(self, store: Store) -> None:
        self._committed = store
        self.commits = 0

    def __enter__(self) -> Self:
        self._work = copy.deepcopy(self._committed)
        self.promotions = FakePromotions(self._work)
        self.players = FakePlayers(self._work)
        self.player_promotions = FakePlayerPromotions(self._work)
        self.outbox = FakeOutbox(self._work)
        self.processed_events = FakeProcessedEvents(self._work)
        return self

    def commit(self) -> None:
        for name in vars(self._committed):
            setattr(self._committed, name, copy.deepcopy(getattr(self._work, name)))
        self.commits += 1

    def rollback(self) -> None:
        """Nothing to undo: the working copy is dropped at the next ``with``."""


class FakeWallet(WalletGateway):
    """Credits once per idempotency key, like the real wallet; can be told to be down."""

    def __init__(self) -> None:
        self.credits: dict[str, tuple[str, Decimal]] = {}
        self.down = False
        self.calls = 0

    def credit_bonus(
        self,
        player_id: str,
        amount: Decimal,
        description: str,
        additional_data: Mapping[str, str],
        idempotency_key: str,
    ) -> WalletCredit:
        self.calls += 1
        if self.down:
            raise WalletUnavailable()
        replayed = idempotency_key in self.credits
        self.credits.setdefault(idempotency_key, (player_id, amount))
        balance = sum(
            (a for p, a in self.credits.values() if p == player_id), start=Decimal("0.00")
        )
        return WalletCredit(
            transaction_id=f"tx-{idempotency_key}", bonus_balance=balance, replayed=replayed
        )
