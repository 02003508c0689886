"""Gunicorn's warnings about unparsable requests never carry a token from the query string."""

from __future__ import annotations

import logging

import pytest

from shared.web.gunicorn_conf import RedactQuerySecrets


def record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("gunicorn.error", logging.WARNING, __file__, 1, message, args, None)


@pytest.mark.parametrize(
    "line",
    [
        "GET /api/v1/wallet/me?access_token=eyJhbGciOi.x.y\x7f HTTP/1.1",
        "GET /ws?x=1&ACCESS_TOKEN=eyJhbGciOi.x.y HTTP/1.1",
        "POST /oauth2/token?client_secret=s3cr3t-value&grant_type=x HTTP/1.1",
    ],
)
def test_a_quoted_request_line_loses_its_secrets(line: str) -> None:
    entry = record(
        "Invalid request from ip=%s: %s", "127.0.0.1", f"Invalid HTTP request line: {line!r}"
    )
    assert RedactQuerySecrets().filter(entry)
    message = entry.getMessage()
    assert "eyJhbGciOi" not in message
    assert "s3cr3t-value" not in message
    assert "[redacted]" in message
    assert "ip=127.0.0.1" in message


def test_other_messages_are_left_as_they_are() -> None:
    entry = record("Booting worker with pid: %s", 42)
    assert RedactQuerySecrets().filter(entry)
    assert entry.getMessage() == "Booting worker with pid: 42"
    assert entry.args == (42,)
