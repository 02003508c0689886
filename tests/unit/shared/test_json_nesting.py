"""The edge's JSON depth limit: brackets count only outside strings, escapes included."""

from __future__ import annotations

import json

import pytest

from shared.json_text import (
    MAX_JSON_DEPTH,
    json_nesting_exceeds,
    json_text_has_lone_surrogate,
    json_text_has_nul,
)


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize(
    ("body", "exceeds"),
    [
        (nested(MAX_JSON_DEPTH), False),
        (nested(MAX_JSON_DEPTH + 1), True),
        (nested(100_000), True),
        (json.dumps({"a": [{"b": [1, 2]}] * 500}).encode(), False),  # many, but shallow
        (json.dumps({"note": "[" * 1_000}).encode(), False),  # brackets inside a string
        (json.dumps({"note": '\\"' + "[" * 100}).encode(), False),  # an escaped quote
        (json.dumps({"note": "\\"}).encode() + b"," + nested(MAX_JSON_DEPTH + 1), True),
    ],
)
def test_only_real_nesting_counts(body: bytes, exceeds: bool) -> None:
    assert json_nesting_exceeds(body) is exceeds


@pytest.mark.parametrize(
    ("text", "has_nul"),
    [
        (json.dumps({"name": "Ann\x00"}).encode(), True),
        (b'{"name": "Ann\\U0000"}', True),
        (json.dumps({"name": "Ann", "note": "\\ u0000"}).encode(), False),
        (json.dumps({"path": "C:\\u0000"}).encode(), False),
        (json.dumps({"path": "C:\\\x00"}).encode(), True),
        (json.dumps({"path": "C:\\\\\\u0000"}).encode(), False),
        (json.dumps({"name": "Zoë"}, ensure_ascii=False).encode(), False),
    ],
)
def test_a_nul_escape_is_found_before_parsing(text: bytes, has_nul: bool) -> None:
    assert json_text_has_nul(text) is has_nul


@pytest.mark.parametrize(
    ("text", "lone"),
    [
        (b'{"name": "\\ud800"}', True),
        (b'{"name": "\\uDBFF x"}', True),
        (b'{"name": "\\udc00"}', True),
        (b'{"name": "\\ude00\\ud83d"}', True),
        (b'{"name": "\\ud83d\\u0041"}', True),
        (b'{"name": "\\ud83d"}', True),
        (json.dumps({"name": "\U0001f600"}).encode(), False),
        (b'{"name": "\\ud83d\\ude00 and \\uD83D\\uDE00"}', False),
        (json.dumps({"path": "C:\\ud800"}).encode(), False),
        (b'{"path": "\\\\\\ud800"}', True),
        (json.dumps({"name": "Zo\u00eb"}, ensure_ascii=False).encode(), False),
    ],
)
def test_a_lone_surrogate_escape_is_found_before_parsing(text: bytes, lone: bool) -> None:
    assert json_text_has_lone_surrogate(text) is lone
    if not lone:
        json.dumps(json.loads(text), ensure_ascii=False).encode()  # and it can be encoded
