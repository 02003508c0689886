"""Domain exceptions as gRPC status codes, mapped once per service like the HTTP error map.

The status message is the exception's message (safe to show); the stable application error code
travels in the trailing metadata ``error-code`` so callers can branch on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NoReturn

import grpc

from shared.domain.exceptions import (
    Conflict,
    DependencyUnavailable,
    DomainError,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from shared.errors import AppErrorCode, CommonErrorCode

ERROR_CODE_METADATA = "error-code"


@dataclass(frozen=True, slots=True)
class GrpcErrorSpec:
    status: grpc.StatusCode
    code: AppErrorCode


GrpcErrorMap = Mapping[type[DomainError], GrpcErrorSpec]

COMMON_GRPC_ERRORS: GrpcErrorMap = {
    NotFound: GrpcErrorSpec(grpc.StatusCode.NOT_FOUND, CommonErrorCode.NOT_FOUND),
    Conflict: GrpcErrorSpec(grpc.StatusCode.ABORTED, CommonErrorCode.CONFLICT),
    PermissionDenied: GrpcErrorSpec(grpc.StatusCode.PERMISSION_DENIED, CommonErrorCode.FORBIDDEN),
    InvalidInput: GrpcErrorSpec(
        grpc.StatusCode.INVALID_ARGUMENT, CommonErrorCode.VALIDATION_FAILED
    ),
    DependencyUnavailable: GrpcErrorSpec(
        grpc.StatusCode.UNAVAILABLE, CommonErrorCode.SERVICE_UNAVAILABLE
    ),
}


def abort(
    context: grpc.ServicerContext, status: grpc.StatusCode, code: AppErrorCode, message: str
) -> NoReturn:
    """End the call with ``status``, ``message`` and the application ``code`` in the trailers."""
    context.set_trailing_metadata(((ERROR_CODE_METADATA, str(code)),))
    context.abort(status, message)
    raise AssertionError("unreachable: ServicerContext.abort raises")  # pragma: no cover


class GrpcErrorTranslator:
    """Finds the spec of a domain exception by its class hierarchy (service map first)."""

    def __init__(self, error_map: GrpcErrorMap) -> None:
        self._mapping: dict[type[DomainError], GrpcErrorSpec] = {
            **COMMON_GRPC_ERRORS,
            **error_map,
        }

    def spec_for(self, exc: DomainError) -> GrpcErrorSpec | None:
        for cls in type(exc).__mro__:
            spec = self._mapping.get(cls)
            if spec is not None:
                return spec
        return None

    def abort(self, context: grpc.ServicerContext, exc: DomainError) -> NoReturn:
        spec = self.spec_for(exc)
        if spec is None:
            abort(
                context,
                grpc.StatusCode.INTERNAL,
                CommonErrorCode.INTERNAL_ERROR,
                "Internal server error.",
            )
        abort(context, spec.status, spec.code, exc.message)
