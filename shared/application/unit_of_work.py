"""The unit of work owns the transaction; the outbox is written inside it (ARCHITECTURE §3)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self

from shared.application.events import IntegrationEvent, Topic


class Outbox(ABC):
    """Events recorded in the same transaction as the state change that caused them."""

    @abstractmethod
    def add(self, topic: Topic, event: IntegrationEvent, key: str | None = None) -> None:
        """Record ``event`` for publication on ``topic`` (key defaults to the event's user id)."""

    def add_all(self, topic: Topic, events: Sequence[IntegrationEvent]) -> None:
        """Record ``events`` in this order (adapters may write them in one statement)."""
        for event in events:
            self.add(topic, event)

    def add_again(self, topic: Topic, events: Sequence[IntegrationEvent]) -> None:
        """Record ``events``, published before, for publication again: each message keeps its
        eventId (consumers recognise it). An adapter whose rows are keyed by that id gives each
        such row one of its own (the first may still wait)."""
        self.add_all(topic, events)

    @abstractmethod
    def add_message(
        self, topic: str, key: str, message: Mapping[str, Any], headers: Mapping[str, str]
    ) -> None:
        """Record a message as it is (no contract of ours: one received from elsewhere,
        published again or dead-lettered)."""


class ProcessedEvents(ABC):
    """Ids of consumed events, recorded with their effect so a redelivery changes nothing."""

    @abstractmethod
    def add_new(self, consumer: str, event_ids: list[str]) -> set[str]:
        """Record ``event_ids`` for ``consumer``; return those not seen before."""


class UnitOfWork(ABC):
    """``with uow: ...; uow.commit()`` — leaving the block without commit rolls back."""

    outbox: Outbox
    processed_events: ProcessedEvents

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    @abstractmethod
    def commit(self) -> None: ...

    @abstractmethod
    def rollback(self) -> None: ...
