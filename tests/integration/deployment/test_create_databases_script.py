"""infra/postgres/create-databases.sh (the db-bootstrap task and the compose init step) against
the real PostgreSQL, with the statement logging of the RDS parameter group (log_statement=ddl):
it creates each role and database, is idempotent, and no logged statement holds a password."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pgserver
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support.infra import Infra

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "infra" / "postgres" / "create-databases.sh"
PSQL_DIR = Path(pgserver.__file__).parent / "pginstall" / "bin"


@pytest.fixture
def roles(infra: Infra) -> Iterator[list[str]]:
    names = [f"cdb_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    yield names
    engine = create_engine(infra.postgres_admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        for name in names:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            connection.execute(text(f'DROP ROLE IF EXISTS "{name}"'))
    engine.dispose()


def run_script(
    infra: Infra, roles: list[str], passwords: dict[str, str], user: str | None = None
) -> tuple[int, str]:
    url = make_url(infra.postgres_admin_url)
    env = {
        "PATH": f"{PSQL_DIR}{os.pathsep}{os.environ['PATH']}",
        "PGHOST": str(url.query.get("host") or url.host),
        "PGUSER": user or url.username or "postgres",
        "PGDATABASE": "postgres",
        # What RDS logs, sent back to this client too (LOG messages reach it at this level);
        # only a superuser may set log_statement for its session.
        "PGOPTIONS": ("" if user else "-c log_statement=ddl ") + "-c client_min_messages=log",
        "LOYALTY_DATABASES": " ".join(roles),
        **{f"{name.upper()}_DB_PASSWORD": pw for name, pw in passwords.items()},
    }
    if url.port:
        env["PGPORT"] = str(url.port)
    done = subprocess.run(
        [shutil.which("sh") or "/bin/sh", str(SCRIPT)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    return done.returncode, done.stdout + done.stderr


def test_roles_and_databases_are_made_without_logging_their_passwords(
    infra: Infra, roles: list[str]
) -> None:
    passwords = {name: f"pw-{uuid.uuid4().hex}" for name in roles}
    code, output = run_script(infra, roles, passwords)
    assert code == 0, output
    assert "statement: CREATE DATABASE" in output  # the DDL is logged, as on RDS
    for secret in passwords.values():
        assert secret not in output, output
    # Run again with new passwords (a rotation): the roles take them, still unlogged.
    rotated = {name: f"pw-{uuid.uuid4().hex}" for name in roles}
    code, output = run_script(infra, roles, rotated)
    assert code == 0, output
    for secret in rotated.values():
        assert secret not in output, output
    engine = create_engine(infra.postgres_admin_url)
    with engine.connect() as connection:
        for name, secret in rotated.items():
            stored = connection.execute(
                text("SELECT rolpassword FROM pg_authid WHERE rolname = :name AND rolcanlogin"),
                {"name": name},
            ).scalar_one()
            assert scram_matches(stored, secret)
            owner = connection.execute(
                text("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = :name"),
                {"name": name},
            ).scalar_one()
            assert owner == name
    engine.dispose()


def test_a_role_it_may_not_change_fails_the_script_without_showing_the_password(
    infra: Infra, roles: list[str]
) -> None:
    # An admin that is no superuser (as on RDS) may not alter a superuser role: the ALTER fails,
    # and its text, password included, must not come out as the error's context.
    admin, target = roles
    engine = create_engine(infra.postgres_admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE ROLE "{admin}" LOGIN CREATEROLE CREATEDB'))
        connection.execute(text(f'CREATE ROLE "{target}" SUPERUSER'))
    engine.dispose()
    secret = f"pw-{uuid.uuid4().hex}"
    code, output = run_script(infra, [target], {target: secret}, user=admin)
    assert code != 0
    assert "permission denied to alter role" in output
    assert secret not in output, output


def scram_matches(stored: str, password: str) -> bool:
    """Whether a SCRAM-SHA-256 verifier (RFC 5803, as PostgreSQL stores it) is ``password``'s."""
    method, rest = stored.split("$", 1)
    iterations_salt, keys = rest.split("$")
    iterations, salt = iterations_salt.split(":")
    stored_key = keys.split(":")[0]
    assert method == "SCRAM-SHA-256"
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(salt), int(iterations)
    )
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    return base64.b64encode(hashlib.sha256(client_key).digest()).decode() == stored_key
