"""Claims need the wallet: the redeem fixtures (real wallet servicer, PostgreSQL, test JWKS)
are shared here."""

from tests.integration.redeem.conftest import (  # noqa: F401 - fixtures
    _clean_redeem,
    jwks,
    redeem_container,
    redeem_database,
    signer,
)
