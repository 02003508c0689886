"""Ports the notification use cases need beyond the repository."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from notification_service.application.live import LiveMessage


class LiveChannel(ABC):
    """Fan-out of live messages to every web replica.

    At most once: a replica that is not listening at that moment misses them. The stored
    notifications are the record; a client that reconnects reads what it missed over REST.
    """

    @abstractmethod
    def publish(self, messages: Sequence[LiveMessage]) -> None:
        """Hand ``messages`` to every replica; raise ``DependencyUnavailable`` when the
        channel cannot be reached."""
