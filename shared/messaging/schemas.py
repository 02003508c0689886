"""JSON Schema contracts for events (``docs/events/``), checked by producers and consumers alike.

Validation runs in jsonschema-rs (compiled, Draft 2020-12 with formats): every consumed record and
every outbox write is validated, and the pure-Python validator cost ~0.3 ms of CPU per record —
more than everything else a consumer does with it (ADR 0603). ``tests/unit/shared/
test_schemas.py`` checks that it agrees with the reference implementation (``jsonschema``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema_rs

#: ``docs/events`` in the source tree (linked), the schemas' copy in an installed package
DEFAULT_SCHEMA_DIR = Path(__file__).resolve().parent / "event_schemas"
ENVELOPE_FILE = "envelope.schema.json"


class EventSchemaError(ValueError):
    """The document does not satisfy its event schema (or has no schema at all)."""


def load_documents(directory: Path) -> dict[str, dict[str, Any]]:
    """Every ``*.schema.json`` of ``directory`` by file name."""
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("*.schema.json"))
    }


class EventSchemas:
    """All event schemas of a directory, keyed by (eventType, version)."""

    def __init__(self, directory: Path = DEFAULT_SCHEMA_DIR) -> None:
        documents = load_documents(directory)
        if ENVELOPE_FILE not in documents:
            raise FileNotFoundError(f"no {ENVELOPE_FILE} in {directory}")
        # Each schema is known by its $id and by its file name (how the others refer to it).
        resources: list[tuple[str, Any]] = []
        for name, document in documents.items():
            resources.extend([(document["$id"], document), (name, document)])
        registry = jsonschema_rs.Registry(resources)

        def compile_(document: dict[str, Any]) -> Any:
            return jsonschema_rs.Draft202012Validator(
                document, validate_formats=True, registry=registry
            )

        self._envelope = compile_(documents[ENVELOPE_FILE])
        self._validators: dict[tuple[str, int], Any] = {}
        for name, document in documents.items():
            if name == ENVELOPE_FILE:
                continue
            event_type, version = name.removesuffix(".schema.json").rsplit(".v", 1)
            self._validators[(event_type, int(version))] = compile_(document)

    def known(self) -> set[tuple[str, int]]:
        return set(self._validators)

    def validate(self, message: Mapping[str, Any]) -> None:
        """Raise :class:`EventSchemaError` naming the first problems found."""
        event_type, version = message.get("eventType"), message.get("version")
        validator = (
            self._validators.get((event_type, version))
            if isinstance(event_type, str) and type(version) is int
            else None
        )
        if validator is None:
            # Every event schema includes the envelope, so the envelope alone is checked only
            # to explain a record whose type cannot be told.
            self._raise_for(self._envelope, message)
            raise EventSchemaError(f"no schema for event type {event_type} version {version}")
        self._raise_for(validator, message)

    @staticmethod
    def _raise_for(validator: Any, message: Mapping[str, Any]) -> None:
        document = message if isinstance(message, dict) else dict(message)
        if validator.is_valid(document):
            return
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.instance_path))
        # A field that fails its own rule is not "evaluated" either, so unevaluatedProperties
        # also lists every envelope field beside the real problem (the eventId a server filled
        # in named as unexpected): said only when it is the only problem.
        own = [e for e in errors if type(e.kind).__name__ != "UnevaluatedProperties"]
        errors = own or errors
        described = "; ".join(
            f"{'/'.join(str(p) for p in e.instance_path) or '<root>'}: {e.message}"
            for e in errors[:5]
        )
        raise EventSchemaError(described[:1000])


@lru_cache(maxsize=4)
def event_schemas(directory: Path = DEFAULT_SCHEMA_DIR) -> EventSchemas:
    """Schemas are immutable at run time: load each directory once per process."""
    return EventSchemas(directory)
