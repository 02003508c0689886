"""A page of results and the request for it (bounded by the web edge)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PageRequest:
    page: int = 1
    page_size: int = 20

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: Sequence[T]
    total: int
    request: PageRequest
    #: whether anything follows this page, when the store looked (it read one item more);
    #: None when it did not
    has_more: bool | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "items": list(self.items),
            "page": self.request.page,
            "page_size": self.request.page_size,
            "total": self.total,
        }
