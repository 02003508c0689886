"""The infra checks run in a CI job that installs pytest and PyYAML only (not the project):
nothing they and the shared conftest import at collection may need the project's packages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import importlib, importlib.abc, pathlib, sys
PROJECT = {"sqlalchemy", "embedded", "shared", "redis", "confluent_kafka", "flask", "psycopg",
           "auth_service", "rewards_service", "redeem_service", "notification_service"}
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in PROJECT:
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None
sys.meta_path.insert(0, Absent())
import tests.conftest
for module in sorted(pathlib.Path("tests/infra").glob("test_*.py")):
    importlib.import_module(f"tests.infra.{module.stem}")
"""


def test_the_conftest_and_the_infra_tests_import_without_the_project() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
