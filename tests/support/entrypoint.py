"""Runs the image's entrypoint (infra/docker/entrypoint.sh) with stand-ins for the programs it
starts, to see what a role and its arguments become (standard library only: the infra checks
use it without the project installed)."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "infra/docker/entrypoint.sh"
#: the programs the entrypoint starts itself; each stand-in prints its name and arguments
PROGRAMS = ("python", "gunicorn")


@dataclass(frozen=True)
class Started:
    returncode: int
    #: the program the entrypoint ran and its arguments, one per line of the stand-in's output
    argv: list[str]
    stderr: str


def run_entrypoint(
    workdir: Path, arguments: Sequence[str], environment: Mapping[str, str]
) -> Started:
    bin_dir = workdir / "entrypoint-bin"
    bin_dir.mkdir(exist_ok=True)
    for program in PROGRAMS:
        stand_in = bin_dir / program
        stand_in.write_text(f'#!/bin/sh\nprintf "%s\\n" {program} "$@"\n')
        stand_in.chmod(0o755)
    done = subprocess.run(
        ["sh", str(ENTRYPOINT), *arguments],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", **environment},
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    return Started(done.returncode, done.stdout.splitlines(), done.stderr)
