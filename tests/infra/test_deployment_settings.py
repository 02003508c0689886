"""Settings the deployments must give a service for the code to work there (what the embedded
platform, all on loopback, never shows)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_services_may_fetch_tokens_from_auth_over_the_private_network() -> None:
    # authlib refuses plain HTTP from any address but loopback (400 invalid_request): the
    # services' http://auth:8001 token requests need AUTHLIB_INSECURE_TRANSPORT on auth.
    compose = (ROOT / "docker-compose.yml").read_text()
    auth_environment = compose.split("x-auth-environment:", 1)[1].split("\nx-", 1)[0]
    assert 'AUTHLIB_INSECURE_TRANSPORT: "1"' in auth_environment
    services = (ROOT / "infra/terraform/envs/staging/services.tf").read_text()
    auth_block = services.split("    auth = {", 1)[1].split("\n    }", 1)[0]
    assert 'AUTHLIB_INSECURE_TRANSPORT = "1"' in auth_block


def test_the_image_gives_its_user_a_writable_tmp_on_a_read_only_root() -> None:
    # ECS mounts an empty scratch volume at /tmp (root-owned, 0755) unless the image declares
    # /tmp a volume, whose content and mode then fill it; entrypoint.sh creates
    # PROMETHEUS_MULTIPROC_DIR there as the unprivileged user before anything starts.
    dockerfile = (ROOT / "Dockerfile").read_text()
    runtime = dockerfile.split("AS base", 1)[1].split("\nFROM ", 1)[0]
    assert 'VOLUME ["/tmp"]' in runtime
    assert "chmod 1777 /tmp" in runtime
    assert runtime.index('VOLUME ["/tmp"]') < runtime.index("USER 10001")


def test_the_waf_lets_through_bodies_the_services_accept() -> None:
    # The managed common rule set blocks bodies over 8 KB; rewards takes batches of 500 events
    # and assignments of 500 players (hundreds of KiB), each service enforcing its own limit.
    alb = (ROOT / "infra/terraform/modules/alb/main.tf").read_text()
    rule = alb.split('name     = "AWSManagedRulesCommonRuleSet"', 1)[1]
    common = rule.split("visibility_config")[0]
    assert 'name = "SizeRestrictions_BODY"' in common
    assert "count {}" in common


def test_the_database_version_leaves_minor_upgrades_to_aws() -> None:
    # With automatic minor upgrades, a pinned minor version (16.4) is planned back down once AWS
    # has upgraded the instance (16.8), and RDS refuses the downgrade: every apply then fails.
    main = (ROOT / "infra/terraform/modules/rds/main.tf").read_text()
    assert re.search(r"auto_minor_version_upgrade\s*=\s*true", main)
    variables = (ROOT / "infra/terraform/modules/rds/variables.tf").read_text()
    engine_version = variables.split('variable "engine_version" {', 1)[1].split("\n}", 1)[0]
    default = re.search(r'default\s*=\s*"([^"]*)"', engine_version)
    assert default is not None
    assert re.fullmatch(r"[0-9]+", default.group(1)), default.group(1)
