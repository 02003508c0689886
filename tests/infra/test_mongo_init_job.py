"""The compose `mongo-init` job, rerun at every `up`, succeeds whichever member of rs0 is primary:
it initiates the set only once and writes the notification user on the primary (after a restart
of mongo1 or `rs.stepDown()` mongo1 is a secondary). Runs the job's command and script against
a replica set that node holds in memory, as mongosh would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FAKE_MONGOSH = Path(__file__).with_name("fake_mongosh.js")
ROOT_PASSWORD = "r00t/p@ss:w%rd"
NOTIFICATION_PASSWORD = "notification-secret"

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node runs the stand-in")


Job = tuple[subprocess.CompletedProcess[str], dict[str, Any]]


def run_job(tmp_path: Path, replica_set: dict[str, Any]) -> Job:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    entrypoint = compose["services"]["mongo-init"]["entrypoint"]
    assert entrypoint[:2] == ["bash", "-c"]
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "mongo_root_password").write_text(ROOT_PASSWORD)
    (secrets / "notification_mongo_password").write_text(NOTIFICATION_PASSWORD)
    command = (
        entrypoint[2]
        .replace("$$", "$")
        .replace("/run/secrets/", f"{secrets}/")
        .replace("/init/init-replica-set.js", str(ROOT / "infra/compose/mongo/init-replica-set.js"))
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "mongosh").write_text(f'#!/bin/sh\nexec node "{FAKE_MONGOSH}" "$@"\n')
    (bin_dir / "mongosh").chmod(0o755)
    state = tmp_path / "state.json"
    environment = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_REPLICA_SET": json.dumps({"rootPassword": ROOT_PASSWORD, **replica_set}),
        "FAKE_REPLICA_SET_STATE": str(state),
    }
    done = subprocess.run(
        ["bash", "-c", command],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return done, json.loads(state.read_text())


def writes(replica_set: dict[str, Any]) -> list[tuple[str, str]]:
    return [(write["command"], write["on"]) for write in replica_set["writes"]]


def test_the_first_run_initiates_the_set_and_creates_the_user(tmp_path: Path) -> None:
    done, replica_set = run_job(tmp_path, {"initiated": False, "electedAfterSleeps": 3})
    assert done.returncode == 0, done.stderr
    assert replica_set["initiated"]
    assert replica_set["users"] == {"notifications.notification": {"pwd": NOTIFICATION_PASSWORD}}
    assert writes(replica_set) == [("createUser", "mongo1:27017")]


@pytest.mark.parametrize("primary", ["mongo2:27017", "mongo3:27017"])
def test_a_rerun_after_an_election_writes_on_the_new_primary(tmp_path: Path, primary: str) -> None:
    users = {"notifications.notification": {"pwd": "the old password"}}
    done, replica_set = run_job(tmp_path, {"initiated": True, "primary": primary, "users": users})
    assert done.returncode == 0, done.stderr
    assert replica_set["users"] == {"notifications.notification": {"pwd": NOTIFICATION_PASSWORD}}
    assert writes(replica_set) == [("updateUser", primary)]


def test_a_rerun_creates_a_missing_user_on_the_primary(tmp_path: Path) -> None:
    done, replica_set = run_job(tmp_path, {"initiated": True, "primary": "mongo3:27017"})
    assert done.returncode == 0, done.stderr
    assert writes(replica_set) == [("createUser", "mongo3:27017")]


def test_a_set_that_elects_no_primary_fails_the_job(tmp_path: Path) -> None:
    done, replica_set = run_job(tmp_path, {"initiated": True})
    assert done.returncode != 0
    assert "no primary elected" in done.stderr
    assert replica_set["writes"] == []
