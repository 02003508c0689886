"""The image's entrypoint: each role starts its service's process, and ``manage`` runs any
command of a service's ``manage`` module (e.g. rewards' republish-confirmed after a restore)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.entrypoint import ROOT, run_entrypoint

SINCE = ["--since", "2026-12-07T09:59:00Z"]


@pytest.mark.parametrize(
    ("arguments", "environment"),
    [
        (["manage", "republish-confirmed", *SINCE], {"SERVICE": "rewards_service"}),
        (["republish-confirmed", *SINCE], {"SERVICE": "rewards_service", "PROCESS": "manage"}),
        # A one-shot migrate task whose command is overridden with the role.
        (
            ["manage", "republish-confirmed", *SINCE],
            {"SERVICE": "rewards_service", "PROCESS": "migrate"},
        ),
    ],
)
def test_manage_runs_a_command_of_the_services_manage(
    tmp_path: Path, arguments: list[str], environment: dict[str, str]
) -> None:
    started = run_entrypoint(tmp_path, arguments, environment)
    assert started.returncode == 0, started.stderr
    assert started.argv == ["python", "-m", "rewards_service.manage", "republish-confirmed", *SINCE]


def test_with_process_manage_the_arguments_are_the_command_even_a_role_name(
    tmp_path: Path,
) -> None:
    # A manage task's command that happens to be a role's name is still the service's command,
    # not that role (here not auth's demo seed).
    started = run_entrypoint(
        tmp_path, ["seed"], {"SERVICE": "rewards_service", "PROCESS": "manage"}
    )
    assert started.returncode == 0, started.stderr
    assert started.argv == ["python", "-m", "rewards_service.manage", "seed"]
    doubled = run_entrypoint(
        tmp_path, ["manage", "check-ledger"], {"SERVICE": "redeem_service", "PROCESS": "manage"}
    )
    assert doubled.argv == ["python", "-m", "redeem_service.manage", "check-ledger"]


def test_manage_needs_a_service_and_a_command(tmp_path: Path) -> None:
    no_service = run_entrypoint(tmp_path, ["manage", "check-ledger"], {})
    assert no_service.returncode == 64
    assert "set SERVICE" in no_service.stderr
    no_command = run_entrypoint(tmp_path, [], {"SERVICE": "redeem_service", "PROCESS": "manage"})
    assert no_command.returncode == 64
    assert "manage needs a command" in no_command.stderr
    assert no_command.argv == []


@pytest.mark.parametrize(
    ("arguments", "environment", "argv"),
    [
        (
            [],
            {"SERVICE": "redeem_service", "PROCESS": "migrate"},
            ["redeem_service.manage", "migrate"],
        ),
        (["worker"], {"SERVICE": "auth_service"}, ["auth_service.worker"]),
        (["grpc"], {}, ["redeem_service.grpc_server"]),
        # Any other command is run as given, whatever PROCESS says.
        (
            ["python", "-m", "shared.messaging.admin", "lag", "--group", "g", "--topic", "t"],
            {"SERVICE": "rewards_service", "PROCESS": "migrate"},
            ["shared.messaging.admin", "lag", "--group", "g", "--topic", "t"],
        ),
    ],
)
def test_the_other_roles_start_their_process(
    tmp_path: Path, arguments: list[str], environment: dict[str, str], argv: list[str]
) -> None:
    started = run_entrypoint(tmp_path, arguments, environment)
    assert started.returncode == 0, started.stderr
    assert started.argv == ["python", "-m", *argv]


def test_every_process_the_deployment_guide_lists_is_a_role(tmp_path: Path) -> None:
    guide = (ROOT / "docs/deployment.md").read_text()
    table = guide.split("| `PROCESS` |", 1)[1].split("\n\n", 1)[0]
    roles = re.findall(r"^\| `([\w-]+)` \|", table, flags=re.MULTILINE)
    assert {"web", "worker", "migrate", "manage"} <= set(roles), roles
    metrics = tmp_path / "metrics"
    for role in roles:
        service = "redeem_service"
        environment = {"SERVICE": service, "PROCESS": role, "LOYALTY_PROFILE": "test"}
        environment["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
        started = run_entrypoint(
            tmp_path, ["check-ledger"] if role == "manage" else [], environment
        )
        assert started.returncode == 0, (role, started.stderr)
        assert started.argv[0] in ("python", "gunicorn"), role
