"""In-memory adapters of the wallet ports: a unit of work whose changes count only on commit."""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Self

from redeem_service.application.ports import Ledger, RedeemUnitOfWork, RedemptionIntake
from redeem_service.domain.model import TransactionRequest, Wallet, WalletTransaction
from redeem_service.domain.ports import (
    LedgerDiscrepancy,
    PlayerRepository,
    RedemptionFilter,
    RedemptionRepository,
    TransactionFilter,
    TransactionRepository,
    WalletRepository,
)
from redeem_service.domain.redemption import Redemption
from shared.application.events import IntegrationEvent, Topic
from shared.application.unit_of_work import Outbox, ProcessedEvents
from shared.domain.pagination import Page, PageRequest
from shared.messaging.schemas import event_schemas


@dataclass
class Store:
    """What the in-memory "database" holds between units of work."""

    wallets: dict[str, Wallet] = field(default_factory=dict)
    transactions: list[WalletTransaction] = field(default_factory=list)
    outbox: list[tuple[Topic, IntegrationEvent]] = field(default_factory=list)
    processed: set[tuple[str, str]] = field(default_factory=set)
    redemptions: dict[str, Redemption] = field(default_factory=dict)
    #: registered players and when
    players: dict[str, datetime] = field(default_factory=dict)
    commits: int = 0


class InMemoryPlayerRepository(PlayerRepository):
    def __init__(self, store: Store) -> None:
        self._store = store

    def add_new(self, registrations: Sequence[tuple[str, datetime]]) -> None:
        for player_id, registered_at in registrations:
            self._store.players.setdefault(player_id, registered_at)

    def exists(self, player_id: str) -> bool:
        return player_id in self._store.players or player_id in self._store.wallets

    def registered_among(self, player_ids: Collection[str]) -> set[str]:
        return {p for p in player_ids if p in self._store.players}


class InMemoryWalletRepository(WalletRepository):
    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, player_id: str) -> Wallet | None:
        return self._store.wallets.get(player_id)

    def post(self, request: TransactionRequest, now: datetime) -> WalletTransaction | None:
        wallet = self._store.wallets.get(request.player_id) or Wallet(request.player_id)
        after = wallet.apply(request.kind, request.amount)  # the guard first, as in SQL
        if any(t.idempotency_key == request.idempotency_key for t in self._store.transactions):
            return None
        self._store.wallets[request.player_id] = after
        transaction = WalletTransaction.record(request, after, now)
        self._store.transactions.append(transaction)
        return transaction

    def create_missing(self, player_ids: Collection[str], now: datetime) -> None:
        for player_id in player_ids:
            self._store.wallets.setdefault(player_id, Wallet(player_id))

    def lock(self, player_ids: Collection[str]) -> dict[str, Wallet]:
        return {p: self._store.wallets[p] for p in player_ids if p in self._store.wallets}

    def add_points(
        self, changes: Mapping[str, int], now: datetime, *, allow_negative: bool
    ) -> dict[str, Wallet]:
        changed: dict[str, Wallet] = {}
        for player_id, change in changes.items():
            wallet = self._store.wallets[player_id]
            if not allow_negative and wallet.points + change < 0:
                continue
            changed[player_id] = replace(wallet, points=wallet.points + change)
        self._store.wallets.update(changed)
        return changed


class InMemoryTransactionRepository(TransactionRepository):
    def __init__(self, store: Store) -> None:
        self._store = store

    def add_many(self, transactions: Sequence[WalletTransaction]) -> int:
        added = 0
        for transaction in transactions:
            if self.get_by_idempotency_key(transaction.idempotency_key) is None:
                self._store.transactions.append(transaction)
                added += 1
        return added

    def get_by_idempotency_key(self, key: str) -> WalletTransaction | None:
        return next((t for t in self._store.transactions if t.idempotency_key == key), None)

    def recorded_awards(self, keys: Collection[str]) -> dict[str, tuple[str, int]]:
        wanted = set(keys)
        return {
            t.idempotency_key: (t.player_id, int(t.signed_value))
            for t in self._store.transactions
            if t.idempotency_key in wanted
        }

    def list(
        self, player_id: str, filters: TransactionFilter, page: PageRequest
    ) -> Page[WalletTransaction]:
        found = [
            t
            for t in reversed(self._store.transactions)
            if t.player_id == player_id
            and (filters.currency is None or t.currency is filters.currency)
            and (filters.kind is None or t.kind is filters.kind)
        ]
        items = found[page.offset : page.offset + page.page_size]
        return Page(items=items, total=len(found), request=page)

    def discrepancies(self, limit: int = 100) -> Sequence[LedgerDiscrepancy]:
        return []


class InMemoryRedemptionRepository(RedemptionRepository):
    def __init__(self, store: Store) -> None:
        self._store = store

    def add_missing(self, redemptions: Sequence[Redemption]) -> None:
        for redemption in redemptions:
            self._store.redemptions.setdefault(redemption.id, copy.deepcopy(redemption))

    def get(self, redemption_id: str) -> Redemption | None:
        found = self._store.redemptions.get(redemption_id)
        return copy.deepcopy(found)

    def get_by_idempotency_key(self, requested_by: str, key: str) -> Redemption | None:
        return next(
            (
                copy.deepcopy(r)
                for r in self._store.redemptions.values()
                if r.requested_by == requested_by and r.idempotency_key == key
            ),
            None,
        )

    def lock(self, redemption_ids: Collection[str]) -> dict[str, Redemption]:
        return {
            i: copy.deepcopy(self._store.redemptions[i])
            for i in redemption_ids
            if i in self._store.redemptions
        }

    def save_decisions(self, redemptions: Sequence[Redemption]) -> None:
        for redemption in redemptions:
            assert self._store.redemptions[redemption.id].is_pending
            self._store.redemptions[redemption.id] = copy.deepcopy(redemption)

    def list(self, filters: RedemptionFilter, page: PageRequest) -> Page[Redemption]:
        found = sorted(
            (
                r
                for r in self._store.redemptions.values()
                if r.player_id == filters.player_id
                and (filters.status is None or r.status is filters.status)
                and (filters.requested_by is None or r.requested_by == filters.requested_by)
            ),
            key=lambda r: (r.created_at, r.id),
            reverse=True,
        )
        items = found[page.offset : page.offset + page.page_size]
        return Page(items=items, total=len(found), request=page)


class InMemoryOutbox(Outbox):
    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, topic: Topic, event: IntegrationEvent, key: str | None = None) -> None:
        event_schemas().validate(event.to_message())  # the producer side of the contract
        self._store.outbox.append((topic, event))

    def add_message(
        self, topic: str, key: str, message: Mapping[str, Any], headers: Mapping[str, str]
    ) -> None:
        raise AssertionError("the wallet publishes only its own events")


class InMemoryProcessedEvents(ProcessedEvents):
    def __init__(self, store: Store) -> None:
        self._store = store

    def add_new(self, consumer: str, event_ids: list[str]) -> set[str]:
        new = {e for e in event_ids if (consumer, e) not in self._store.processed}
        self._store.processed.update((consumer, e) for e in new)
        return new


class FakeUnitOfWork(RedeemUnitOfWork):
    """Works on a copy of the store; commit publishes the copy, anything else discards it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._working: Store | None = None

    def __enter__(self) -> Self:
        self._working = copy.deepcopy(self.store)
        self.players = InMemoryPlayerRepository(self._working)
        self.wallets = InMemoryWalletRepository(self._working)
        self.transactions = InMemoryTransactionRepository(self._working)
        self.outbox = InMemoryOutbox(self._working)
        self.processed_events = InMemoryProcessedEvents(self._working)
        self.redemptions = InMemoryRedemptionRepository(self._working)
        return self

    def commit(self) -> None:
        assert self._working is not None
        self.store.wallets = self._working.wallets
        self.store.transactions = self._working.transactions
        self.store.outbox = self._working.outbox
        self.store.processed = self._working.processed
        self.store.redemptions = self._working.redemptions
        self.store.players = self._working.players
        self.store.commits += 1
        self._working = None

    def rollback(self) -> None:
        self._working = None


class InMemoryLedger(Ledger):
    """Each post is a unit of work of its own, committed when something was recorded."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def post(self, request: TransactionRequest, now: datetime) -> WalletTransaction | None:
        with FakeUnitOfWork(self._store) as uow:
            transaction = uow.wallets.post(request, now)
            if transaction is not None:
                uow.commit()
        return transaction


class InMemoryRedemptionIntake(RedemptionIntake):
    """The request and its event committed together, or nothing when the key was used."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def accept(self, redemption: Redemption, event: IntegrationEvent) -> bool:
        key = (redemption.requested_by, redemption.idempotency_key)
        if redemption.idempotency_key is not None and any(
            (r.requested_by, r.idempotency_key) == key for r in self._store.redemptions.values()
        ):
            return False
        event_schemas().validate(event.to_message())
        self._store.redemptions[redemption.id] = copy.deepcopy(redemption)
        self._store.outbox.append((Topic.REDEEM_EVENTS, event))
        self._store.commits += 1
        return True


def ledger_total(store: Store, player_id: str, currency_name: str) -> Decimal:
    total = Decimal(0)
    for t in store.transactions:
        if t.player_id == player_id and t.currency.value == currency_name:
            total += t.signed_value
    return total
