"""The RDS part of the database restore runbook, run as written against a stand-in aws CLI: it
restores into the database's own network and parameters, stops every ECS service that writes
to the restored database (autoscaling held at 0) and gives each back the range Terraform sets."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.entrypoint import run_entrypoint

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "docs/runbooks/restore-database.md"
SERVICES_TF = ROOT / "infra/terraform/envs/staging/services.tf"
ONE_SHOT_TASKS = {
    f"{svc}-migrate": {
        "family": f"loyalty-staging-{svc}-migrate",
        "container": f"{svc}-migrate",
        "security_groups": ["sg-task", f"sg-{svc}"],
    }
    for svc in ("auth", "rewards", "redeem", "notification")
}
DEPLOY_MAP = {
    "cluster": "loyalty-staging",
    "subnets": ["subnet-a", "subnet-b"],
    "one_shot_tasks": ONE_SHOT_TASKS,
}
SOURCE = {
    "subnet_group": "loyalty-staging",
    "parameter_group": "loyalty-staging-postgres16",
    "security_group": "sg-postgres",
}
FAKE_AWS = f"""
import json, os, sys
args = sys.argv[1:]
with open(os.environ["AWS_CALLS"], "a") as calls:
    calls.write(json.dumps(args) + "\\n")
def option(name):
    return args[args.index(name) + 1] if name in args else ""
command = " ".join(args[:2])
if command == "ssm get-parameter":
    print(json.dumps({json.dumps(DEPLOY_MAP)}))
elif command == "rds describe-db-instances":
    instance = option("--db-instance-identifier")
    if "Endpoint.Address" in option("--query"):
        print(instance + ".abc.eu-west-1.rds.amazonaws.com")
    else:
        print("\\t".join([{SOURCE["subnet_group"]!r}, {SOURCE["parameter_group"]!r},
                         {SOURCE["security_group"]!r}, "True", "500"]))
elif command == "secretsmanager get-secret-value":
    print(json.dumps({{"DATABASE_URL": "postgresql+psycopg://svc:pw@loyalty-staging.abc.eu-west-1"
                      ".rds.amazonaws.com:5432/svc?sslmode=verify-full", "REDIS_URL": "rediss://r"}}))
elif command == "secretsmanager put-secret-value":
    value = option("--secret-string")
    if value.startswith("file://"):
        value = open(value[len("file://"):]).read()
    with open(os.environ["AWS_CALLS"], "a") as calls:
        calls.write(json.dumps(["secret-written", value]) + "\\n")
elif command == "ecs run-task":
    print("arn:aws:ecs:eu-west-1:1:task/loyalty-staging/t1")
elif command == "ecs describe-tasks":
    print(os.environ["TASK_EXIT_CODE"])
elif command == "application-autoscaling describe-scalable-targets":
    ranges = json.load(open(os.environ["SCALING_RANGES"]))
    ids = args[args.index("--resource-ids") + 1:]
    ids = ids[:next((i for i, a in enumerate(ids) if a.startswith("--")), len(ids))]
    for resource in ids:
        print("\t".join([resource, *map(str, ranges[resource])]))
elif command == "ecs update-service":
    print(option("--service"))
elif command not in ("rds restore-db-instance-to-point-in-time", "rds wait",
                     "application-autoscaling register-scalable-target", "ecs wait"):
    sys.exit("unexpected aws " + command)
"""

pytestmark = pytest.mark.skipif(shutil.which("jq") is None, reason="the runbook's commands use jq")


def terraform_services() -> dict[str, dict[str, tuple[int, int]]]:
    """SQL service => {ECS service using its secret: (min, max) of its autoscaling}."""
    text = SERVICES_TF.read_text()
    services = re.findall(r"^    (\w+) = \{\n      package", text, flags=re.MULTILINE)
    found: dict[str, dict[str, tuple[int, int]]] = {svc: {} for svc in services}
    for module in re.split(r'^module "', text, flags=re.MULTILINE)[1:]:
        block = module.split("\n}\n", 1)[0]
        secret = re.search(r'secrets\s+=\s+local\.service_secrets\[(each\.key|"(\w+)")\]', block)
        if re.search(r"create_service\s+=\s+false", block) or secret is None:
            continue
        name = re.search(r'^  name\s+=\s+"([^"]+)"', block, flags=re.MULTILINE)
        minimum = re.search(r"min_capacity\s+=\s+(\d+)", block)
        maximum = re.search(r"max_capacity\s+=\s+(\d+)", block)
        assert name is not None, block
        assert minimum is not None, block
        assert maximum is not None, block
        scaling = (int(minimum.group(1)), int(maximum.group(1)))
        for svc in services if secret.group(2) is None else [secret.group(2)]:
            found[svc][name.group(1).replace("${each.key}", svc)] = scaling
    return found


def run_runbook(tmp_path: Path, service: str, exit_code: int = 0) -> list[list[str]]:
    production = RUNBOOK.read_text().split("## Production (RDS)", 1)[1].split("\n## ", 1)[0]
    blocks = [
        "\n".join(line.removeprefix("   ") for line in block.splitlines())
        for block in re.findall(r"```bash\n(.*?)```", production, flags=re.DOTALL)
    ]
    assert blocks, "no commands in the RDS part"
    script = "\n".join(blocks).replace("SVC=redeem", f"SVC={shlex.quote(service)}", 1)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "fake_aws.py").write_text(FAKE_AWS)
    (bin_dir / "aws").write_text(
        f'#!/bin/sh\nexec "{sys.executable}" "{bin_dir / "fake_aws.py"}" "$@"\n'
    )
    (bin_dir / "docker-compose").write_text("#!/bin/sh\nexit 0\n")
    for tool in ("aws", "docker-compose"):
        (bin_dir / tool).chmod(0o755)
    calls = tmp_path / "calls"
    calls.touch()
    # What autoscaling holds now: Terraform's ranges.
    ranges = tmp_path / "ranges.json"
    ranges.write_text(
        json.dumps(
            {
                f"service/loyalty-staging/{name}": list(scaling)
                for writers in terraform_services().values()
                for name, scaling in writers.items()
            }
        )
    )
    environment = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "AWS_CALLS": str(calls),
        "SCALING_RANGES": str(ranges),
        "TASK_EXIT_CODE": str(exit_code),
    }
    done = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if exit_code == 0:
        assert done.returncode == 0, done.stderr
    else:
        assert done.returncode != 0, "the runbook went on after a failed task"
    return [json.loads(line) for line in calls.read_text().splitlines()]


def option(call: list[str], name: str) -> str:
    return call[call.index(name) + 1]


def test_the_restored_instance_lands_in_the_database_network(tmp_path: Path) -> None:
    calls = run_runbook(tmp_path, "redeem")
    (restore,) = [c for c in calls if c[:2] == ["rds", "restore-db-instance-to-point-in-time"]]
    assert option(restore, "--source-db-instance-identifier") == "loyalty-staging"
    assert option(restore, "--db-subnet-group-name") == SOURCE["subnet_group"]
    assert option(restore, "--vpc-security-group-ids") == SOURCE["security_group"]
    assert option(restore, "--db-parameter-group-name") == SOURCE["parameter_group"]
    assert "--no-publicly-accessible" in restore
    assert "--multi-az" in restore


@pytest.mark.parametrize("service", ["auth", "rewards", "redeem"])
def test_every_writer_stops_with_scaling_held_and_gets_its_range_back(
    tmp_path: Path, service: str
) -> None:
    writers = terraform_services()[service]
    assert len(writers) >= 2
    calls = run_runbook(tmp_path, service)
    scaling = [
        (
            option(c, "--resource-id"),
            int(option(c, "--min-capacity")),
            int(option(c, "--max-capacity")),
        )
        for c in calls
        if c[:2] == ["application-autoscaling", "register-scalable-target"]
    ]
    desired = [
        (option(c, "--service"), int(option(c, "--desired-count")))
        for c in calls
        if c[:2] == ["ecs", "update-service"]
    ]
    resource = "service/loyalty-staging/{}".format
    held = [(resource(name), 0, 0) for name in writers]
    given_back = [(resource(name), low, high) for name, (low, high) in writers.items()]
    assert sorted(scaling) == sorted(held + given_back)
    assert sorted(desired) == sorted(
        [(name, 0) for name in writers] + [(n, low) for n, (low, _) in writers.items()]
    )
    for name in writers:
        hold = calls.index(
            next(
                c
                for c in calls
                if c[:2] == ["application-autoscaling", "register-scalable-target"]
                and resource(name) in c
                and option(c, "--max-capacity") == "0"
            )
        )
        stop = calls.index(next(c for c in calls if name in c and "--desired-count" in c))
        assert hold < stop, f"{name} is stopped before its scaling is held"
    (secret,) = [c[1] for c in calls if c[0] == "secret-written"]
    url = json.loads(secret)["DATABASE_URL"]
    assert "@loyalty-staging-restored.abc.eu-west-1.rds.amazonaws.com:5432/" in url


def test_one_shot_tasks_run_in_the_vpc_with_their_commands(tmp_path: Path) -> None:
    calls = run_runbook(tmp_path, "redeem")
    runs = [c for c in calls if c[:2] == ["ecs", "run-task"]]
    assert runs
    for run in runs:
        family = option(run, "--task-definition")
        (task,) = [t for t in ONE_SHOT_TASKS.values() if t["family"] == family]
        network = option(run, "--network-configuration")
        assert "subnets=[subnet-a,subnet-b]" in network
        assert f"securityGroups=[{','.join(task['security_groups'])}]" in network
        if "--overrides" in run:
            (override,) = json.loads(option(run, "--overrides"))["containerOverrides"]
            assert override["name"] == task["container"]
            assert_runs_a_module(tmp_path, override["name"], override["command"])


def assert_runs_a_module(workdir: Path, container: str, command: list[str]) -> None:
    """The image's entrypoint, in the migrate task's environment, runs ``command`` as a module
    of the project with the service's settings."""
    service = container.removesuffix("-migrate")
    started = run_entrypoint(
        workdir, command, {"SERVICE": f"{service}_service", "PROCESS": "migrate"}
    )
    assert started.returncode == 0, (command, started.stderr)
    assert started.argv[:2] == ["python", "-m"], command
    module = started.argv[2]
    assert module.split(".")[0] in (f"{service}_service", "shared"), command
    assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), command


def test_every_task_command_the_runbook_gives_is_one_the_image_runs(tmp_path: Path) -> None:
    # Those written inline as well as in the scripts: each a migrate task's command override.
    text = " ".join(RUNBOOK.read_text().split())
    given = re.findall(r"run_task \"?([\w$]+)-migrate\"? '(\[[^']*\])'", text)
    assert len(given) >= 3, given
    for service, command in given:
        container = ("redeem" if service == "$SVC" else service) + "-migrate"
        assert_runs_a_module(tmp_path, container, json.loads(command))


def test_a_failed_migrate_task_stops_the_runbook(tmp_path: Path) -> None:
    calls = run_runbook(tmp_path, "rewards", exit_code=1)
    # Nothing is started again on a database the migration did not finish.
    assert not [
        c
        for c in calls
        if c[:2] == ["ecs", "update-service"] and option(c, "--desired-count") != "0"
    ]
