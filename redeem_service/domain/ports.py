"""Repository ports of the wallet; adapters implement them over PostgreSQL."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from redeem_service.domain.model import (
    Amount,
    Currency,
    TransactionType,
    Wallet,
    WalletTransaction,
)
from shared.domain.pagination import Page, PageRequest


class WalletRepository(ABC):
    @abstractmethod
    def get(self, player_id: str) -> Wallet | None:
        """The player's wallet, or None before their first transaction."""

    @abstractmethod
    def apply(self, player_id: str, kind: TransactionType, amount: Amount, now: datetime) -> Wallet:
        """Credit or debit atomically (the wallet is created by its first credit) and return it
        as it is now. Raises InsufficientBalance or BalanceLimitExceeded (see
        :meth:`Wallet.apply`) without changing anything."""


@dataclass(frozen=True, slots=True)
class TransactionFilter:
    currency: Currency | None = None
    kind: TransactionType | None = None


@dataclass(frozen=True, slots=True)
class LedgerDiscrepancy:
    """A wallet whose balance differs from the sum of its transactions (never expected)."""

    player_id: str
    currency: Currency
    balance: Decimal
    transactions_total: Decimal


class TransactionRepository(ABC):
    @abstractmethod
    def add(self, transaction: WalletTransaction) -> bool:
        """Append to the log; False (and nothing written) when the idempotency key is taken."""

    @abstractmethod
    def get_by_idempotency_key(self, key: str) -> WalletTransaction | None: ...

    @abstractmethod
    def list(
        self, player_id: str, filters: TransactionFilter, page: PageRequest
    ) -> Page[WalletTransaction]:
        """The player's transactions, newest first."""

    @abstractmethod
    def discrepancies(self, limit: int = 100) -> Sequence[LedgerDiscrepancy]:
        """Wallets whose balances differ from the sums of their transactions."""
