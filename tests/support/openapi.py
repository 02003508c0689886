"""Checks on a service's OpenAPI document that hold for every service."""

from __future__ import annotations

from typing import Any

#: Swagger UI shows a summary as plain text on one line beside the route.
MAX_SUMMARY_LENGTH = 100


def unreadable_summaries(spec: dict[str, Any]) -> list[str]:
    """Operations whose summary is missing, too long for one line, or carries markup (Swagger
    UI renders Markdown in descriptions only): the docstring's first paragraph is the summary,
    the rest the description."""
    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            summary = str(operation.get("summary", ""))
            if not summary or len(summary) > MAX_SUMMARY_LENGTH or "`" in summary:
                found.append(f"{method.upper()} {path}: {summary!r}")
    return found
