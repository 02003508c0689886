"""Session-wide fixtures: the servers every integration and e2e test talks to."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.support.infra import Infra

os.environ.setdefault("LOYALTY_PROFILE", "test")


@pytest.fixture(scope="session")
def infra(request: pytest.FixtureRequest) -> Iterator[Infra]:
    # Imported here: the infra-file checks run with pytest alone, without the project installed.
    from tests.support.infra import start_infra

    started = start_infra()
    yield started
    # The servers' files and the e2e platform's logs stay when a test failed (or on request).
    failed = bool(request.session.testsfailed)
    started.stop(keep_files=failed or bool(os.environ.get("LOYALTY_KEEP_TEST_DATA")))
    if failed:
        print(f"\ntest servers' files and logs kept in {started.workdir}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by the folder they live in, so ``-m unit`` and friends work."""
    for item in items:
        path = str(item.path)
        for kind in ("unit", "integration", "e2e"):
            if f"/tests/{kind}/" in path:
                item.add_marker(getattr(pytest.mark, kind))
