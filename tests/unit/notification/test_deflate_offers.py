"""Which permessage-deflate offers the socket lets the WebSocket library agree to (RFC 7692 §7:
an offer with an unknown or repeated parameter, or an invalid value, is declined)."""

from __future__ import annotations

import pytest

from notification_service.controllers.live import acceptable_offer


@pytest.mark.parametrize(
    "offer",
    [
        "permessage-deflate",
        "PerMessage-Deflate",
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; client_max_window_bits=8",
        "permessage-deflate; server_max_window_bits=15",
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; server_max_window_bits=10; client_max_window_bits",
        "x-webkit-deflate-frame; anything=goes",
    ],
)
def test_a_well_formed_offer_is_left_to_the_library(offer: str) -> None:
    assert acceptable_offer(offer)


@pytest.mark.parametrize(
    "offer",
    [
        # A parameter given twice (the library let the last one win).
        "permessage-deflate; server_max_window_bits=10; server_max_window_bits=12",
        "permessage-deflate; client_max_window_bits; client_max_window_bits=9",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        # A parameter no offer may carry (the library ignored it).
        "permessage-deflate; foo=bar",
        "permessage-deflate; server_max_window_bitsx=10",
        "permessage-deflate; client_max_window_bits_extra",
        "permessage-deflate;",
        # An invalid value.
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=abc",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; client_max_window_bits=+15",
        "permessage-deflate; client_max_window_bits=",
    ],
)
def test_an_offer_rfc_7692_refuses_is_declined(offer: str) -> None:
    assert not acceptable_offer(offer)
