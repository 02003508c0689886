"""Structured JSON logs (structlog) carrying the correlation id and trace id of the work in hand."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

from shared.observability import context

_configured = False
_json = True


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


def configure_logging(
    service: str, level: str | None = None, json_output: bool | None = None
) -> None:
    """Route structlog and the standard library through one JSON (or console) renderer.

    Handlers are installed once per process. A later call renames the service and applies the
    ``level`` and ``json_output`` it names (gunicorn configures logging before it loads the
    app, whose settings choose them); ``None`` keeps what is set (INFO and JSON at first).
    """
    global _configured, _json
    _SERVICE.name = service
    wanted_json = _json if json_output is None else json_output
    if not _configured or wanted_json != _json:
        _install(wanted_json)
        _configured, _json = True, wanted_json
    if level is not None:
        logging.getLogger().setLevel(level.upper())


def configure_logging_from(service: str, settings: Mapping[str, Any]) -> None:
    """:func:`configure_logging` with the ``logging`` section of a service's settings
    (``level``, ``json``)."""
    section = settings.get("logging", {})
    configure_logging(
        service,
        level=str(section.get("level", "INFO")),
        json_output=bool(section.get("json", True)),
    )


def _install(json_output: bool) -> None:
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
        # Modules kept free of structlog (domain, application) log with the standard library:
        # their ``extra`` fields are fields of the line, as structlog's keywords are.
        foreign_pre_chain=[*shared_processors, structlog.stdlib.ExtraAdder()],
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
    if not _configured:
        root.setLevel(logging.INFO)
    for noisy in ("werkzeug", "urllib3", "kafka", "pymongo", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # gunicorn's own loggers go through the same JSON handler.
    for name in ("gunicorn.error", "gunicorn.access"):
        gl = logging.getLogger(name)
        gl.handlers[:] = []
        gl.propagate = True


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
