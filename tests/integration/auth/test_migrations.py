"""Auth's data migrations, run on a database of the release before them."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from shared.persistence.database import normalise_url
from shared.persistence.migrations import upgrade
from tests.support.infra import Infra, throwaway_database


@pytest.fixture
def database(infra: Infra) -> Iterator[str]:
    with throwaway_database(infra, "auth_migrations") as url:
        yield url


def test_published_keys_lose_key_ops_and_keep_use(database: str) -> None:
    upgrade("auth_service", database, revision="0004")
    # As PyJWT's to_jwk wrote them before.
    jwk = {"kty": "RSA", "n": "AQAB", "e": "AQAB", "key_ops": ["verify"], "kid": "k1"}
    jwk |= {"use": "sig", "alg": "RS256"}
    engine = create_engine(normalise_url(database))
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO signing_keys (kid, private_key_pem, public_jwk, status) "
                    "VALUES ('k1', 'x', CAST(:jwk AS jsonb), 'ACTIVE')"
                ),
                {"jwk": json.dumps(jwk)},
            )
        upgrade("auth_service", database)
        with engine.connect() as connection:
            stored = connection.execute(text("SELECT public_jwk FROM signing_keys")).scalar_one()
    finally:
        engine.dispose()
    assert stored == {k: v for k, v in jwk.items() if k != "key_ops"}
