"""The topic-creation job (compose, and the ECS task on a read-only root file system whose /tmp
it cannot write) hands the client properties to every Kafka tool without a temporary file."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "infra" / "compose" / "kafka" / "create-topics.sh"
TOOL = """#!/bin/bash
# Records its arguments and the client properties it was handed.
args=("$@")
for i in "${!args[@]}"; do
    if [[ "${args[$i]}" == --command-config ]]; then
        properties=$(cat "${args[$((i + 1))]}")
    fi
done
echo "$(basename "$0") ${properties:-no-properties}" >> "$CALLS"
[[ "$(basename "$0")" == kafka-broker-api-versions.sh ]] && echo "b-1:9094 (id: 1 rack: a) -> ("
exit 0
"""


def test_tls_properties_reach_every_tool_with_no_writable_tmp(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("kafka-broker-api-versions.sh", "kafka-topics.sh", "kafka-configs.sh"):
        (bin_dir / tool).write_text(TOOL)
        (bin_dir / tool).chmod(0o755)
    calls = tmp_path / "calls"
    environment = {
        "PATH": os.environ["PATH"],
        "KAFKA_BIN": str(bin_dir),
        "KAFKA_BOOTSTRAP_SERVERS": "b-1:9094",
        "KAFKA_SECURITY_PROTOCOL": "SSL",
        "TOPIC_REPLICATION_FACTOR": "1",
        "CALLS": str(calls),
        "TMPDIR": str(tmp_path / "not-writable"),  # as on the task: no temporary files
    }
    done = subprocess.run(
        ["bash", str(SCRIPT)],
        check=False,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = calls.read_text().splitlines()
    assert len(lines) == 1 + 7 * 2 * 2 + 1  # brokers, create + configure each topic and DLQ
    assert all(line.endswith("security.protocol=SSL") for line in lines), lines
