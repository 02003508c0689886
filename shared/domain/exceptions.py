"""Base of every domain exception: a fact about the business, with a message safe to show."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A business rule refused the operation. ``message`` is shown to the caller as is."""

    default_message = "The operation was refused."
    #: structured facts for the caller (e.g. which ids were refused), shown beside the message
    details: Any = None

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class NotFound(DomainError):
    default_message = "The resource was not found."


class Conflict(DomainError):
    default_message = "The resource conflicts with its current state."


class PermissionDenied(DomainError):
    default_message = "You are not allowed to do this."


class InvalidInput(DomainError):
    default_message = "The request is not valid."


class DependencyUnavailable(DomainError):
    """A collaborator the operation needs cannot be reached now; retrying later may succeed."""

    default_message = "A required service is temporarily unavailable. Please retry later."
