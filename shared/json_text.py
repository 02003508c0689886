"""Checks on raw JSON text, made before it is parsed: at the web edge and in the Kafka
consumers, so input that can never be stored or parsed is refused as the caller's fault instead
of failing deep inside. And JSON whose numbers are kept exactly (``Decimal``), read and written
without passing through a float."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from decimal import Decimal
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


#: the longest number kept exactly, written out in full (``1e-400`` is 402 characters so); far
#: inside what PostgreSQL's numeric holds (131,072 digits before the point, 16,383 after)
MAX_NUMBER_LENGTH = 4096
_NUMBER = re.compile(r"-?([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?")


class NumberTooLong(ValueError):
    """A number longer than :data:`MAX_NUMBER_LENGTH` characters written out in full."""


def loads(text: str | bytes, *, exact_numbers: bool = False) -> Any:
    """``json.loads`` that refuses an object naming a member twice (``DuplicateName``).

    RFC 8259 leaves the meaning of such an object open: Python keeps the last value, other
    parsers the first, some refuse it. A partner's system checking ``{"nights": 1, "nights":
    300}`` and ours crediting it would not agree on what was sent, so neither reading is taken.

    With ``exact_numbers``, numbers with a fraction or an exponent become ``Decimal`` (as
    written: ``10.10`` stays 10.10, ``1e-400`` is not 0.0) instead of the nearest double, and a
    number longer than :data:`MAX_NUMBER_LENGTH` characters written out in full raises
    :class:`NumberTooLong` (``1e999999999`` is 11 characters of JSON).
    """
    if exact_numbers:
        return json.loads(
            text,
            object_pairs_hook=_unique_members,
            parse_float=_exact_number,
            parse_int=_whole_number,
        )
    return json.loads(text, object_pairs_hook=_unique_members)


def _exact_number(text: str) -> Decimal:
    match = _NUMBER.fullmatch(text)
    if match is None:  # pragma: no cover - the parser hands over JSON numbers only
        raise ValueError(f"not a JSON number: {text!r}")
    whole, fraction, exponent = match.groups()
    fraction = fraction or ""
    if exponent is not None and len(exponent.lstrip("+-").lstrip("0")) > 6:
        # Checked before Decimal sees it: Decimal("1e999999999999999999") runs out of memory.
        raise NumberTooLong(f"a number longer than {MAX_NUMBER_LENGTH} characters in full")
    digits = len((whole + fraction).lstrip("0")) or 1
    decimals = len(fraction) - int(exponent or 0)  # digits after the point, written out
    length = max(digits - decimals, 1) + (decimals + 1 if decimals > 0 else 0)
    if length > MAX_NUMBER_LENGTH:
        raise NumberTooLong(f"a number longer than {MAX_NUMBER_LENGTH} characters in full")
    return Decimal(text)


def _whole_number(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_LENGTH:
        raise NumberTooLong(f"a number longer than {MAX_NUMBER_LENGTH} characters in full")
    return int(text)


def dumps(
    value: Any,
    *,
    ensure_ascii: bool = False,
    sort_keys: bool = False,
    default: Callable[[Any], Any] | None = None,
) -> str:
    """Compact JSON text of ``value`` in which ``Decimal`` numbers are written exactly, in full
    (``Decimal("1E-7")`` as ``0.0000001``, as PostgreSQL writes them back); ``json.dumps``
    knows only floats. Characters are kept as they are unless ``ensure_ascii``; NaN and
    infinities raise ValueError; what JSON has no type for goes to ``default`` (TypeError
    without one); keys are written as ``json.dumps`` writes them.

    ``json.dumps`` writes the whole document (at its speed), each Decimal as a placeholder
    string marked with a nonce drawn for this document, so no string of the caller's can pass
    for one; the numbers, kept in the order it met them, then take the placeholders' places.
    Nesting deeper than ``json.dumps`` goes raises RecursionError."""
    decimals: list[Decimal] = []
    placeholder = ""

    def other(item: Any) -> Any:
        nonlocal placeholder
        if isinstance(item, Decimal):
            if not placeholder:
                placeholder = f"decimal-{secrets.token_hex(16)}"
            decimals.append(item)
            return placeholder
        if default is None:
            raise TypeError(f"Object of type {type(item).__name__} is not JSON serializable")
        return default(item)

    text = json.dumps(
        value,
        default=other,
        separators=(",", ":"),
        allow_nan=False,
        ensure_ascii=ensure_ascii,
        sort_keys=sort_keys,
    )
    if not decimals:
        return text
    numbers = _written_out(decimals)
    # json.dumps asks for each Decimal where it writes it: the text's placeholders are in the
    # order of ``numbers``.
    pieces = text.split(f'"{placeholder}"')
    if len(pieces) != len(numbers) + 1:  # pragma: no cover - a nonce of 128 random bits
        raise RuntimeError("a decimal's placeholder was found in the text more than once")
    numbers.append("")
    return "".join([piece for pair in zip(pieces, numbers, strict=True) for piece in pair])


def _written_out(decimals: list[Decimal]) -> list[str]:
    """Each Decimal written out in full (``format(d, "f")``); ValueError for NaN and infinities.
    ``str`` is several times faster and the same for all but those it writes with an exponent."""
    numbers = list(map(str, decimals))
    written = "".join(numbers)
    if "N" in written or "I" in written:  # NaN, sNaN, Infinity
        bad = next(number for number in numbers if "N" in number or "I" in number)
        raise ValueError(f"Out of range float values are not JSON compliant: {bad}")
    if "E" in written:
        numbers = [
            format(decimal, "f") if "E" in number else number
            for decimal, number in zip(decimals, numbers, strict=True)
        ]
    return numbers
