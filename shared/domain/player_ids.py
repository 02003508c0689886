"""Player ids as auth issues them."""

from __future__ import annotations

import re

_HYPHENATED = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_UUID = re.compile(_HYPHENATED)
#: the same as a JSON Schema ``pattern`` (for API documents)
UUID_PATTERN = f"^{_HYPHENATED}$"


def is_uuid_text(text: str) -> bool:
    """Whether ``text`` is a UUID in its hyphenated form (either case)."""
    return _UUID.fullmatch(text) is not None


def canonical_player_id(player_id: str) -> str:
    """A player id that is a UUID in lower case, as auth issues it (a caller may send it in
    capitals); any other id as it is."""
    return player_id.lower() if is_uuid_text(player_id) else player_id
