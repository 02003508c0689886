"""JSON Schema contracts for events (``docs/events/``), checked by producers and consumers alike.

Every event is checked twice on its way (outbox and consumer), so the check is on the hot path:
jsonschema-rs (compiled, ~100x faster) answers "valid?", and only a document it refuses goes
through the pure-Python validator, whose verdict and messages stay the reference.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

import shared

DEFAULT_SCHEMA_DIR = Path(shared.__file__).resolve().parent.parent / "docs" / "events"
ENVELOPE_FILE = "envelope.schema.json"


class EventSchemaError(ValueError):
    """The document does not satisfy its event schema (or has no schema at all)."""


class EventSchemas:
    """All event schemas of a directory, keyed by (eventType, version)."""

    def __init__(self, directory: Path = DEFAULT_SCHEMA_DIR) -> None:
        resources: list[tuple[str, Resource[Any]]] = []
        documents: dict[str, dict[str, Any]] = {}
        for path in sorted(directory.glob("*.schema.json")):
            document = json.loads(path.read_text(encoding="utf-8"))
            resource = Resource.from_contents(document)
            resources.append((document["$id"], resource))
            resources.append((path.name, resource))
            documents[path.name] = document
        if ENVELOPE_FILE not in documents:
            raise FileNotFoundError(f"no {ENVELOPE_FILE} in {directory}")
        registry: Registry[Any] = Registry().with_resources(resources)
        fast_registry = jsonschema_rs.Registry(
            [(uri, resource.contents) for uri, resource in resources]
        )
        checker = FormatChecker()
        self._envelope = Draft202012Validator(
            documents[ENVELOPE_FILE], registry=registry, format_checker=checker
        )
        self._validators: dict[tuple[str, int], Draft202012Validator] = {}
        self._fast: dict[tuple[str, int], Any] = {}
        for name, document in documents.items():
            if name == ENVELOPE_FILE:
                continue
            event_type, version = name.removesuffix(".schema.json").rsplit(".v", 1)
            key = (event_type, int(version))
            self._validators[key] = Draft202012Validator(
                document, registry=registry, format_checker=checker
            )
            self._fast[key] = jsonschema_rs.validator_for(
                document, registry=fast_registry, validate_formats=True
            )

    def known(self) -> set[tuple[str, int]]:
        return set(self._validators)

    def validate(self, message: Mapping[str, Any]) -> None:
        """Raise :class:`EventSchemaError` naming the first problems found."""
        event_type, version = message.get("eventType"), message.get("version")
        if isinstance(event_type, str) and type(version) is int:
            fast = self._fast.get((event_type, version))
            if fast is not None and fast.is_valid(message):
                return
        self._raise_for(self._envelope, message)
        key = (str(message["eventType"]), int(message["version"]))
        validator = self._validators.get(key)
        if validator is None:
            raise EventSchemaError(f"no schema for event type {key[0]} version {key[1]}")
        self._raise_for(validator, message)

    @staticmethod
    def _raise_for(validator: Draft202012Validator, message: Mapping[str, Any]) -> None:
        errors = sorted(validator.iter_errors(message), key=lambda e: list(e.absolute_path))
        if errors:
            described = "; ".join(
                f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
                for e in errors[:5]
            )
            raise EventSchemaError(described[:1000])


@lru_cache(maxsize=4)
def event_schemas(directory: Path = DEFAULT_SCHEMA_DIR) -> EventSchemas:
    """Schemas are immutable at run time: load each directory once per process."""
    return EventSchemas(directory)
