"""The web processes wire the HTTP controllers only, so the worker's gauges are not exported by
them (a gauge that is always 0 in the web processes hides nothing but misleads a dashboard)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
from rewards_service.container import Container
Container()
assert "rewards_service.controllers.promotions" in sys.modules
assert "rewards_service.controllers.consumers" not in sys.modules, "worker module imported"
"""


def test_the_container_does_not_import_the_kafka_consumers() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], check=False, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
