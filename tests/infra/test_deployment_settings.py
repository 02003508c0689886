"""Settings the deployments must give a service for the code to work there (what the embedded
platform, all on loopback, never shows)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

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


def waf_rate_limits() -> tuple[dict[str, str], list[str]]:
    """The WAF rate-limited paths (rule => path) and the transformations applied to them."""
    alb = (ROOT / "infra/terraform/modules/alb/main.tf").read_text()
    limits = alb.split("rate_limits = {", 1)[1].split("\n  }", 1)[0]
    paths = dict(
        re.findall(r'^\s*"?([\w-]+)"?\s*=\s*\{\s*path\s*=\s*"([^"]+)"', limits, flags=re.MULTILINE)
    )
    listed = re.search(r"rate_limit_path_transformations\s*=\s*\[([^\]]*)\]", alb)
    assert listed is not None
    rule = alb.split('name     = "rate-limit-${rule.key}"', 1)[1].split("visibility_config", 1)[0]
    assert "for_each = local.rate_limit_path_transformations" in rule
    assert "search_string         = rule.value.path" in rule
    return paths, re.findall(r'"(\w+)"', listed.group(1))


def test_the_waf_counts_encoded_credential_paths() -> None:
    # Werkzeug decodes the path before routing: /api/v1/auth/%6Cogin is the login endpoint, so a
    # rule matching the raw path lets a brute force through unlimited.
    paths, transformations = waf_rate_limits()
    apply: dict[str, Callable[[str], str]] = {
        "URL_DECODE": unquote,
        "LOWERCASE": str.lower,
        "NONE": str,
    }
    for raw in (
        "/api/v1/auth/%6Cogin",
        "/api/v1/auth/%6cogin",
        "/oauth2/%74oken",
        "/api/v1/auth/password%2Dreset",
    ):
        path = raw
        for transformation in transformations:
            path = apply[transformation](path)
        assert path in paths.values(), f"{raw} is not rate limited"


def test_the_waf_limits_every_path_the_gateway_limits_as_credentials() -> None:
    locations = (ROOT / "infra/nginx/locations.conf").read_text()
    limited = re.findall(r"location = (\S+) \{[^}]*limit_req zone=(?:login|token)\b", locations)
    assert "/api/v1/auth/password-reset" in limited
    paths, _ = waf_rate_limits()
    assert set(limited) <= set(paths.values())


def test_the_lag_runbook_names_the_metric_of_the_lag_alarm() -> None:
    monitoring = (ROOT / "infra/terraform/modules/monitoring/main.tf").read_text()
    alarm = monitoring.split('resource "aws_cloudwatch_metric_alarm" "kafka_consumer_lag"', 1)[1]
    metric = re.search(r"SELECT \w+\((\w+)\) FROM SCHEMA", alarm.split("\n}\n", 1)[0])
    assert metric is not None
    signal = (ROOT / "docs/runbooks/consumer-lag.md").read_text().split("**Look.**", 1)[0]
    assert re.findall(r"`(\w+OffsetLag)`", signal) == [metric.group(1)]


def test_notification_reads_its_own_writes_from_the_primary() -> None:
    # Marking all read then counting the unread, or paging from a `before=` anchor just written,
    # must not be answered by a secondary that has not replicated the write yet.
    secrets = (ROOT / "infra/terraform/envs/staging/secrets.tf").read_text()
    compose_secrets = (ROOT / "scripts/compose-secrets").read_text()
    for text in (secrets, compose_secrets):
        url = re.search(r'mongodb_url\s*=?\s*"(mongodb://.+)"$', text, flags=re.MULTILINE)
        assert url is not None
        assert set(re.findall(r"readPreference=(\w+)", url.group(1))) <= {"primary"}, url.group(1)
