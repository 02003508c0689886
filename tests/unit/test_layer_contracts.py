"""The import-linter contracts hold, and they would catch a domain importing a framework."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NO_FRAMEWORK = "domain and application import no framework"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_the_contracts_are_kept() -> None:
    result = lint_imports()
    assert result.returncode == 0, result.stdout[-2000:]


@pytest.mark.parametrize(
    ("package", "statement", "contract"),
    [
        ("auth_service/domain", "import flask", NO_FRAMEWORK),
        ("auth_service/application", "import sqlalchemy", NO_FRAMEWORK),
        ("auth_service/domain", "import auth_service.adapters.crypto", "auth_service: entry"),
        ("shared/domain", "import shared.web.errors", "the domain depends on nothing outside"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(package: str, statement: str, contract: str) -> None:
    probe = ROOT / package / f"_probe_{uuid.uuid4().hex[:8]}.py"
    probe.write_text(f'"""Deliberate layer violation."""\n\n{statement}  # noqa: F401\n')
    try:
        result = lint_imports()
    finally:
        probe.unlink()
    assert result.returncode != 0
    assert contract in result.stdout
    assert "BROKEN" in result.stdout
