"""Operations on the identity service: ``python -m auth_service.manage <command>``.

migrate                       apply the Alembic migrations; then, when WALLET_CLIENT_SECRET is
                              set, make the wallet client (WALLET_CLIENT_ID, default
                              rewards-service) work with that secret: registered when missing,
                              its secret replaced when it differs
seed                          create the admin account and partner clients when missing;
                              prints the new credentials once, as JSON
rotate-keys                   make a new signing key active; refused (exit 1, nothing written)
                              when the key-encryption secret this command runs with cannot
                              decrypt the active key: run it with the platform's secret.
                              --replace-unreadable-key: make the new key all the same, to
                              recover when the active key was made with another secret
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from typing import Any

from auth_service.application.commands import CreateClient, RegisterUser
from auth_service.container import Container, build_container
from auth_service.domain.exceptions import SigningKeyUnreadable
from shared.domain.exceptions import Conflict
from shared.domain.principal import Role
from shared.observability.logging import configure_logging
from shared.persistence.migrations import upgrade

WALLET_CLIENT_ID = "rewards-service"
PARTNER_SCOPES = ["rewards.read", "rewards.write", "rewards.redeem"]
# client id: (name, scopes, the kinds of events it sends)
DEFAULT_CLIENTS: dict[str, tuple[str, list[str], list[str]]] = {
    "hotel": ("Hotel", PARTNER_SCOPES, ["HOTEL"]),
    "casino": ("Casino", PARTNER_SCOPES, ["CASINO"]),
    "dining": ("Dining", PARTNER_SCOPES, ["DINING"]),
    WALLET_CLIENT_ID: ("Rewards service (wallet calls)", ["wallet.write"], []),
}


def migrate(_: argparse.Namespace) -> None:
    container = build_container()
    upgrade("auth_service", container.config()["database"]["url"])
    secret = os.environ.get("WALLET_CLIENT_SECRET")
    if secret:
        provision_wallet_client(
            container, os.environ.get("WALLET_CLIENT_ID") or WALLET_CLIENT_ID, secret
        )
    container.shutdown_resources()


def provision_wallet_client(container: Container, client_id: str, secret: str) -> None:
    """The deployment keeps the wallet client's secret in its secret store and gives it to
    rewards; auth's migrate job makes the client work with it, so nobody copies a secret by
    hand from an API answer."""
    name, scopes, _ = DEFAULT_CLIENTS[WALLET_CLIENT_ID]
    outcome = container.client_service().provision(
        CreateClient(name=name, scopes=frozenset(scopes), client_id=client_id, secret=secret),
        actor="deployment",
    )
    print(json.dumps({"walletClient": client_id, "outcome": outcome}))


def seed(args: argparse.Namespace) -> None:
    container = build_container()
    accounts = container.account_service()
    clients = container.client_service()
    created: dict[str, Any] = {"admin": None, "clients": {}}
    password = args.admin_password or secrets.token_urlsafe(18)
    try:
        accounts.register(
            RegisterUser(
                email=args.admin_email,
                password=password,
                first_name="Platform",
                last_name="Admin",
                role=Role.ADMIN,
            )
        )
        created["admin"] = {"email": args.admin_email, "password": password}
    except Conflict:
        pass
    for client_id, (name, scopes, sources) in DEFAULT_CLIENTS.items():
        if clients.get(client_id) is not None:
            continue
        credentials = clients.create(
            CreateClient(
                name=name,
                scopes=frozenset(scopes),
                client_id=client_id,
                event_sources=frozenset(sources),
            ),
            actor="seed",
        )
        created["clients"][client_id] = {
            "clientId": client_id,
            "clientSecret": credentials.secret,
            "scopes": sorted(scopes),
            **({"eventSources": sources} if sources else {}),
        }
    container.key_service().ensure_active()
    json.dump(created, sys.stdout)
    sys.stdout.write("\n")
    container.shutdown_resources()


def rotate_keys(args: argparse.Namespace) -> None:
    container = build_container()
    try:
        key = container.key_service().rotate(replace_unreadable=args.replace_unreadable_key)
    except SigningKeyUnreadable as exc:
        sys.stderr.write(
            f"rotate-keys: {exc.message}\n"
            "Run it with the AUTH_KEY_ENCRYPTION_SECRET the platform runs with. If the platform "
            "itself cannot decrypt it (login answers 503 AUTH_SIGNING_KEY_UNREADABLE), see "
            "docs/runbooks/key-rotation.md: --replace-unreadable-key.\n"
        )
        sys.exit(1)
    finally:
        container.shutdown_resources()
    print(json.dumps({"kid": key.kid, "status": key.status.value}))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="auth_service.manage",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate").set_defaults(run=migrate)
    seed_parser = commands.add_parser("seed")
    seed_parser.add_argument("--admin-email", default="admin@loyalty.local")
    seed_parser.add_argument("--admin-password", default=None)
    seed_parser.set_defaults(run=seed)
    rotate_parser = commands.add_parser("rotate-keys")
    rotate_parser.add_argument(
        "--replace-unreadable-key",
        action="store_true",
        help="make the new key even if the active one cannot be decrypted with this secret",
    )
    rotate_parser.set_defaults(run=rotate_keys)
    args = parser.parse_args(argv)
    configure_logging("auth-manage", level="WARNING")
    args.run(args)


if __name__ == "__main__":
    main()
