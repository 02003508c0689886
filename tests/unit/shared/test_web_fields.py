"""Request fields shared by the APIs: booleans are read strictly in bodies and query strings."""

from __future__ import annotations

from typing import Any

import pytest
from marshmallow import Schema, ValidationError

from shared.web.schemas import QueryBoolean, StrictBoolean


class Body(Schema):
    flag = StrictBoolean()


class Query(Schema):
    flag = QueryBoolean()


@pytest.mark.parametrize("value", [True, False])
def test_a_body_flag_is_a_json_boolean(value: bool) -> None:
    assert Body().load({"flag": value}) == {"flag": value}


@pytest.mark.parametrize("value", ["true", "false", "off", "no", "yes", "1", 0, 1, 1.0, 0.0, None])
def test_a_body_flag_of_another_json_type_is_refused(value: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        Body().load({"flag": value})
    assert "flag" in refused.value.messages_dict


@pytest.mark.parametrize(("text", "value"), [("true", True), ("false", False)])
def test_a_query_flag_is_true_or_false(text: str, value: bool) -> None:
    assert Query().load({"flag": text}) == {"flag": value}


@pytest.mark.parametrize("text", ["yes", "no", "1", "0", "on", "off", "True", "FALSE", "t", ""])
def test_a_query_flag_spelt_otherwise_is_refused(text: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Query().load({"flag": text})
    assert "flag" in refused.value.messages_dict
