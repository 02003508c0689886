"""Facts the notification domain refuses with; each maps to one HTTP status and error code."""

from __future__ import annotations

from shared.domain.exceptions import DomainError, InvalidInput, NotFound


class NotificationNotFound(NotFound):
    """Also raised for another user's notification, so ids reveal nothing about others."""

    default_message = "The notification was not found."


class InvalidNotification(InvalidInput):
    """A consumed event cannot become a notification (it can never succeed: dead-lettered)."""

    default_message = "The event does not describe a valid notification."


class UnknownPageAnchor(InvalidInput):
    """``before`` names no notification of the user (a mistyped or someone else's id)."""

    default_message = "before must be the id of one of the user's notifications."


class TooManyLiveSessions(DomainError):
    default_message = "Too many open notification sockets for this account."
