"""Renders the nginx gateway configuration for the embedded one-host platform."""

from __future__ import annotations

import shutil
from pathlib import Path
from string import Template

from embedded.servers import ManagedProcess, spawn, wait_for_port

# Files of infra/nginx that the rendered configuration includes; they are copied next to it so
# the rendered directory is self-contained.
SHARED_FILES = ("http.conf", "locations.conf", "proxy_headers.conf", "security_headers.conf")
TEMPLATE = "embedded.conf.template"
# Upstream names that locations.conf routes to, one per HTTP service.
SERVICES = ("auth", "rewards", "redeem", "notification")
# Below gunicorn's default keep-alive (5 s), so nginx never reuses a connection being closed.
UPSTREAM_KEEPALIVE_TIMEOUT = "4s"

DEFAULT_NGINX_DIR = Path(__file__).resolve().parent.parent / "infra" / "nginx"


def render_gateway_config(
    listen_port: int,
    upstreams: dict[str, list[str]],
    workdir: Path,
    *,
    nginx_dir: Path = DEFAULT_NGINX_DIR,
    listen_address: str = "127.0.0.1",
) -> Path:
    """Write a ready nginx.conf under ``workdir`` and return its path.

    ``upstreams`` maps each service name (auth, rewards, redeem, notification) to its
    ``host:port`` addresses. Run the result with
    ``nginx -c <path> -p <workdir> -e <workdir>/logs/error.log -g 'daemon off;'``.
    """
    if not 0 < listen_port < 65536:
        raise ValueError(f"listen_port out of range: {listen_port}")
    missing = [name for name in SERVICES if not upstreams.get(name)]
    unknown = sorted(set(upstreams) - set(SERVICES))
    if missing or unknown:
        raise ValueError(
            f"upstreams must name exactly {SERVICES}; missing {missing}, unknown {unknown}"
        )

    workdir = workdir.resolve()
    for sub in ("logs", "tmp"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    for name in SHARED_FILES:
        shutil.copyfile(nginx_dir / name, workdir / name)

    template = Template((nginx_dir / TEMPLATE).read_text(encoding="utf-8"))
    config = template.substitute(
        workdir=str(workdir),
        listen_address=listen_address,
        listen_port=listen_port,
        upstreams=_render_upstreams(upstreams),
    )
    path = workdir / "nginx.conf"
    path.write_text(config, encoding="utf-8")
    return path


def _render_upstreams(upstreams: dict[str, list[str]]) -> str:
    blocks = []
    for name in SERVICES:
        servers = "".join(
            f"        server {_address(a)} max_fails=3 fail_timeout=5s;\n" for a in upstreams[name]
        )
        blocks.append(
            f"    upstream loyalty_{name} {{\n"
            f"        zone loyalty_{name} 64k;\n"
            f"{servers}"
            f"        keepalive 16;\n"
            f"        keepalive_timeout {UPSTREAM_KEEPALIVE_TIMEOUT};\n"
            f"    }}\n"
        )
    return "\n".join(blocks)


def _address(address: str) -> str:
    # Refuse anything that could smuggle extra nginx directives into the rendered file.
    if not address or any(ch in address for ch in " \t\n;{}'\"$"):
        raise ValueError(f"invalid upstream address: {address!r}")
    return address


def start_gateway(
    nginx: str, listen_port: int, service_ports: dict[str, int], workdir: Path, log_path: Path
) -> ManagedProcess:
    """Render the configuration for services on 127.0.0.1 and run nginx as a child process.

    Every route exists whether or not its service runs: one that does not answers 503 in the
    error envelope."""
    upstreams = {name: [f"127.0.0.1:{service_ports[name]}"] for name in SERVICES}
    config = render_gateway_config(listen_port, upstreams, workdir)
    workdir = workdir.resolve()
    managed = spawn(
        "gateway",
        [
            nginx,
            "-c",
            str(config),
            "-p",
            str(workdir),
            "-e",
            str(workdir / "logs" / "error.log"),
            "-g",
            "daemon off;",
        ],
        log_path,
    )
    wait_for_port(listen_port, 15, managed.process)
    return managed
