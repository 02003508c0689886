"""Gunicorn settings for every service (``gunicorn -c python:shared.web.gunicorn_conf``).

Environment: PORT, LISTEN_HOST (default every interface), WEB_CONCURRENCY, GUNICORN_WORKER_CLASS
(gthread | gevent), GUNICORN_THREADS, GUNICORN_WORKER_CONNECTIONS, GUNICORN_TIMEOUT,
GUNICORN_GRACEFUL_TIMEOUT, GUNICORN_BIND.
"""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
from typing import Any

import gunicorn.http.wsgi
import gunicorn.util
from gunicorn.glogging import Logger

from shared.addresses import host_port
from shared.errors import CommonErrorCode
from shared.observability.logging import configure_logging
from shared.web.app_factory import API_CSP, DRAIN_MAX_BYTES, SECURITY_HEADERS, is_chunked

bind = os.environ.get("GUNICORN_BIND") or host_port(
    os.environ.get("LISTEN_HOST") or "0.0.0.0",  # noqa: S104
    os.environ.get("PORT", "8000"),
)
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "2000"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "25"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
backlog = 2048
# Request line and header limits: oversized requests are refused before reaching the app.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
accesslog = None  # the app writes one structured line per request
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
proc_name = os.environ.get("GUNICORN_PROC_NAME", "loyalty")
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# One server per service on a host: the per-user control socket would be shared, so it is off.
control_socket_disable = True


#: a token or secret in a query string, as a request line quotes it
_SECRET_IN_QUERY = re.compile(
    r"(?i)([?&](?:access_token|refresh_token|token|client_secret|password)=)[^&\s'\"]*"
)


class RedactQuerySecrets(logging.Filter):
    """Gunicorn quotes a request line it cannot parse in its warning; a token sent in the query
    (the WebSocket's ``access_token``) must not reach the log with it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _SECRET_IN_QUERY.sub(r"\1[redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class JsonLogger(Logger):  # type: ignore[misc]
    """Gunicorn's own messages in the same JSON lines as the application's."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        configure_logging(os.environ.get("GUNICORN_PROC_NAME", "gunicorn"))
        for log in (self.error_log, self.access_log):
            log.handlers[:] = []
            log.propagate = True
            log.addFilter(RedactQuerySecrets())


logger_class = JsonLogger


_default_headers = gunicorn.http.wsgi.Response.default_headers


def _headers_without_banner(self: Any) -> list[str]:
    # No server banner: gunicorn always writes "Server: gunicorn"; drop that line.
    return [h for h in _default_headers(self) if not h.lower().startswith("server:")]


gunicorn.http.wsgi.Response.default_headers = _headers_without_banner

# Gunicorn refuses what it cannot parse (request line or headers too large, a malformed line,
# header or chunk) before the application sees it, with an HTML page that echoes the parser's
# message. The same refusals in the shared envelope, with the security headers, as the gateway
# answers them.
_REFUSALS: dict[int, tuple[CommonErrorCode, str]] = {
    403: (CommonErrorCode.FORBIDDEN, "The request is forbidden."),
    414: (CommonErrorCode.BAD_REQUEST, "The request line is too long."),
    431: (CommonErrorCode.BAD_REQUEST, "The request headers are too large."),
    500: (CommonErrorCode.INTERNAL_ERROR, "Internal error."),
}
_MALFORMED = (CommonErrorCode.BAD_REQUEST, "The request is malformed.")


def write_error_envelope(sock: Any, status_int: int, reason: str, _mesg: str) -> None:
    code, message = _REFUSALS.get(status_int, _MALFORMED)
    correlation_id = str(uuid.uuid4())
    body = json.dumps(
        {"error": {"code": str(code), "message": message, "correlationId": correlation_id}},
        separators=(",", ":"),
    ).encode()
    head = [
        f"HTTP/1.1 {status_int} {reason}",
        "Connection: close",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        f"X-Correlation-ID: {correlation_id}",
        f"Content-Security-Policy: {API_CSP}",
        *(f"{name}: {value}" for name, value in SECURITY_HEADERS.items()),
    ]
    gunicorn.util.write_nonblock(sock, ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)


gunicorn.util.write_error = write_error_envelope


def child_exit(_server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def pre_request(_worker: Any, req: Any) -> None:
    """Answer ``Connection: close`` to a request that may leave more body unread than the
    application drains (``DRAIN_MAX_BYTES``): a declared length over it, or chunked (its size
    is known only once read). Past what it drains itself, gunicorn closes the connection even
    after a response that announced keep-alive, and the next request sent on it fails."""
    for name, value in req.headers:
        if (name == "TRANSFER-ENCODING" and is_chunked(value)) or (
            name == "CONTENT-LENGTH" and int(value) > DRAIN_MAX_BYTES
        ):
            req.force_close()
            return


def post_worker_init(worker: Any) -> None:
    # Before the worker takes requests: what the app registered as its warm-up (shared.warm_up).
    warm = getattr(worker.wsgi, "extensions", {}).get("warm_up")
    if callable(warm):
        warm()
