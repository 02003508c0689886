"""Logging is installed once per process; the level and format chosen later still apply."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from shared.observability.logging import configure_logging, get_logger


@pytest.fixture
def restored() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    yield
    configure_logging("tests", level=logging.getLevelName(level), json_output=True)


def test_the_apps_level_and_format_win_over_gunicorns_first_call(
    restored: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("gunicorn")  # gunicorn's logger setup, before the app is loaded
    configure_logging("auth", level="WARNING", json_output=False)  # the app, from its settings
    assert logging.getLogger().level == logging.WARNING

    get_logger("x").info("hidden")
    get_logger("x").warning("shown", n=1)

    out = capsys.readouterr().out
    assert "hidden" not in out
    assert "shown" in out
    assert not out.lstrip().startswith("{")  # the console format, not JSON


def test_the_extra_fields_of_a_standard_library_record_are_fields_of_the_line(
    restored: None,
) -> None:
    # The domain and application layers log with the standard library, not structlog.
    configure_logging("notification", level="INFO", json_output=True)
    name = "notification_service.application.services"
    record = logging.getLogger(name).makeRecord(
        name,
        logging.WARNING,
        __file__,
        1,
        "live_push_failed",
        (),
        None,
        extra={"error": "The live channel is unavailable.", "stored": 2},
    )
    [handler] = [
        h
        for h in logging.getLogger().handlers
        if isinstance(h.formatter, structlog.stdlib.ProcessorFormatter)
    ]
    line = json.loads(handler.format(record))
    assert line["event"] == "live_push_failed"
    assert (line["error"], line["stored"]) == ("The live channel is unavailable.", 2)
