"""Bounded pagination shared by every list endpoint: ``?page=&pageSize=`` → items + total."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, fields, validate

from shared.domain.pagination import PageRequest

MAX_PAGE_SIZE = 100


class QueryInteger(fields.Integer):
    """A whole number in a query string: ASCII digits only. ``int()`` alone would also take
    other scripts' digits (fullwidth, Arabic-Indic), "1_000" and " 12 " as numbers."""

    _DIGITS = re.compile(r"[0-9]{1,18}")

    def _validated(self, value: Any) -> int:
        if isinstance(value, str) and not self._DIGITS.fullmatch(value):
            raise self.make_error("invalid")
        return super()._validated(value)


class PageQuerySchema(Schema):
    page = QueryInteger(load_default=1, validate=validate.Range(min=1, max=100_000))
    page_size = QueryInteger(
        data_key="pageSize",
        load_default=20,
        validate=validate.Range(min=1, max=MAX_PAGE_SIZE),
    )


def page_request(args: dict[str, Any]) -> PageRequest:
    """Take ``page``/``page_size`` out of parsed query args."""
    return PageRequest(page=int(args.pop("page", 1)), page_size=int(args.pop("page_size", 20)))


def page_schema(item_schema: type[Schema], name: str) -> type[Schema]:
    """A response schema ``{items: [...], page, pageSize, total}`` for ``item_schema``."""
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item_schema), required=True),
            "page": fields.Integer(required=True),
            "page_size": fields.Integer(data_key="pageSize", required=True),
            "total": fields.Integer(required=True),
        },
        name=name,
    )
