"""Logging is installed once per process; the level and format chosen later still apply."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

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
