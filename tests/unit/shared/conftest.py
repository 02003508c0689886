"""Fixtures shared by the unit tests of the shared kernel."""

from __future__ import annotations

import pytest

from tests.support.tokens import TestSigner


@pytest.fixture(scope="module")
def signer() -> TestSigner:
    return TestSigner()
