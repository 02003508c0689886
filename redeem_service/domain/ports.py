"""Repository ports of the wallet; adapters implement them over PostgreSQL."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from redeem_service.domain.model import (
    Currency,
    TransactionRequest,
    TransactionType,
    Wallet,
    WalletTransaction,
)
from redeem_service.domain.redemption import Redemption, RedemptionStatus
from shared.domain.pagination import Page, PageRequest


class PlayerRepository(ABC):
    """The players the wallet knows of: registered ones, and any with a wallet."""

    @abstractmethod
    def add_new(self, registrations: Sequence[tuple[str, datetime]]) -> None:
        """Record (player id, registered at) pairs; known ones are left as they are."""

    @abstractmethod
    def exists(self, player_id: str) -> bool:
        """Registered, or holding a wallet (every wallet's owner may be corrected)."""

    @abstractmethod
    def registered_among(self, player_ids: Collection[str]) -> set[str]:
        """The ones of ``player_ids`` whose registration the wallet has seen."""


class WalletRepository(ABC):
    @abstractmethod
    def get(self, player_id: str) -> Wallet | None:
        """The player's wallet, or None before their first transaction."""

    @abstractmethod
    def post(self, request: TransactionRequest, now: datetime) -> WalletTransaction | None:
        """Credit or debit and append the log line, atomically (the wallet is created by its
        first credit): the recorded transaction, with the balances right after it. None, with
        nothing changed, when the idempotency key is already taken (the unit of work can only be
        left then). Raises InsufficientBalance or BalanceLimitExceeded (see
        :meth:`Wallet.apply`) without changing anything."""

    @abstractmethod
    def create_missing(self, player_ids: Collection[str], now: datetime) -> None:
        """Open an empty wallet for each player who has none yet."""

    @abstractmethod
    def lock(self, player_ids: Collection[str]) -> dict[str, Wallet]:
        """The existing wallets among ``player_ids``, locked until the unit of work ends.
        Always locked in the same order, so two units of work never wait for each other."""

    @abstractmethod
    def add_points(
        self, changes: Mapping[str, int], now: datetime, *, allow_negative: bool
    ) -> dict[str, Wallet]:
        """Add each signed change to its player's points balance, atomically, and return the
        wallets changed. Without ``allow_negative`` a change that would take a balance below
        zero is not applied (that player is missing from the result)."""


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
    def add_many(self, transactions: Sequence[WalletTransaction]) -> int:
        """Append in bulk; returns how many were written (a taken key writes nothing)."""

    @abstractmethod
    def get_by_idempotency_key(self, key: str) -> WalletTransaction | None: ...

    @abstractmethod
    def recorded_awards(self, keys: Collection[str]) -> dict[str, tuple[str, int]]:
        """The player and the signed points each of ``keys`` recorded (those the log holds)."""

    @abstractmethod
    def list(
        self, player_id: str, filters: TransactionFilter, page: PageRequest
    ) -> Page[WalletTransaction]:
        """The player's transactions, newest first."""

    @abstractmethod
    def discrepancies(self, limit: int = 100) -> Sequence[LedgerDiscrepancy]:
        """Wallets whose balances differ from the sums of their transactions."""


@dataclass(frozen=True, slots=True)
class RedemptionFilter:
    player_id: str
    status: RedemptionStatus | None = None
    requested_by: str | None = None


class RedemptionRepository(ABC):
    @abstractmethod
    def add_missing(self, redemptions: Sequence[Redemption]) -> None:
        """Store those whose id is not stored yet (requests that arrived as events)."""

    @abstractmethod
    def get(self, redemption_id: str) -> Redemption | None: ...

    @abstractmethod
    def get_by_idempotency_key(self, requested_by: str, key: str) -> Redemption | None: ...

    @abstractmethod
    def lock(self, redemption_ids: Collection[str]) -> dict[str, Redemption]:
        """The stored redemptions among the ids, locked until the unit of work ends (always in
        the same order)."""

    @abstractmethod
    def save_decisions(self, redemptions: Sequence[Redemption]) -> None:
        """Record the outcomes of redemptions that were pending."""

    @abstractmethod
    def list(self, filters: RedemptionFilter, page: PageRequest) -> Page[Redemption]:
        """Newest first."""
