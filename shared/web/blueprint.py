"""flask-smorest's ``Blueprint`` with an argument parser that reuses schema instances and refuses
request bodies it cannot read as the caller's fault."""

from __future__ import annotations

from typing import Any

import flask_smorest
import marshmallow as ma
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request

from shared.errors import CommonErrorCode
from shared.json_text import DuplicateName, loads
from shared.web.errors import HttpError


class SchemaReusingParser(FlaskParser):
    """A JSON body in another media type (a form, text/plain, none given) is refused with 415
    instead of reading as "missing data", and a number Python will not convert (an integer of
    more than 4,300 digits: ``ValueError``, not a ``JSONDecodeError``) as invalid JSON (400)
    instead of escaping as a 500. An object naming a member twice is refused (400) rather than
    read as its last value (``shared.json_text.loads``).

    webargs builds a new schema from a schema class on every request (46 µs for the two of
    ``POST /api/v1/redemptions``, ~2% of its web CPU). The platform's request schemas keep no
    state between loads, so one instance per class serves every request on every thread."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._instances: dict[type[ma.Schema], ma.Schema] = {}

    def _get_schema(self, argmap: Any, req: Any) -> ma.Schema:
        if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
            schema = self._instances.get(argmap)
            if schema is None:
                schema = self._instances.setdefault(argmap, argmap())
            return schema
        return super()._get_schema(argmap, req)

    def load_json(self, req: Any, schema: ma.Schema) -> Any:
        if not is_json_request(req) and (
            req.content_length or req.headers.get("Transfer-Encoding")
        ):
            raise HttpError(
                415,
                CommonErrorCode.UNSUPPORTED_MEDIA_TYPE,
                "The request body must be JSON (Content-Type: application/json).",
            )
        try:
            return super().load_json(req, schema)
        except DuplicateName as exc:
            abort(400, exc=exc, messages={"json": [f"Invalid JSON body: {exc}."]})
        except ValueError as exc:
            return self._handle_invalid_json_error(exc, req)  # type: ignore[arg-type]

    def _raw_load_json(self, req: Any) -> Any:
        if not is_json_request(req):
            return core.missing
        # UTF-8 only, as webargs reads it (a UnicodeDecodeError is invalid JSON here).
        return loads(req.get_data(cache=True).decode("utf-8"))


class Blueprint(flask_smorest.Blueprint):  # type: ignore[misc]
    """Every service's blueprint: flask-smorest's, parsing arguments with
    :class:`SchemaReusingParser`."""

    ARGUMENTS_PARSER = SchemaReusingParser()
