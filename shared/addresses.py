"""Listening addresses written the way servers read them."""

from __future__ import annotations


def bare_host(host: str) -> str:
    """``host`` without the brackets an IPv6 address may be written with (``[::1]`` → ``::1``)."""
    return host.strip("[]")


def host_port(host: str, port: int | str) -> str:
    """``host:port``, an IPv6 host in brackets (``[::1]:8000``): gunicorn and gRPC would read the
    last group of ``::1:8000`` as the port."""
    bare = bare_host(host)
    return f"[{bare}]:{port}" if ":" in bare else f"{bare}:{port}"
