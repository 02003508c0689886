"""Characters that have no place in a name or a title people are shown."""

from __future__ import annotations

import unicodedata

#: Bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): they reorder
#: the text shown around them, e.g. make a title read backwards.
BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))


def first_control(text: str, allowed: frozenset[str] = frozenset()) -> str | None:
    """The first control character of ``text`` (C0 and C1 controls and DEL: line breaks,
    terminal escapes) or bidirectional control, except those ``allowed`` (a description's line
    breaks); None when it has none."""
    for char in text:
        if char in BIDI_CONTROLS or (unicodedata.category(char) == "Cc" and char not in allowed):
            return char
    return None
