"""Claims need the wallet: the redeem fixtures (real wallet servicer, PostgreSQL, test JWKS)
and the rewards ones (its own database) are shared here, with a token endpoint for the wallet's
client."""

from collections.abc import Iterator

import pytest

from tests.integration.redeem.conftest import (  # noqa: F401 - fixtures
    _clean_redeem,
    jwks,
    redeem_container,
    redeem_database,
    signer,
)
from tests.integration.rewards.conftest import (  # noqa: F401 - fixtures
    rewards_container,
    rewards_database,
    signing_key,
)
from tests.support.tokens import TestSigner, TokenEndpoint

CLIENT_ID, CLIENT_SECRET = "rewards-service", "a-test-secret"


@pytest.fixture(scope="package")
def token_endpoint(signer: TestSigner) -> Iterator[TokenEndpoint]:  # noqa: F811
    endpoint = TokenEndpoint(signer, CLIENT_ID, CLIENT_SECRET)
    yield endpoint
    endpoint.stop()
