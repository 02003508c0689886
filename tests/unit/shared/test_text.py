"""Characters never shown in a name or a title, whichever service holds it."""

from __future__ import annotations

import pytest

from shared.domain.text import first_control


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("plain <text> & more", None),
        ("Zoë 🎰 محمد", None),
        ("a\nb", "\n"),
        ("\x1b[2J", "\x1b"),
        ("a\x7f", "\x7f"),
        ("a\x85", "\x85"),
        ("\u202eevil", "\u202e"),
        ("a\u2069", "\u2069"),
        ("a\u200db", None),  # a joiner inside an emoji sequence is formatting, not a control
    ],
)
def test_the_first_control_is_found(text: str, found: str | None) -> None:
    assert first_control(text) == found


def test_allowed_layout_passes_but_not_the_rest() -> None:
    layout = frozenset("\t\n\r")
    assert first_control("a\tb\r\nc", layout) is None
    assert first_control("a\n\u202eb", layout) == "\u202e"
