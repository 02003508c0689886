"""The auth worker's user-status consumer on the real broker: it applies auth's own token
revocations (in case the web could not right after its commit), and nothing else."""

from __future__ import annotations

import threading
import time
import uuid

from auth_service.container import Container
from auth_service.worker import components
from shared.messaging.consumer import ConsumerRunner
from tests.support.e2e import wait_until
from tests.support.infra import Infra
from tests.support.kafka import produce
from tests.support.user_status import status_changed, tokens_revoked


def test_the_worker_applies_revocations_and_leaves_account_status_to_the_web(
    infra: Infra, auth_container: Container
) -> None:
    [runner] = [c for c in components(auth_container) if isinstance(c, ConsumerRunner)]
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    accounts = auth_container.core.inactive_users()
    account = str(uuid.uuid4())
    issued_before = int(time.time())
    try:
        produce(infra.kafka_bootstrap, "user-status", status_changed(account, "INACTIVE"), account)
        produce(
            infra.kafka_bootstrap, "user-status", tokens_revoked(account, issued_before), account
        )
        wait_until(
            lambda: accounts.tokens_revoked(account, issued_before - 1),
            timeout=30,
            what="the revocation applied",
        )
        assert not accounts.tokens_revoked(account, issued_before)
        assert not accounts.is_inactive(account)  # auth sets status flags itself
    finally:
        runner.stop()
        thread.join(20)
    assert not thread.is_alive()
