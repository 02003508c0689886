"""One error envelope for every failure: ``{"error": {"code", "message", "correlationId"}}``.

Domain exceptions are mapped once per service (exception type → HTTP status and error code);
an unreachable database or Redis is a 503 (retryable); anything unmapped is logged with its
stack and answered as an opaque 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, g, has_request_context, jsonify
from gunicorn.http.errors import ParseException
from redis import exceptions as redis_exc
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

from shared.domain.exceptions import (
    Conflict,
    DependencyUnavailable,
    DomainError,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from shared.errors import AppErrorCode, CommonErrorCode
from shared.observability import context
from shared.observability.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    status: int
    code: AppErrorCode


ErrorMap = Mapping[type[DomainError], ErrorSpec]

COMMON_ERRORS: ErrorMap = {
    NotFound: ErrorSpec(404, CommonErrorCode.NOT_FOUND),
    Conflict: ErrorSpec(409, CommonErrorCode.CONFLICT),
    PermissionDenied: ErrorSpec(403, CommonErrorCode.FORBIDDEN),
    InvalidInput: ErrorSpec(422, CommonErrorCode.VALIDATION_FAILED),
    DependencyUnavailable: ErrorSpec(503, CommonErrorCode.SERVICE_UNAVAILABLE),
}

_STATUS_CODES: Mapping[int, AppErrorCode] = {
    400: CommonErrorCode.BAD_REQUEST,
    401: CommonErrorCode.UNAUTHENTICATED,
    403: CommonErrorCode.FORBIDDEN,
    404: CommonErrorCode.NOT_FOUND,
    405: CommonErrorCode.METHOD_NOT_ALLOWED,
    409: CommonErrorCode.CONFLICT,
    412: CommonErrorCode.PRECONDITION_FAILED,
    413: CommonErrorCode.PAYLOAD_TOO_LARGE,
    415: CommonErrorCode.UNSUPPORTED_MEDIA_TYPE,
    422: CommonErrorCode.VALIDATION_FAILED,
    429: CommonErrorCode.RATE_LIMITED,
    503: CommonErrorCode.SERVICE_UNAVAILABLE,
}

_STATUS_MESSAGES: Mapping[int, str] = {
    400: "The request is malformed.",
    404: "The resource was not found.",
    405: "The method is not allowed on this resource.",
    413: "The request body is too large.",
    415: "The request body must be JSON.",
    422: "The request is not valid.",
    429: "Too many requests. Please retry later.",
}


class HttpError(Exception):
    """An error decided at the web edge (a missing header, a malformed parameter)."""

    def __init__(
        self,
        status: int,
        code: AppErrorCode,
        message: str,
        details: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = dict(headers or {})


def envelope(code: AppErrorCode, message: str, details: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {
        "code": str(code),
        "message": message,
        "correlationId": context.current_correlation_id() or context.current().correlation_id,
    }
    if details:
        error["details"] = details
    return {"error": error}


def error_response(
    status: int,
    code: AppErrorCode,
    message: str,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
    bearer: bool = False,
) -> Response:
    response = jsonify(envelope(code, message, details))
    response.status_code = status
    if has_request_context():
        g.error_code = str(code)  # for the request's access log line
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if bearer and status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="loyalty"'
    return response


def _validation_details(error: HTTPException) -> Any:
    data = getattr(error, "data", None)
    if isinstance(data, dict) and "messages" in data:
        # webargs nests by location: {"json": {"field": [...]}}; kept, it names the culprit.
        return data["messages"]
    return None


def register_error_handlers(app: Flask, error_map: ErrorMap) -> None:
    """Install the envelope for HTTP errors, domain errors and anything unexpected."""
    mapping: dict[type[DomainError], ErrorSpec] = {**COMMON_ERRORS, **error_map}

    def spec_for(exc: DomainError) -> ErrorSpec | None:
        for cls in type(exc).__mro__:
            spec = mapping.get(cls)
            if spec is not None:
                return spec
        return None

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError) -> Response:
        spec = spec_for(exc)
        if spec is None:
            log.error("unmapped_domain_error", error_type=type(exc).__name__)
            return error_response(500, CommonErrorCode.INTERNAL_ERROR, "Internal server error.")
        headers = getattr(exc, "headers", None)
        # A fact may carry structured details (e.g. which ids were refused) for the envelope.
        return error_response(spec.status, spec.code, exc.message, exc.details, headers=headers)

    @app.errorhandler(HttpError)
    def _http_error(exc: HttpError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        return http_exception_response(exc)

    @app.errorhandler(ParseException)
    def _unreadable_body(exc: ParseException) -> Response:
        # The server could not read the body as sent (a malformed chunk, a body cut short):
        # the client's error, not the service's.
        log.warning("request_body_unreadable", error_type=type(exc).__name__)
        return error_response(
            400, CommonErrorCode.BAD_REQUEST, "The request body could not be read as sent."
        )

    @app.errorhandler(sa_exc.OperationalError)
    @app.errorhandler(sa_exc.InterfaceError)
    @app.errorhandler(sa_exc.TimeoutError)
    @app.errorhandler(redis_exc.ConnectionError)
    @app.errorhandler(redis_exc.TimeoutError)
    def _unavailable(exc: Exception) -> Response:
        # The database or Redis is unreachable, restarting, or past its timeout: retryable.
        # (A pooled connection broken by a restart fails one request here and is replaced.)
        log.warning("dependency_unavailable", error=f"{type(exc).__name__}: {exc}"[:500])
        return error_response(
            503,
            CommonErrorCode.SERVICE_UNAVAILABLE,
            DependencyUnavailable.default_message,
            headers={"Retry-After": "1"},
        )

    app.register_error_handler(Exception, unexpected_error_response)


def unexpected_error_response(exc: Exception) -> Response:
    """Anything unmapped: logged with its stack, answered as an opaque 500."""
    if isinstance(exc, HTTPException):
        return http_exception_response(exc)
    log.exception("unhandled_error", error_type=type(exc).__name__)
    return error_response(500, CommonErrorCode.INTERNAL_ERROR, "Internal server error.")


def http_exception_response(exc: HTTPException) -> Response:
    status = exc.code or 500
    code = _STATUS_CODES.get(status, CommonErrorCode.INTERNAL_ERROR)
    if status >= 500:
        message = "Internal server error." if status == 500 else HTTPStatus(status).phrase + "."
    else:
        message = _STATUS_MESSAGES.get(status) or HTTPStatus(status).phrase + "."
    headers: dict[str, str] = {}
    for name, value in exc.get_headers():
        if name.lower() in {"allow", "retry-after", "www-authenticate"}:
            headers[name] = value
    return error_response(status, code, message, _validation_details(exc), headers)
