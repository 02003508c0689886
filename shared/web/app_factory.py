"""The Flask application base: flask-smorest API, error envelope, security headers, correlation
ids, health, metrics and local Swagger UI. Every service's ``create_app()`` starts here."""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Mapping, Sequence
from typing import Any

from flask import Flask, Response, current_app, g, request
from flask_smorest import Api
from jinja2 import ChoiceLoader, FileSystemLoader
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from shared.errors import CommonErrorCode
from shared.json_text import (
    MAX_JSON_DEPTH,
    json_nesting_exceeds,
    json_text_has_lone_surrogate,
    json_text_has_nul,
)
from shared.observability import context
from shared.observability.logging import configure_logging_from, get_logger
from shared.observability.metrics import HTTP_LATENCY, HTTP_REQUESTS, exposition
from shared.web.docs import DOCS_CSP, TEMPLATES_DIR, swagger_assets_blueprint
from shared.web.errors import (
    ErrorMap,
    HttpError,
    http_exception_response,
    register_error_handlers,
)
from shared.web.health import HealthCheck, health_blueprint
from shared.web.schemas import ErrorEnvelopeSchema

log = get_logger("http")

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
QUIET_PATHS = frozenset({"/health/live", "/health/ready", "/metrics"})
#: The methods metrics name; any other (servers accept any token as a method) counts as OTHER,
#: so a client cannot add series by inventing methods.
METRIC_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
BEARER_SCHEME = {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}


class LoyaltyApi(Api):  # type: ignore[misc]
    """flask-smorest's Api with its HTTP errors in the shared envelope."""

    ERROR_SCHEMA = ErrorEnvelopeSchema

    def handle_http_exception(self, error: HTTPException) -> Response:
        return http_exception_response(error)


def create_base_app(
    import_name: str,
    service: str,
    settings: Mapping[str, Any],
    error_map: ErrorMap,
    readiness: Sequence[HealthCheck],
    title: str,
    description: str = "",
) -> tuple[Flask, LoyaltyApi]:
    """Build the Flask app and its API for ``service`` (the docs live under ``/<service>/``)."""
    configure_logging_from(service, settings)
    web = settings.get("web", {})
    app = Flask(import_name)
    # "//" in a path is a 404 in the error envelope, not an HTML redirect whose Location is
    # built from the caller's Host header.
    app.url_map.merge_slashes = False
    app.url_map.converters["int"] = AsciiIntegerConverter
    app.jinja_loader = ChoiceLoader([FileSystemLoader(str(TEMPLATES_DIR)), app.jinja_loader])  # type: ignore[list-item]
    app.config.update(
        MAX_CONTENT_LENGTH=int(web.get("max_body_bytes", 1_048_576)),
        JSON_SORT_KEYS=False,
        API_TITLE=title,
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=f"/{service}",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/api-docs",
        OPENAPI_SWAGGER_UI_URL=f"/{service}/api-docs/assets/",
        API_SPEC_OPTIONS={
            "info": {"description": description},
            "components": {"securitySchemes": BEARER_SCHEME},
        },
    )
    trusted_hops = int(web.get("trusted_proxy_hops", 0))
    if trusted_hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=trusted_hops, x_proto=trusted_hops, x_host=trusted_hops
        )
    _install_request_hooks(app, service, access_log=bool(web.get("access_log", True)))
    api = LoyaltyApi(app)
    register_error_handlers(app, error_map)
    app.register_blueprint(health_blueprint(readiness))
    app.register_blueprint(swagger_assets_blueprint(service))
    app.add_url_rule("/metrics", "metrics", _metrics)
    return app, api


class AsciiIntegerConverter(IntegerConverter):
    """``<int:…>`` of ASCII digits only: Werkzeug's ``\\d+`` also takes other scripts' digits
    (an Arabic-Indic one read as version 1), which no client means."""

    regex = r"[0-9]+"


def _metrics() -> Response:
    payload, content_type = exposition()
    return Response(payload, content_type=content_type)


def _refuse_unsafe_input() -> None:
    """Refused at the edge, for every service, instead of failing deep inside: NUL in any text
    (PostgreSQL refuses it, and it is never legitimate), half of a surrogate pair (it cannot be
    encoded as UTF-8) and JSON nested deeper than
    ``MAX_JSON_DEPTH`` (the parsers would raise RecursionError)."""
    if b"%00" in request.query_string or "\x00" in request.path:
        raise HttpError(
            400, CommonErrorCode.BAD_REQUEST, "The request may not contain NUL characters."
        )
    # No query parameter is a list: a second value would be dropped unseen (?page=1&page=2
    # read as page 1, ?breakdown=true&breakdown=false as true).
    repeated = sorted(name for name, values in request.args.lists() if len(values) > 1)
    if repeated:
        raise HttpError(
            400,
            CommonErrorCode.BAD_REQUEST,
            f"The query parameter {repeated[0]!r} is given more than once.",
        )
    if request.content_length is None and request.headers.get("Transfer-Encoding"):
        # A chunked body, whatever its type (JSON, a form to /oauth2/token), is read up to the
        # limit and no further: refused as too large, not parsed cut short (as malformed JSON,
        # or as a document or a form the client did not send: a trailing grant_type lost).
        # Read once here; the parsers take it from the cache.
        limit = request.max_content_length
        if limit is not None and len(request.get_data(cache=True)) >= limit:
            raise RequestEntityTooLarge()
    # Every JSON media type Flask parses (application/json, application/*+json), with a
    # Content-Length or chunked: no way around the checks.
    if request.is_json and (request.content_length or request.headers.get("Transfer-Encoding")):
        body = request.get_data(cache=True)
        if request.content_length is not None and len(body) != request.content_length:
            # The client stopped sending before the length it announced (the server reads
            # what came): a document cut short is not the one it meant to send.
            raise HttpError(
                400, CommonErrorCode.BAD_REQUEST, "The request body is shorter than announced."
            )
        if json_text_has_nul(body):
            raise HttpError(
                422, CommonErrorCode.VALIDATION_FAILED, "Text may not contain NUL characters."
            )
        if json_text_has_lone_surrogate(body):
            raise HttpError(
                422,
                CommonErrorCode.VALIDATION_FAILED,
                "Text may not contain half of a UTF-16 surrogate pair (such as \\ud800 alone).",
            )
        if json_nesting_exceeds(body):
            raise HttpError(
                400,
                CommonErrorCode.BAD_REQUEST,
                f"The JSON document nests deeper than {MAX_JSON_DEPTH} levels.",
            )


#: What is left unread of a request body, up to this much, is read and discarded after the
#: response is made, so the connection stays usable; requests that may carry more are answered
#: ``Connection: close`` (``shared.web.gunicorn_conf.pre_request``).
DRAIN_MAX_BYTES = 1_048_576


def is_chunked(transfer_encoding: str | None) -> bool:
    return bool(transfer_encoding) and "chunked" in str(transfer_encoding).lower()


def _read_off(stream: Any) -> None:
    left = DRAIN_MAX_BYTES
    # Whatever the input raises (the client went away, a malformed chunk), the response stands.
    with contextlib.suppress(Exception):
        while left > 0:
            chunk = stream.read(min(65_536, left))
            if not chunk:
                return
            left -= len(chunk)


def _drain_unread_body(response: Response) -> None:
    """Once the response is sent, read what the view left unread of the request body (a
    request refused before its body was parsed: no token, a wrong content type, a body over
    the limit). Gunicorn's threaded worker drains at most 64 KiB itself and otherwise closes
    the connection after having announced keep-alive: the client's next request on it, or a
    proxy's (perhaps another client's), then failed. Read from the server's own input, past
    the body limit; after the response, so a client that waits for it before sending its
    body does not hold the worker."""
    length = request.content_length
    if not (length or is_chunked(request.headers.get("Transfer-Encoding"))):
        return
    if length is not None and length > DRAIN_MAX_BYTES:
        return  # answered Connection: close
    stream = request.environ.get("wsgi.input")
    if stream is not None:
        response.call_on_close(functools.partial(_read_off, stream))


def _route_template() -> str:
    """The route the request matched, as its template; for a method the route does not take
    (405) the route all the same; ``unmatched`` when no route has the path."""
    if request.url_rule is not None:
        return request.url_rule.rule
    refused = request.routing_exception
    if isinstance(refused, MethodNotAllowed) and refused.valid_methods:
        adapter = current_app.url_map.bind_to_environ(request.environ)
        with contextlib.suppress(HTTPException):
            method = next(iter(refused.valid_methods))
            rule, _ = adapter.match(method=method, return_rule=True)
            return str(rule.rule)
    return "unmatched"


def _who_and_why() -> dict[str, str]:
    """For the access log: the application error code of an error answer, and the partner
    client that called (a player's or staff member's id is left out of the access log)."""
    fields: dict[str, str] = {}
    code = g.get("error_code")
    if code:
        fields["error_code"] = code
    principal = g.get("principal")
    client_id = getattr(principal, "client_id", None)
    if client_id:
        fields["client_id"] = client_id
    return fields


def _install_request_hooks(app: Flask, service: str, access_log: bool) -> None:
    docs_prefix = f"/{service}/api-docs"

    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()
        context.bind(context.from_headers(request.headers))  # type: ignore[arg-type]
        _refuse_unsafe_input()

    @app.after_request
    def _finish(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        is_docs = request.path.startswith(docs_prefix)
        response.headers.setdefault("Content-Security-Policy", DOCS_CSP if is_docs else API_CSP)
        if request.path.startswith("/api/") or request.path.startswith("/oauth2/"):
            response.headers.setdefault("Cache-Control", "no-store")
        correlation = context.current_correlation_id()
        if correlation:
            response.headers["X-Correlation-ID"] = correlation
        rule = _route_template()
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        method = request.method if request.method in METRIC_METHODS else "OTHER"
        HTTP_REQUESTS.labels(service, method, rule, str(response.status_code)).inc()
        HTTP_LATENCY.labels(service, method, rule).observe(elapsed)
        if access_log and request.path not in QUIET_PATHS:
            log.info(
                "request",
                method=request.method,
                path=request.path,
                status=response.status_code,
                duration_ms=round(elapsed * 1000, 2),
                remote_addr=request.remote_addr,
                **_who_and_why(),
            )
        return response

    @app.after_request
    def _drain(response: Response) -> Response:
        _drain_unread_body(response)
        return response

    @app.teardown_request
    def _clear(_exc: BaseException | None) -> None:
        context.clear()
