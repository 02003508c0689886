"""Wallet use cases: record transactions (idempotently), adjust balances, read statements."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from redeem_service.application.commands import AdjustBalance, RecordTransaction
from redeem_service.application.events import wallet_adjusted
from redeem_service.application.ports import Ledger, RedeemUnitOfWork
from redeem_service.domain.exceptions import (
    BalanceLimitExceeded,
    IdempotencyKeyReused,
    InsufficientBalance,
    InvalidIdempotencyKey,
    PlayerNotFound,
    TransactionNotFound,
)
from redeem_service.domain.model import (
    IDEMPOTENCY_KEY_PATTERN,
    Amount,
    TransactionRequest,
    TransactionSource,
    Wallet,
    WalletTransaction,
    check_adjustment_reason,
    check_player_id,
)
from redeem_service.domain.ports import TransactionFilter
from shared.application.events import Topic
from shared.domain.clock import Clock
from shared.domain.exceptions import Conflict, PermissionDenied
from shared.domain.pagination import Page, PageRequest
from shared.domain.player_ids import canonical_player_id
from shared.domain.principal import Principal

UowFactory = Callable[[], RedeemUnitOfWork]
ADJUSTMENT_KEY_PREFIX = "adjustment:"


@dataclass(frozen=True, slots=True)
class TransactionResult:
    """The recorded transaction (the first one, for a retry) and the balances right after it."""

    transaction: WalletTransaction
    replayed: bool

    @property
    def wallet(self) -> Wallet:
        return self.transaction.wallet_after


@dataclass(frozen=True, slots=True)
class WalletStatement:
    wallet: Wallet
    transactions: Page[WalletTransaction]


class WalletService:
    """The only way balances change: each change and its log line in one transaction."""

    def __init__(self, uow: UowFactory, ledger: Ledger, clock: Clock) -> None:
        self._uow = uow
        self._ledger = ledger
        self._clock = clock

    def record(self, command: RecordTransaction, actor: str) -> TransactionResult:
        """Credit or debit for an internal service. The same idempotency key with the same
        content returns the first result; with a different content it is refused."""
        request = TransactionRequest(
            player_id=canonical_player_id(command.player_id),
            kind=command.kind,
            amount=Amount.parse(command.currency, command.amount),
            idempotency_key=command.idempotency_key,
            actor=actor,
            source=TransactionSource.SERVICE,
            description=command.description,
            additional_data=command.additional_data,
        )
        return self._apply(request)

    def adjust(self, command: AdjustBalance, actor: Principal) -> TransactionResult:
        """An administrator's credit or debit with a reason; the player is notified. Retries
        with the same key return the first result (a key is generated when none is given)."""
        if not actor.is_admin:
            raise PermissionDenied("Only administrators adjust balances.")
        reason = check_adjustment_reason(command.reason)
        # Adjustment keys live in their own namespace, so they can never match (or block) the
        # key of a service transaction such as a promotion claim.
        key = ADJUSTMENT_KEY_PREFIX + (command.idempotency_key or str(uuid.uuid4()))
        request = TransactionRequest(
            player_id=canonical_player_id(command.player_id),
            kind=command.kind,
            amount=Amount.parse(command.currency, command.amount),
            idempotency_key=key,
            actor=actor.subject,
            source=TransactionSource.ADJUSTMENT,
            description=reason,
        )
        # Players are never removed: once known, the check holds when the change is made.
        with self._uow() as uow:
            if not uow.players.exists(request.player_id):
                raise PlayerNotFound()
        return self._apply(request, notify=True)

    def recorded(self, idempotency_key: str, actor: str) -> WalletTransaction:
        """The transaction ``actor`` recorded under ``idempotency_key``: a caller learning
        whether a call whose answer it lost, or whose own commit failed, was recorded. Another
        actor's transaction under the key is not shown (it reads as not found)."""
        if not IDEMPOTENCY_KEY_PATTERN.fullmatch(idempotency_key):
            raise InvalidIdempotencyKey(
                "The idempotency key must be 1 to 128 characters of [A-Za-z0-9._:-]."
            )
        transaction = self._first(idempotency_key)
        if transaction is None or transaction.actor != actor:
            raise TransactionNotFound()
        return transaction

    def known_wallet(self, player_id: str) -> Wallet:
        """The balances of a registered player (or of an id with a wallet); PlayerNotFound for
        an id that is nobody's, rather than zeros a mistyped id would pass for."""
        player_id = canonical_player_id(check_player_id(player_id))
        with self._uow() as uow:
            wallet = uow.wallets.get(player_id)
            if wallet is None and not uow.players.exists(player_id):
                raise PlayerNotFound()
        return wallet or Wallet(player_id)

    def wallet(self, player_id: str) -> Wallet:
        """The player's balances (an empty wallet before the first transaction)."""
        player_id = canonical_player_id(check_player_id(player_id))
        with self._uow() as uow:
            return uow.wallets.get(player_id) or Wallet(player_id)

    def statement(
        self,
        player_id: str,
        filters: TransactionFilter,
        page: PageRequest,
        known_only: bool = False,
    ) -> WalletStatement:
        """Balances and one page of transactions, newest first. With ``known_only`` (staff
        naming a player), an id that is no registered player's and has no wallet is not found,
        rather than an empty wallet a mistyped id would pass for."""
        player_id = canonical_player_id(check_player_id(player_id))
        with self._uow() as uow:
            wallet = uow.wallets.get(player_id)
            if wallet is None and known_only and not uow.players.exists(player_id):
                raise PlayerNotFound()
            transactions = uow.transactions.list(player_id, filters, page)
        return WalletStatement(wallet or Wallet(player_id), transactions)

    def _apply(self, request: TransactionRequest, notify: bool = False) -> TransactionResult:
        now = self._clock.now()
        try:
            transaction = (
                self._post_notified(request, now) if notify else self._ledger.post(request, now)
            )
        except (InsufficientBalance, BalanceLimitExceeded):
            # A retry of a transaction that succeeded earlier must get its first result,
            # even when the balance would not allow it any more.
            first = self._first(request.idempotency_key)
            if first is None:
                raise
            return self._replay(first, request)
        if transaction is not None:
            return TransactionResult(transaction, replayed=False)
        # The key was recorded before (or concurrently) and nothing changed: answer with what
        # the key recorded.
        first = self._first(request.idempotency_key)
        if first is None:  # pragma: no cover - a recorded transaction is never deleted
            raise Conflict("The transaction conflicted with another one. Please retry.")
        return self._replay(first, request)

    def _post_notified(
        self, request: TransactionRequest, now: datetime
    ) -> WalletTransaction | None:
        """The change, its log line and the player's notification in one transaction."""
        with self._uow() as uow:
            transaction = uow.wallets.post(request, now)
            if transaction is not None:
                uow.outbox.add(Topic.NOTIFICATIONS, wallet_adjusted(transaction))
                uow.commit()
        return transaction

    def _first(self, idempotency_key: str) -> WalletTransaction | None:
        with self._uow() as uow:
            return uow.transactions.get_by_idempotency_key(idempotency_key)

    @staticmethod
    def _replay(first: WalletTransaction, request: TransactionRequest) -> TransactionResult:
        if not first.is_same_request(request):
            raise IdempotencyKeyReused()
        return TransactionResult(first, replayed=True)


class PlayerDirectory:
    """The players the wallet knows of, from their registrations (``players``)."""

    def __init__(self, uow: UowFactory) -> None:
        self._uow = uow

    def record(self, registrations: Sequence[tuple[str, datetime]]) -> None:
        """Idempotent: a redelivered registration changes nothing."""
        with self._uow() as uow:
            uow.players.add_new(registrations)
            uow.commit()
