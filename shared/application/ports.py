"""Ports every service may need beyond its unit of work."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection


class InactiveUsers(ABC):
    """Users whose accounts are deactivated, as learnt from ``user-status`` events."""

    @abstractmethod
    def is_inactive(self, user_id: str) -> bool: ...

    @abstractmethod
    def mark(self, user_id: str, inactive: bool) -> None: ...

    def inactive_among(self, user_ids: Collection[str]) -> set[str]:
        """Which of ``user_ids`` are inactive (adapters answer in one round trip)."""
        return {user_id for user_id in user_ids if self.is_inactive(user_id)}
