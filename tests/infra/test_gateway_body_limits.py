"""The gateway refuses a body over a service's own limit before the service sees it: every
proxied route's ``client_max_body_size`` is that service's ``web.max_body_bytes``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
LOCATIONS = ROOT / "infra" / "nginx" / "locations.conf"
SERVICES = ("auth", "rewards", "redeem", "notification")
UNITS = {"": 1, "k": 1024, "m": 1024 * 1024}
BLOCK = re.compile(r"location\s+[^{]*\{(?P<body>[^}]*)\}", re.S)


def service_limit(service: str) -> int:
    settings = yaml.safe_load(
        (ROOT / f"{service}_service" / "config" / "application.yml").read_text()
    )
    return int(settings["web"]["max_body_bytes"])


def nginx_bytes(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kKmM]?)", value).groups()  # type: ignore[union-attr]
    return int(number) * UNITS[unit.lower()]


def proxied_routes() -> list[tuple[str, int | None]]:
    routes = []
    for block in BLOCK.finditer(LOCATIONS.read_text()):
        body = block.group("body")
        upstream = re.search(r"proxy_pass http://loyalty_(\w+);", body)
        if upstream is None:
            continue
        limit = re.search(r"client_max_body_size\s+(\w+);", body)
        routes.append((upstream.group(1), nginx_bytes(limit.group(1)) if limit else None))
    return routes


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_of_a_service_has_its_body_limit(service: str) -> None:
    limits = [limit for upstream, limit in proxied_routes() if upstream == service]
    assert limits, f"no route to {service}"
    assert set(limits) == {service_limit(service)}


def test_no_profile_overrides_a_body_limit() -> None:
    # The gateway has one value per service, so the profiles must not change it.
    for path in ROOT.glob("*_service/config/application-*.yml"):
        assert "max_body_bytes" not in path.read_text(), path
