"""Flask's JSON with exact numbers: a ``Decimal`` is written as a JSON number, exactly and in
full (``shared.json_text.dumps``), not as a string (Flask's default) nor through a float."""

from __future__ import annotations

from typing import Any

from flask.json.provider import DefaultJSONProvider

from shared import json_text


class ExactNumbersJSONProvider(DefaultJSONProvider):
    """For apps that answer with documents a caller wrote, whose numbers must come back as sent
    (a wallet transaction's additional data). Always compact; keys sorted and non-ASCII escaped
    as Flask does by default; dates, UUIDs and dataclasses converted as Flask does."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return json_text.dumps(
            obj,
            ensure_ascii=kwargs.get("ensure_ascii", self.ensure_ascii),
            sort_keys=kwargs.get("sort_keys", self.sort_keys),
            default=kwargs.get("default", self.default),
        )
