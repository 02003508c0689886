"""Wallet error codes and the one mapping of domain exceptions to HTTP and gRPC statuses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import grpc

from redeem_service.domain import exceptions as e
from shared.errors import AppErrorCode
from shared.grpc.errors import GrpcErrorMap, GrpcErrorSpec
from shared.web.errors import ErrorMap, ErrorSpec, HttpError


class RedeemErrorCode(AppErrorCode):
    INVALID_AMOUNT = "REDEEM_INVALID_AMOUNT"
    INVALID_PLAYER_ID = "REDEEM_INVALID_PLAYER_ID"
    INVALID_IDEMPOTENCY_KEY = "REDEEM_INVALID_IDEMPOTENCY_KEY"
    INVALID_TRANSACTION = "REDEEM_INVALID_TRANSACTION"
    INSUFFICIENT_BALANCE = "REDEEM_INSUFFICIENT_BALANCE"
    BALANCE_LIMIT_EXCEEDED = "REDEEM_BALANCE_LIMIT_EXCEEDED"
    IDEMPOTENCY_KEY_REUSED = "REDEEM_IDEMPOTENCY_KEY_REUSED"
    IDEMPOTENCY_KEY_REQUIRED = "REDEEM_IDEMPOTENCY_KEY_REQUIRED"
    INVALID_REDEMPTION = "REDEEM_INVALID_REDEMPTION"
    REDEMPTION_NOT_FOUND = "REDEEM_REDEMPTION_NOT_FOUND"
    PLAYER_NOT_FOUND = "REDEEM_PLAYER_NOT_FOUND"
    TRANSACTION_NOT_FOUND = "REDEEM_TRANSACTION_NOT_FOUND"
    REDEMPTION_CONFLICT = "REDEEM_REDEMPTION_CONFLICT"
    CONCURRENT_UPDATE = "REDEEM_CONCURRENT_UPDATE"


ERRORS: ErrorMap = {
    e.InvalidAmount: ErrorSpec(422, RedeemErrorCode.INVALID_AMOUNT),
    e.InvalidPlayerId: ErrorSpec(422, RedeemErrorCode.INVALID_PLAYER_ID),
    e.InvalidIdempotencyKey: ErrorSpec(422, RedeemErrorCode.INVALID_IDEMPOTENCY_KEY),
    e.InvalidTransactionDetails: ErrorSpec(422, RedeemErrorCode.INVALID_TRANSACTION),
    e.InsufficientBalance: ErrorSpec(409, RedeemErrorCode.INSUFFICIENT_BALANCE),
    e.BalanceLimitExceeded: ErrorSpec(409, RedeemErrorCode.BALANCE_LIMIT_EXCEEDED),
    e.IdempotencyKeyReused: ErrorSpec(409, RedeemErrorCode.IDEMPOTENCY_KEY_REUSED),
    # A redemption's key reused with another body is a client error in the request (422),
    # unlike a wallet transaction's key, which conflicts with the recorded one (409).
    e.RedemptionKeyReused: ErrorSpec(422, RedeemErrorCode.IDEMPOTENCY_KEY_REUSED),
    e.InvalidRedemption: ErrorSpec(422, RedeemErrorCode.INVALID_REDEMPTION),
    e.RedemptionNotFound: ErrorSpec(404, RedeemErrorCode.REDEMPTION_NOT_FOUND),
    e.PlayerNotFound: ErrorSpec(404, RedeemErrorCode.PLAYER_NOT_FOUND),
    e.RedemptionConflict: ErrorSpec(409, RedeemErrorCode.REDEMPTION_CONFLICT),
    e.RedemptionAlreadyDecided: ErrorSpec(409, RedeemErrorCode.REDEMPTION_CONFLICT),
    e.BalanceChangedConcurrently: ErrorSpec(409, RedeemErrorCode.CONCURRENT_UPDATE),
}

_INVALID = grpc.StatusCode.INVALID_ARGUMENT
GRPC_ERRORS: GrpcErrorMap = {
    e.InvalidAmount: GrpcErrorSpec(_INVALID, RedeemErrorCode.INVALID_AMOUNT),
    e.InvalidPlayerId: GrpcErrorSpec(_INVALID, RedeemErrorCode.INVALID_PLAYER_ID),
    e.InvalidIdempotencyKey: GrpcErrorSpec(_INVALID, RedeemErrorCode.INVALID_IDEMPOTENCY_KEY),
    e.InvalidTransactionDetails: GrpcErrorSpec(_INVALID, RedeemErrorCode.INVALID_TRANSACTION),
    e.InsufficientBalance: GrpcErrorSpec(
        grpc.StatusCode.FAILED_PRECONDITION, RedeemErrorCode.INSUFFICIENT_BALANCE
    ),
    e.BalanceLimitExceeded: GrpcErrorSpec(
        grpc.StatusCode.FAILED_PRECONDITION, RedeemErrorCode.BALANCE_LIMIT_EXCEEDED
    ),
    e.IdempotencyKeyReused: GrpcErrorSpec(
        grpc.StatusCode.ALREADY_EXISTS, RedeemErrorCode.IDEMPOTENCY_KEY_REUSED
    ),
    e.TransactionNotFound: GrpcErrorSpec(
        grpc.StatusCode.NOT_FOUND, RedeemErrorCode.TRANSACTION_NOT_FOUND
    ),
}


def required_idempotency_key(headers: Mapping[str, Any], what: str) -> str:
    """The request's ``Idempotency-Key``; 400 ``REDEEM_IDEMPOTENCY_KEY_REQUIRED`` without one,
    so that a retry never ``what`` twice."""
    key = headers.get("idempotency_key")
    if not key:
        raise HttpError(
            400,
            RedeemErrorCode.IDEMPOTENCY_KEY_REQUIRED,
            f"An Idempotency-Key header is required, so a retry never {what} twice.",
        )
    return str(key)
