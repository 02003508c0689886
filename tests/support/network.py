"""What the machine's network offers the tests."""

from __future__ import annotations

import socket


def has_ipv6_loopback() -> bool:
    """Whether ``::1`` can be bound (containers and CI runners may have no IPv6)."""
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True
