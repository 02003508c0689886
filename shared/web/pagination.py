"""Bounded pagination shared by every list endpoint: ``?page=&pageSize=`` → items + total."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from shared.domain.pagination import PageRequest

MAX_PAGE_SIZE = 100


class PageQuerySchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    page_size = fields.Integer(
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
