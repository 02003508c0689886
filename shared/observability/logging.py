"""Structured JSON logs (structlog) carrying the correlation id and trace id of the work in hand."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

from shared.observability import context

_configured = False


class _ServiceField:
    def __init__(self) -> None:
        self.name = ""

    def __call__(self, _: Any, __: str, event_dict: MutableMapping[str, Any]) -> Mapping[str, Any]:
        event_dict.setdefault("service", self.name)
        return event_dict


_SERVICE = _ServiceField()


def _add_trace_context(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    correlation = context.current_correlation_id()
    if correlation is not None:
        event_dict.setdefault("correlation_id", correlation)
        event_dict.setdefault("trace_id", context._trace_id.get())
    return event_dict


def configure_logging(service: str, level: str = "INFO", json_output: bool = True) -> None:
    """Route structlog and the standard library through one JSON (or console) renderer.

    Handlers are installed once per process; a later call only renames the service (gunicorn
    configures logging before it loads the app)."""
    global _configured  # noqa: PLW0603 - logging is process-wide by nature
    _SERVICE.name = service
    if _configured:
        return
    _configured = True

    shared_processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_trace_context,
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json_output
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            *shared_processors,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _SERVICE,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("werkzeug", "urllib3", "kafka", "pymongo", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # gunicorn's own loggers go through the same JSON handler.
    for name in ("gunicorn.error", "gunicorn.access"):
        gl = logging.getLogger(name)
        gl.handlers[:] = []
        gl.propagate = True


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
