"""The address gunicorn binds, from LISTEN_HOST and PORT."""

from __future__ import annotations

import importlib

import pytest
from gunicorn.util import parse_address

import shared.web.gunicorn_conf


@pytest.mark.parametrize(
    ("host", "address"),
    [
        (None, ("0.0.0.0", 8123)),  # noqa: S104 - containers listen on every interface
        ("127.0.0.1", ("127.0.0.1", 8123)),
        ("::1", ("::1", 8123)),
        ("[::1]", ("::1", 8123)),
        ("::", ("::", 8123)),
    ],
)
def test_the_listen_host_and_port_make_an_address_gunicorn_reads(
    monkeypatch: pytest.MonkeyPatch, host: str | None, address: tuple[str, int]
) -> None:
    monkeypatch.delenv("GUNICORN_BIND", raising=False)
    monkeypatch.setenv("PORT", "8123")
    if host is None:
        monkeypatch.delenv("LISTEN_HOST", raising=False)
    else:
        monkeypatch.setenv("LISTEN_HOST", host)
    conf = importlib.reload(shared.web.gunicorn_conf)
    assert parse_address(conf.bind) == address
