"""Ports every service may need beyond its unit of work."""

from __future__ import annotations

from abc import ABC, abstractmethod


class InactiveUsers(ABC):
    """Users whose accounts are deactivated, as learnt from ``user-status`` events."""

    @abstractmethod
    def is_inactive(self, user_id: str) -> bool: ...

    @abstractmethod
    def mark(self, user_id: str, inactive: bool) -> None: ...
