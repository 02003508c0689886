"""The gRPC ``loyalty.wallet.v1.Wallet`` servicer: protobuf in, one use case, protobuf out.

Authentication (a client token with ``wallet.write``), the call context and the deadline are
handled by the interceptors; errors become status codes here, in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any, NoReturn, ParamSpec, TypeVar

import grpc
import psycopg.errors
from dependency_injector.wiring import Provide, inject
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import exc as sa_exc

from protos.loyalty.wallet.v1 import wallet_pb2, wallet_pb2_grpc
from redeem_service.application.commands import RecordTransaction
from redeem_service.application.services import ADJUSTMENT_KEY_PREFIX, WalletService
from redeem_service.container import Container
from redeem_service.controllers.errors import GRPC_ERRORS
from redeem_service.domain.exceptions import InvalidAmount, InvalidTransactionDetails
from redeem_service.domain.model import (
    MAX_ADDITIONAL_DATA_BYTES,
    REWARD_KEY_PREFIX,
    Currency,
    TransactionType,
    Wallet,
    format_amount,
)
from redeem_service.domain.redemption import REDEMPTION_KEY_PREFIX
from shared.domain.exceptions import DomainError
from shared.errors import CommonErrorCode
from shared.grpc.errors import GrpcErrorTranslator, abort
from shared.grpc.interceptors import current_principal
from shared.json_text import (
    MAX_NUMBER_LENGTH,
    DuplicateName,
    NumberTooLong,
    dumps,
    json_text_has_lone_surrogate,
    loads,
)
from shared.observability.logging import get_logger

log = get_logger(__name__)

SERVICE_NAME = wallet_pb2.DESCRIPTOR.services_by_name["Wallet"].full_name
register = wallet_pb2_grpc.add_WalletServicer_to_server
# The keys of the wallet's own transactions (adjustments, points from events, redemptions): a
# caller's key there would take the place of one of those, which would then read as a replay.
RESERVED_KEY_PREFIXES = (ADJUSTMENT_KEY_PREFIX, REWARD_KEY_PREFIX, REDEMPTION_KEY_PREFIX)

_CURRENCIES = {
    wallet_pb2.CURRENCY_BONUS: Currency.BONUS,
    wallet_pb2.CURRENCY_POINTS: Currency.POINTS,
}
_TYPES = {
    wallet_pb2.TRANSACTION_TYPE_CREDIT: TransactionType.CREDIT,
    wallet_pb2.TRANSACTION_TYPE_DEBIT: TransactionType.DEBIT,
}
_CURRENCY_ENUMS = {currency: number for number, currency in _CURRENCIES.items()}
_TYPE_ENUMS = {kind: number for number, kind in _TYPES.items()}
_AMOUNT_FIELD = {Currency.BONUS: "bonus_amount", Currency.POINTS: "points_amount"}
_translator = GrpcErrorTranslator(GRPC_ERRORS)
_MAX_ADDITIONAL_DATA_TEXT_BYTES = 6 * MAX_ADDITIONAL_DATA_BYTES

P = ParamSpec("P")
R = TypeVar("R")


def _unavailable(context: grpc.ServicerContext, error: Exception) -> NoReturn:
    if isinstance(getattr(error, "orig", None), psycopg.errors.QueryCanceled):
        # The statement timeout derived from the caller's deadline fired.
        abort(
            context,
            grpc.StatusCode.DEADLINE_EXCEEDED,
            CommonErrorCode.DEADLINE_EXCEEDED,
            "The deadline passed before the transaction completed; nothing was recorded.",
        )
    log.warning("wallet_dependency_unavailable", error=f"{type(error).__name__}: {error}")
    abort(
        context,
        grpc.StatusCode.UNAVAILABLE,
        CommonErrorCode.SERVICE_UNAVAILABLE,
        "The wallet is temporarily unavailable. Retry with the same idempotency key.",
    )


def translated(method: Callable[P, R]) -> Callable[P, R]:
    """Domain errors to their status codes; database outages to UNAVAILABLE (retryable)."""

    @wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        context: grpc.ServicerContext = args[2]  # type: ignore[assignment]
        try:
            return method(*args, **kwargs)
        except DomainError as exc:
            _translator.abort(context, exc)
        except (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError) as exc:
            _unavailable(context, exc)

    return wrapper


def _caller() -> str:
    """The client the call's token names: what the wallet records as a transaction's actor."""
    principal = current_principal()
    return principal.client_id or principal.subject


def _timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _balance(wallet: Wallet) -> wallet_pb2.Balance:
    return wallet_pb2.Balance(
        player_id=wallet.player_id,
        bonus_balance=format_amount(Currency.BONUS, wallet.bonus),
        points_balance=wallet.points,
    )


def _additional_data(raw: str) -> dict[str, Any]:
    if not raw:
        return {}
    # The limit is on the data kept, as UTF-8 (checked by the domain); the text as sent may
    # spell each character as an escape of up to 6 bytes (most JSON writers escape non-ASCII).
    if len(raw.encode()) > _MAX_ADDITIONAL_DATA_TEXT_BYTES:
        raise InvalidTransactionDetails(
            f"The additional data may not exceed {MAX_ADDITIONAL_DATA_BYTES} bytes of UTF-8 JSON."
        )
    if json_text_has_lone_surrogate(raw.encode("utf-8", "surrogatepass")):
        raise InvalidTransactionDetails(
            "additional_data may not contain half of a UTF-16 surrogate pair."
        )
    try:
        # Numbers as the caller wrote them (ADR 0401: not through a double).
        data = loads(raw, exact_numbers=True)
    except DuplicateName as exc:
        raise InvalidTransactionDetails(f"additional_data: {exc}.") from exc
    except NumberTooLong as exc:
        raise InvalidTransactionDetails(
            f"The additional data may not hold a number longer than {MAX_NUMBER_LENGTH} "
            "characters written out in full."
        ) from exc
    except ValueError as exc:
        raise InvalidTransactionDetails("additional_data must be a JSON object.") from exc
    except RecursionError as exc:
        raise InvalidTransactionDetails("additional_data is nested too deeply.") from exc
    if not isinstance(data, dict):
        raise InvalidTransactionDetails("additional_data must be a JSON object.")
    return data


def to_command(request: wallet_pb2.AddTransactionRequest) -> RecordTransaction:
    currency = _CURRENCIES.get(request.currency)
    if currency is None:
        raise InvalidTransactionDetails("currency must be CURRENCY_BONUS or CURRENCY_POINTS.")
    kind = _TYPES.get(request.type)
    if kind is None:
        raise InvalidTransactionDetails(
            "type must be TRANSACTION_TYPE_CREDIT or TRANSACTION_TYPE_DEBIT."
        )
    if request.idempotency_key.startswith(RESERVED_KEY_PREFIXES):
        raise InvalidTransactionDetails(
            "idempotency_key may not start with "
            + ", ".join(RESERVED_KEY_PREFIXES)
            + " (the wallet's own transactions use them)."
        )
    expected = _AMOUNT_FIELD[currency]
    if request.WhichOneof("amount") != expected:
        raise InvalidAmount(f"A {currency.value} transaction carries its amount in {expected}.")
    amount: str | int = (
        request.bonus_amount if currency is Currency.BONUS else request.points_amount
    )
    return RecordTransaction(
        player_id=request.player_id,
        currency=currency,
        kind=kind,
        amount=amount,
        idempotency_key=request.idempotency_key,
        description=request.description,
        additional_data=_additional_data(request.additional_data),
    )


class WalletServicer(wallet_pb2_grpc.WalletServicer):
    """``loyalty.wallet.v1.Wallet`` for internal callers."""

    @translated
    @inject
    def AddTransaction(  # noqa: N802 - the generated base class names the method
        self,
        request: wallet_pb2.AddTransactionRequest,
        context: grpc.ServicerContext,
        service: WalletService = Provide[Container.wallet_service],
    ) -> wallet_pb2.AddTransactionResponse:
        """Credit or debit a balance, idempotently by key."""
        result = service.record(to_command(request), actor=_caller())
        if result.replayed:
            context.set_trailing_metadata((("idempotent-replayed", "true"),))
        return wallet_pb2.AddTransactionResponse(
            transaction_id=result.transaction.id,
            replayed=result.replayed,
            balance=_balance(result.wallet),
            created_at=_timestamp(result.transaction.created_at),
        )

    @translated
    @inject
    def GetBalance(  # noqa: N802 - the generated base class names the method
        self,
        request: wallet_pb2.GetBalanceRequest,
        context: grpc.ServicerContext,
        service: WalletService = Provide[Container.wallet_service],
    ) -> wallet_pb2.GetBalanceResponse:
        """The player's balances."""
        return wallet_pb2.GetBalanceResponse(balance=_balance(service.wallet(request.player_id)))

    @translated
    @inject
    def GetTransaction(  # noqa: N802 - the generated base class names the method
        self,
        request: wallet_pb2.GetTransactionRequest,
        context: grpc.ServicerContext,
        service: WalletService = Provide[Container.wallet_service],
    ) -> wallet_pb2.GetTransactionResponse:
        """What the caller recorded under an idempotency key."""
        transaction = service.recorded(request.idempotency_key, actor=_caller())
        amount = transaction.amount
        response = wallet_pb2.GetTransactionResponse(
            transaction_id=transaction.id,
            player_id=transaction.player_id,
            currency=_CURRENCY_ENUMS[amount.currency],
            type=_TYPE_ENUMS[transaction.kind],
            additional_data=dumps(dict(transaction.additional_data)),
            created_at=_timestamp(transaction.created_at),
            balance=wallet_pb2.Balance(
                player_id=transaction.player_id,
                bonus_balance=format_amount(Currency.BONUS, transaction.bonus_after),
                points_balance=transaction.points_after,
            ),
        )
        if amount.currency is Currency.BONUS:
            response.bonus_amount = format_amount(Currency.BONUS, amount.value)
        else:
            response.points_amount = int(amount.value)
        return response
