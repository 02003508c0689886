"""In-memory adapters of the wallet ports: a unit of work whose changes count only on commit."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Self

from redeem_service.application.ports import RedeemUnitOfWork
from redeem_service.domain.model import Amount, TransactionType, Wallet, WalletTransaction
from redeem_service.domain.ports import (
    LedgerDiscrepancy,
    TransactionFilter,
    TransactionRepository,
    WalletRepository,
)
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
    commits: int = 0


class InMemoryWalletRepository(WalletRepository):
    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, player_id: str) -> Wallet | None:
        return self._store.wallets.get(player_id)

    def apply(self, player_id: str, kind: TransactionType, amount: Amount, now: datetime) -> Wallet:
        wallet = self._store.wallets.get(player_id) or Wallet(player_id)
        after = wallet.apply(kind, amount)
        self._store.wallets[player_id] = after
        return after


class InMemoryTransactionRepository(TransactionRepository):
    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, transaction: WalletTransaction) -> bool:
        if self.get_by_idempotency_key(transaction.idempotency_key) is not None:
            return False
        self._store.transactions.append(transaction)
        return True

    def get_by_idempotency_key(self, key: str) -> WalletTransaction | None:
        return next((t for t in self._store.transactions if t.idempotency_key == key), None)

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


class InMemoryOutbox(Outbox):
    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, topic: Topic, event: IntegrationEvent, key: str | None = None) -> None:
        event_schemas().validate(event.to_message())  # the producer side of the contract
        self._store.outbox.append((topic, event))


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
        self.wallets = InMemoryWalletRepository(self._working)
        self.transactions = InMemoryTransactionRepository(self._working)
        self.outbox = InMemoryOutbox(self._working)
        self.processed_events = InMemoryProcessedEvents(self._working)
        return self

    def commit(self) -> None:
        assert self._working is not None
        self.store.wallets = self._working.wallets
        self.store.transactions = self._working.transactions
        self.store.outbox = self._working.outbox
        self.store.processed = self._working.processed
        self.store.commits += 1
        self._working = None

    def rollback(self) -> None:
        self._working = None


def ledger_total(store: Store, player_id: str, currency_name: str) -> Decimal:
    total = Decimal(0)
    for t in store.transactions:
        if t.player_id == player_id and t.currency.value == currency_name:
            total += t.signed_value
    return total
