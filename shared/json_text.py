"""Checks on raw JSON text, made before it is parsed: at the web edge and in the Kafka
consumers, so input that can never be stored or parsed is refused as the caller's fault instead
of failing deep inside."""

from __future__ import annotations

import json
import re
from typing import Any

# ``\u0000`` after an even number of backslashes: an escaped backslash followed by the text
# "u0000" is not a NUL.
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)
# No document of ours nests this deep; Python's parser gives up (RecursionError) near 1,000.
MAX_JSON_DEPTH = 64
_JSON_STRUCTURE = re.compile(rb'[\[\]{}"\\]')


def json_nesting_exceeds(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a JSON text nests arrays and objects deeper than ``limit`` (brackets inside
    strings do not count). Only texts with more than ``limit`` brackets are scanned."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    in_string = False
    escaped_at = -1  # the byte right after a backslash inside a string
    for match in _JSON_STRUCTURE.finditer(body):
        at, char = match.start(), match.group()
        if at == escaped_at:
            continue
        if in_string:
            if char == b"\\":
                escaped_at = at + 1
            elif char == b'"':
                in_string = False
        elif char == b'"':
            in_string = True
        elif char in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif char in (b"]", b"}"):
            depth -= 1
    return False


def json_text_has_nul(text: bytes) -> bool:
    """Whether a JSON text carries a NUL character (``\\u0000``; a raw NUL is not valid JSON).
    PostgreSQL text and jsonb cannot hold it, and no document of ours needs it."""
    return _NUL_ESCAPE.search(text) is not None


# One escape sequence, consumed whole from the left, so ``\\`` never starts another.
_ESCAPE = re.compile(rb"\\(?:u([0-9a-fA-F]{4})|.)", re.DOTALL)


def json_text_has_lone_surrogate(text: bytes) -> bool:
    """Whether a JSON text escapes half of a UTF-16 surrogate pair (``\\ud800`` alone, or a low
    half first). Python's parser accepts it, but the string can never be encoded as UTF-8: not
    stored, not published, not even logged. Only texts with a ``\\ud`` escape are scanned."""
    if b"\\ud" not in text and b"\\uD" not in text:
        return False
    high_ends_at = -1  # where the low half must start, after a high half
    for match in _ESCAPE.finditer(text):
        code = int(match.group(1), 16) if match.group(1) is not None else None
        if high_ends_at >= 0:
            if match.start() != high_ends_at or code is None or not 0xDC00 <= code <= 0xDFFF:
                return True
            high_ends_at = -1
        elif code is not None and 0xD800 <= code <= 0xDBFF:
            high_ends_at = match.end()
        elif code is not None and 0xDC00 <= code <= 0xDFFF:
            return True
    return high_ends_at >= 0


class DuplicateName(ValueError):
    """A JSON object names one member twice."""


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for name, _value in pairs:
            if name in seen:
                raise DuplicateName(f"the name {json.dumps(name)} appears twice in one object")
            seen.add(name)
    return document


def loads(text: str | bytes) -> Any:
    """``json.loads`` that refuses an object naming a member twice (``DuplicateName``).

    RFC 8259 leaves the meaning of such an object open: Python keeps the last value, other
    parsers the first, some refuse it. A partner's system checking ``{"nights": 1, "nights":
    300}`` and ours crediting it would not agree on what was sent, so neither reading is taken.
    """
    return json.loads(text, object_pairs_hook=_unique_members)
