"""Each infrastructure check passes on the repository's files and fails on a broken copy."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
INFRA_CHECK = ROOT / "scripts" / "infra-check"


@pytest.fixture(scope="module", autouse=True)
def _tools() -> None:
    # Installs only what is missing; a no-op apart from pip's own check when all is there.
    subprocess.run([str(INFRA_CHECK), "install"], check=True, cwd=ROOT)


def check(name: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(INFRA_CHECK), name, *map(str, paths)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def assert_breaks(name: str, target: Path, edit: Callable[[], None], *paths: Path) -> None:
    """The check passes on the pristine copy, then fails once ``edit`` broke it."""
    pristine = check(name, *(paths or (target,)))
    assert pristine.returncode == 0, pristine.stdout + pristine.stderr
    edit()
    broken = check(name, *(paths or (target,)))
    assert broken.returncode not in (0, 127), broken.stdout + broken.stderr


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    "name",
    [
        "nginx-compose",
        "nginx-embedded",
        "gixy",
        "hadolint",
        "compose",
        "terraform-fmt",
        "terraform-descriptions",
        "checkov",
        "terraform-validate",
        "actionlint",
        "yamllint",
    ],
)
def test_repository_files_pass(name: str) -> None:
    result = check(name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_nginx_compose_fails_on_a_directive_typo(tmp_path: Path) -> None:
    nginx = shutil.copytree(ROOT / "infra" / "nginx", tmp_path / "nginx")
    assert_breaks(
        "nginx-compose",
        nginx,
        lambda: replace_in(
            nginx / "locations.conf",
            "proxy_pass http://loyalty_auth;",
            "proxy_pas http://loyalty_auth;",
        ),
    )


def test_nginx_compose_fails_on_an_upstream_that_is_no_compose_service(tmp_path: Path) -> None:
    nginx = shutil.copytree(ROOT / "infra" / "nginx", tmp_path / "nginx")
    compose = ROOT / "docker-compose.yml"
    assert_breaks(
        "nginx-compose",
        nginx,
        lambda: replace_in(
            nginx / "upstreams" / "compose.conf", "server auth:8001", "server authentication:8001"
        ),
        nginx,
        compose,
    )


def test_nginx_embedded_fails_on_a_directive_typo(tmp_path: Path) -> None:
    nginx = shutil.copytree(ROOT / "infra" / "nginx", tmp_path / "nginx")
    assert_breaks(
        "nginx-embedded",
        nginx,
        lambda: replace_in(
            nginx / "http.conf", "keepalive_requests 1000;", "keepalive_request 1000;"
        ),
    )


def test_gixy_fails_on_a_spoofable_host_header(tmp_path: Path) -> None:
    nginx = shutil.copytree(ROOT / "infra" / "nginx", tmp_path / "nginx")
    assert_breaks(
        "gixy",
        nginx,
        lambda: replace_in(nginx / "proxy_headers.conf", "Host $host;", "Host $http_host;"),
    )


def test_hadolint_fails_when_the_image_runs_as_root(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    shutil.copy(ROOT / "Dockerfile", dockerfile)

    def run_as_root() -> None:
        with dockerfile.open("a", encoding="utf-8") as handle:
            handle.write("USER root\n")

    assert_breaks("hadolint", dockerfile, run_as_root)


def test_compose_fails_on_an_unknown_key(tmp_path: Path) -> None:
    compose = tmp_path / "docker-compose.yml"
    shutil.copy(ROOT / "docker-compose.yml", compose)
    (tmp_path / "infra" / "compose").mkdir(parents=True)
    shutil.copy(
        ROOT / "infra" / "compose" / "loyalty.env", tmp_path / "infra" / "compose" / "loyalty.env"
    )
    assert_breaks(
        "compose",
        compose,
        lambda: replace_in(
            compose, "    restart: unless-stopped\n", "    restart_policy: unless-stopped\n"
        ),
    )


def copy_terraform_module(tmp_path: Path, module: str) -> Path:
    return shutil.copytree(ROOT / "infra" / "terraform" / "modules" / module, tmp_path / module)


def test_terraform_fmt_fails_on_misformatted_hcl(tmp_path: Path) -> None:
    module = copy_terraform_module(tmp_path, "ecr")
    assert_breaks(
        "terraform-fmt",
        module,
        lambda: replace_in(
            module / "main.tf", "  name                 = var.name", "name=var.name"
        ),
    )


def test_terraform_descriptions_fail_on_an_undocumented_variable(tmp_path: Path) -> None:
    module = copy_terraform_module(tmp_path, "ecr")
    assert_breaks(
        "terraform-descriptions",
        module,
        lambda: replace_in(
            module / "variables.tf", '  description = "Repository name, e.g. casino-loyalty."\n', ""
        ),
    )


def test_checkov_fails_on_an_unscanned_mutable_repository(tmp_path: Path) -> None:
    module = copy_terraform_module(tmp_path, "ecr")

    def weaken() -> None:
        replace_in(
            module / "main.tf",
            'image_tag_mutability = "IMMUTABLE"',
            'image_tag_mutability = "MUTABLE"',
        )
        replace_in(module / "main.tf", "scan_on_push = true", "scan_on_push = false")

    assert_breaks("checkov", module, weaken)


def test_terraform_validate_fails_on_an_undeclared_variable(tmp_path: Path) -> None:
    if not Path(os.environ.get("TF_PROVIDER_MIRROR", "/opt/tf-plugins")).is_dir() and (
        os.environ.get("INFRA_CHECK_TF_ONLINE") != "1"
    ):
        pytest.skip("no Terraform provider mirror here and provider downloads are not enabled")
    infra = shutil.copytree(
        ROOT / "infra",
        tmp_path / "infra",
        ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl"),
    )
    staging = infra / "terraform" / "envs" / "staging"
    assert_breaks(
        "terraform-validate",
        staging,
        lambda: replace_in(
            staging / "main.tf",
            "cidr_block         = var.vpc_cidr",
            "cidr_block         = var.vpc_range",
        ),
    )


def test_actionlint_fails_on_an_invalid_expression(tmp_path: Path) -> None:
    workflow = tmp_path / "ci.yml"
    shutil.copy(ROOT / ".github" / "workflows" / "ci.yml", workflow)
    assert_breaks(
        "actionlint",
        workflow,
        lambda: replace_in(workflow, "${{ env.PYTHON_VERSION }}", "${{ env.PYTHON_VERSION ) }}"),
    )


def test_yamllint_fails_on_bad_indentation(tmp_path: Path) -> None:
    document = tmp_path / "docker-compose.yml"
    shutil.copy(ROOT / "docker-compose.yml", document)
    assert_breaks(
        "yamllint",
        document,
        lambda: replace_in(
            document, "  nginx:\n    <<: *hardening\n", "  nginx:\n     <<: *hardening\n"
        ),
    )
