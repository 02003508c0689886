"""The wallet over gRPC (redeem_service): deadline on every call, bounded retries with backoff
(tenacity) for ambiguous failures, a circuit breaker (pybreaker) so a wallet outage fails claims
fast instead of piling them up."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC
from decimal import Decimal
from typing import Any

import grpc
import pybreaker
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from protos.loyalty.wallet.v1 import wallet_pb2, wallet_pb2_grpc
from rewards_service.application.ports import RecordedCredit, WalletCredit, WalletGateway
from rewards_service.domain.exceptions import WalletRefused, WalletUnavailable
from shared.grpc.client import call_metadata, create_channel
from shared.observability.logging import get_logger
from shared.resilience import circuit_breaker
from shared.security.client_credentials import ClientCredentialsTokens, TokenUnavailable

log = get_logger(__name__)

# The wallet may have recorded the credit before the answer was lost: retried with the same key.
# An overloaded wallet (RESOURCE_EXHAUSTED past its concurrent-call limit), a call cut short
# (CANCELLED, ABORTED) or a server fault (INTERNAL, UNKNOWN) is an outage too, not an answer:
# the idempotency key makes a retry safe, and the player gets a 503 to try again, not a refusal.
_RETRYABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
    }
)


class _Unreachable(Exception):
    """An infrastructure failure of one attempt: counts against the breaker."""


class _NotRecorded(Exception):
    """The wallet answered that no transaction has the key: an answer, not a failure."""


def _status(error: grpc.RpcError) -> grpc.StatusCode:
    code = error.code() if hasattr(error, "code") else None
    return code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.UNKNOWN


class GrpcWalletGateway(WalletGateway):
    def __init__(
        self,
        target: str,
        tokens: ClientCredentialsTokens,
        deadline_seconds: float = 1.0,
        attempts: int = 3,
        total_seconds: float = 3.0,
        breaker_fail_max: int = 5,
        breaker_reset_seconds: float = 10.0,
        tls: bool = False,
    ) -> None:
        self._channel = create_channel(target, tls=tls)
        self._stub = wallet_pb2_grpc.WalletStub(self._channel)  # type: ignore[no-untyped-call]
        self._tokens = tokens
        self._deadline = deadline_seconds
        self._attempts = attempts
        self._total = total_seconds
        self._breaker = circuit_breaker(
            "wallet",
            fail_max=breaker_fail_max,
            reset_timeout=breaker_reset_seconds,
            exclude=(WalletRefused, _NotRecorded),
        )

    @property
    def breaker_state(self) -> str:
        return str(self._breaker.current_state)

    def close(self) -> None:
        self._channel.close()

    def connect(self) -> None:
        """Get the client token and start connecting the channel (a process warming up)."""
        self._tokens.token()
        grpc.channel_ready_future(self._channel)  # connects in the background; not awaited

    def credit_bonus(
        self,
        player_id: str,
        amount: Decimal,
        description: str,
        additional_data: Mapping[str, str],
        idempotency_key: str,
    ) -> WalletCredit:
        request = wallet_pb2.AddTransactionRequest(
            player_id=player_id,
            currency=wallet_pb2.CURRENCY_BONUS,
            type=wallet_pb2.TRANSACTION_TYPE_CREDIT,
            bonus_amount=f"{amount:.2f}",
            description=description,
            additional_data=json.dumps(dict(additional_data), separators=(",", ":")),
            idempotency_key=idempotency_key,
        )
        try:
            response = self._breaker.call(self._with_retries, request)
        except pybreaker.CircuitBreakerError as exc:
            raise WalletUnavailable() from exc
        except (_Unreachable, TokenUnavailable) as exc:
            raise WalletUnavailable() from exc
        return WalletCredit(
            transaction_id=response.transaction_id,
            bonus_balance=Decimal(response.balance.bonus_balance),
            replayed=response.replayed,
        )

    def recorded_credit(self, idempotency_key: str) -> RecordedCredit | None:
        request = wallet_pb2.GetTransactionRequest(idempotency_key=idempotency_key)
        try:
            response = self._breaker.call(self._with_retries, request, "GetTransaction")
        except pybreaker.CircuitBreakerError as exc:
            raise WalletUnavailable() from exc
        except (_Unreachable, TokenUnavailable) as exc:
            raise WalletUnavailable() from exc
        except _NotRecorded:
            return None
        if response.WhichOneof("amount") != "bonus_amount":
            # Our claims only ever credit bonus money under their keys.
            raise WalletRefused()
        return RecordedCredit(
            transaction_id=response.transaction_id,
            player_id=response.player_id,
            amount=Decimal(response.bonus_amount),
            bonus_balance=Decimal(response.balance.bonus_balance),
            created_at=response.created_at.ToDatetime(tzinfo=UTC),
        )

    def _with_retries(self, request: Any, method: str = "AddTransaction") -> Any:
        retrying = Retrying(
            stop=stop_after_attempt(self._attempts) | stop_after_delay(self._total),
            wait=wait_exponential_jitter(multiplier=0.05, max=0.5),
            retry=retry_if_exception(lambda e: isinstance(e, _Unreachable)),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                return self._call_once(request, attempt.retry_state.attempt_number, method)
        raise AssertionError("unreachable")  # pragma: no cover - reraise=True always raises

    def _call_once(self, request: Any, attempt: int, method: str) -> Any:
        try:
            token = self._tokens.token()
        except TokenUnavailable as exc:
            # Logged by the token cache (``client_token_unavailable``, with the token URL and
            # the status), at most every few minutes: not here at every attempt.
            raise _Unreachable(str(exc)) from exc
        try:
            return getattr(self._stub, method)(
                request, timeout=self._deadline, metadata=call_metadata(token)
            )
        except grpc.RpcError as error:
            status = _status(error)
            if status in _RETRYABLE:
                log.warning(
                    "wallet_call_failed",
                    status=status.name,
                    attempt=attempt,
                    key=request.idempotency_key,
                )
                raise _Unreachable(status.name) from error
            if status is grpc.StatusCode.NOT_FOUND and method == "GetTransaction":
                raise _NotRecorded() from error
            if status is grpc.StatusCode.UNAUTHENTICATED:
                # A revoked token or a key rotation: fetch a new token and try again.
                self._tokens.invalidate()
                raise _Unreachable(status.name) from error
            log.error(
                "wallet_refused",
                status=status.name,
                key=request.idempotency_key,
                detail=error.details() if hasattr(error, "details") else "",
            )
            raise WalletRefused() from error
