"""The Kafka admin tool reads a reset time with its offset, never in the machine's time zone."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.messaging.admin import main, parse_instant


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-01T00:00:00Z", datetime(2026, 1, 1, tzinfo=UTC)),
        ("2026-01-01T01:00:00+01:00", datetime(2026, 1, 1, tzinfo=UTC)),
        (
            "2026-12-07T09:59:00+00:00",
            datetime(2026, 12, 7, 9, 59, tzinfo=timezone(timedelta(0))),
        ),
    ],
)
def test_a_time_with_its_offset_is_that_instant(text: str, expected: datetime) -> None:
    assert parse_instant(text) == expected


@pytest.mark.parametrize("text", ["2026-01-01", "2026-01-01T08:00:00", "yesterday"])
def test_a_time_without_an_offset_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=r"e\.g\. 2026-01-01T0[08]:00:00Z"):
        parse_instant(text)


def test_the_command_refuses_a_date_without_an_offset_before_reaching_the_broker(
    capsys: pytest.CaptureFixture[str],
) -> None:
    arguments = ["reset-offsets", "--group", "g", "--topic", "t", "--to-datetime", "2026-01-01"]
    with pytest.raises(SystemExit) as exited:
        main(["--bootstrap", "127.0.0.1:9", *arguments])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "has no offset" in error
    assert "2026-01-01T00:00:00Z" in error
