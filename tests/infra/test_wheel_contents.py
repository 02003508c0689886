"""The package the image installs carries every file the code reads at run time: the event
schemas (without them no unit of work or consumer starts) and the Swagger UI page and script."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOT_SOURCE = (
    ".git",
    ".venv",
    ".data",
    ".tools",
    "build",
    "*.egg-info",
    "node_modules",
    "__pycache__",
)
RUNTIME_FILES = [
    "shared/web/templates/swagger_ui.html",
    "shared/web/static/loyalty-swagger-init.js",
]


@pytest.fixture(scope="module")
def wheel_files(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    # From a copy without build state: setuptools would otherwise also package what an earlier
    # build or editable install listed in the tree's egg-info.
    source = tmp_path_factory.mktemp("source") / "loyalty"
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    out = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation"]
    subprocess.run([*pip, "--quiet", "--wheel-dir", str(out)], check=True, timeout=300)
    [wheel] = out.glob("casino_loyalty-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_the_wheel_carries_every_event_schema(wheel_files: set[str]) -> None:
    schemas = sorted(path.name for path in (ROOT / "docs" / "events").glob("*.json"))
    assert "envelope.schema.json" in schemas
    missing = [s for s in schemas if f"shared/messaging/event_schemas/{s}" not in wheel_files]
    assert missing == []


def test_the_wheel_carries_the_swagger_ui_assets(wheel_files: set[str]) -> None:
    assert [f for f in RUNTIME_FILES if f not in wheel_files] == []


def test_the_image_build_context_keeps_the_event_schemas() -> None:
    rules = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert "docs" in rules
    # Docker applies the last matching rule: the exception must come after the exclusion.
    assert rules.index("!docs/events") > rules.index("docs")
