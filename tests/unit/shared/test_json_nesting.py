"""Checks on JSON text: the depth limit (brackets count only outside strings, escapes included),
NUL and lone surrogate escapes, objects naming a member twice."""

from __future__ import annotations

import json

import pytest

from shared.json_text import (
    MAX_JSON_DEPTH,
    DuplicateName,
    json_nesting_exceeds,
    json_text_has_lone_surrogate,
    json_text_has_nul,
    loads,
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


@pytest.mark.parametrize(
    "text",
    [
        '{"nights": 1, "nights": 300}',
        '{"a": {"b": 1, "c": 2, "b": 3}}',
        '[{"x": 1}, {"y": 1, "y": 1}]',
        '{"n\\u0069ghts": 1, "nights": 2}',  # the same name, spelled with an escape
    ],
)
def test_an_object_naming_a_member_twice_is_refused(text: str) -> None:
    with pytest.raises(DuplicateName):
        loads(text)


def test_objects_with_distinct_names_read_as_usual() -> None:
    text = '{"a": 1, "b": [{"a": 2}, {"a": 3}], "c": {"a": {"a": 4}}}'
    assert loads(text) == json.loads(text)
    assert loads(b"[]") == []
