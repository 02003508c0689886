"""JSON whose numbers are kept exactly: read as Decimal, written back in full."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from shared.json_text import MAX_NUMBER_LENGTH, NumberTooLong, dumps, loads


def test_numbers_are_read_as_written_not_as_the_nearest_double() -> None:
    data = loads(
        '{"wager": 12345678901234567.89, "rate": 10.10, "tiny": 1e-400, "n": 7}',
        exact_numbers=True,
    )
    assert data == {
        "wager": Decimal("12345678901234567.89"),
        "rate": Decimal("10.10"),
        "tiny": Decimal("1e-400"),
        "n": 7,
    }
    assert str(data["rate"]) == "10.10"
    # Without the option, the parser is json's own.
    assert loads('{"rate": 10.10}') == {"rate": 10.1}


@pytest.mark.parametrize(
    "number",
    ["1e5000", "1e-5000", "1e999999999999999999", "-1e-4095", "9" * (MAX_NUMBER_LENGTH + 1)],
)
def test_a_number_too_long_written_out_is_refused_before_it_is_built(number: str) -> None:
    with pytest.raises(NumberTooLong):
        loads(f'{{"n": {number}}}', exact_numbers=True)


def test_the_longest_number_is_accepted() -> None:
    data = loads(f'{{"n": 1e-{MAX_NUMBER_LENGTH - 2}}}', exact_numbers=True)
    assert len(dumps(data)) == len('{"n":}') + MAX_NUMBER_LENGTH


def test_decimals_are_written_exactly_in_full() -> None:
    document = {"b": [Decimal("10.10"), {"tiny": Decimal("1E-7")}], "a": Decimal("1E+3")}
    assert dumps(document) == '{"b":[10.10,{"tiny":0.0000001}],"a":1000}'
    assert dumps(document, sort_keys=True) == '{"a":1000,"b":[10.10,{"tiny":0.0000001}]}'
    assert loads(dumps(document), exact_numbers=True) == document


def test_documents_without_decimals_are_written_as_json_writes_them() -> None:
    document = {"note": "漢字 😀", "n": [1, 2.5, None, True], "o": {}}
    assert dumps(document) == '{"note":"漢字 😀","n":[1,2.5,null,true],"o":{}}'
    assert dumps(document, ensure_ascii=True).startswith('{"note":"\\u6f22')


def test_nested_documents_with_decimals_are_written_exactly() -> None:
    value: Any = {"odds": Decimal("2.50"), "list": [Decimal("1E-3"), "x"]}
    for _ in range(600):  # 4 KiB holds a few hundred levels
        value = [value]
    expected = "[" * 600 + '{"odds":2.50,"list":[0.001,"x"]}' + "]" * 600
    assert dumps({"a": value}) == '{"a":' + expected + "}"


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), float("nan")])
def test_not_a_number_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="not JSON compliant"):
        dumps({"a": Decimal("1.5"), "b": value})


def test_other_types_go_to_default() -> None:
    with pytest.raises(TypeError):
        dumps({"a": Decimal("1.5"), "b": date(2026, 1, 2)})
    assert dumps({"a": Decimal("1.5"), "b": date(2026, 1, 2)}, default=str) == (
        '{"a":1.5,"b":"2026-01-02"}'
    )


def test_keys_are_written_as_json_writes_them_with_decimals_too() -> None:
    document = {1: Decimal("1.5"), 2.5: "x", False: None, None: [Decimal("2")]}
    assert dumps(document) == '{"1":1.5,"2.5":"x","false":null,"null":[2]}'
    assert dumps({1: Decimal("1.5")}) == json.dumps({1: 1.5}, separators=(",", ":"))
    with pytest.raises(TypeError, match="keys must be"):
        dumps({Decimal("1"): Decimal("1.5")})


def test_a_string_cannot_pass_for_a_decimal() -> None:
    # A Decimal is first written as a placeholder string whose nonce no caller knows.
    lookalike = "decimal-" + "0" * 32
    document = {"a": Decimal("1.5"), "b": lookalike, "c": [f'"{lookalike}"', Decimal("2")]}
    assert loads(dumps(document), exact_numbers=True) == document


def test_every_decimal_is_written_out_as_format_f_writes_it() -> None:
    numbers = [
        Decimal(text)
        for text in ("0", "-0", "-0.0", "1E+3", "1.0E+2", "1E-7", "0.000001", "1.000", "123e-2")
    ] + [Decimal(n).scaleb(exponent) for n in (-7, 3, 120) for exponent in range(-9, 4)]
    assert dumps(numbers) == "[" + ",".join(format(n, "f") for n in numbers) + "]"
