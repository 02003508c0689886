"""The infra checks run in a CI job that installs pytest and PyYAML only (not the project):
nothing they and the shared conftest import at collection may need the project's packages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

# What the job installs (pytest, pytest-timeout, PyYAML and their own dependencies), the
# standard library and the tests package: anything else is absent there.
SCRIPT = """
import importlib, importlib.abc, pathlib, sys
JOB = {"pytest", "_pytest", "pluggy", "iniconfig", "packaging", "pygments", "pytest_timeout",
       "py", "yaml", "_yaml", "tests"}
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        top = name.split(".")[0]
        if top not in JOB and top not in sys.stdlib_module_names:
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
