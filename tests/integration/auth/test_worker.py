"""The auth worker's user-status consumer on the real broker: it reads auth's own events back
and applies them again — a revocation as it says, a status change as the database says now."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from auth_service.container import Container
from auth_service.worker import components
from shared.messaging.consumer import ConsumerRunner
from tests.integration.auth.conftest import register, unique_email
from tests.support.e2e import wait_until
from tests.support.infra import Infra
from tests.support.kafka import produce
from tests.support.user_status import status_changed, tokens_revoked


@pytest.fixture
def worker(auth_container: Container) -> Iterator[None]:
    [runner] = [c for c in components(auth_container) if isinstance(c, ConsumerRunner)]
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    yield
    runner.stop()
    thread.join(20)
    assert not thread.is_alive()


def set_status(auth_container: Container, user_id: str, status: str) -> None:
    with auth_container.core.database().begin() as connection:
        connection.execute(
            text("UPDATE users SET status = :s WHERE id = :u"), {"s": status, "u": user_id}
        )


def test_the_worker_applies_what_the_web_could_not_and_never_flips_a_newer_status(
    infra: Infra, auth_container: Container, client, worker: None
) -> None:
    accounts = auth_container.core.inactive_users()
    user = register(client, unique_email()).json["id"]
    unknown = str(uuid.uuid4())

    def send(record: dict[str, object], key: str) -> None:
        produce(infra.kafka_bootstrap, "user-status", record, key)

    def applied(sentinel: str) -> None:
        # Events of one key stay in order: once the sentinel's revocation is applied, so is
        # everything sent for that key before it.
        issued_before = int(time.time())
        send(tokens_revoked(sentinel, issued_before), sentinel)
        wait_until(
            lambda: accounts.tokens_revoked(sentinel, issued_before - 1),
            timeout=30,
            what="the revocation applied",
        )

    # Deactivated and committed, but Redis failed before the web could set the flag.
    set_status(auth_container, user, "INACTIVE")
    send(status_changed(user, "INACTIVE"), user)
    applied(user)
    assert accounts.is_inactive(user)

    # Reactivated since (flag cleared by the web): the old INACTIVE read late changes nothing.
    set_status(auth_container, user, "ACTIVE")
    accounts.mark(user, inactive=False)
    send(status_changed(user, "INACTIVE"), user)
    applied(user)
    assert not accounts.is_inactive(user)

    # An account auth does not know is nobody's to refuse.
    send(status_changed(unknown, "INACTIVE"), unknown)
    applied(unknown)
    assert not accounts.is_inactive(unknown)


def test_a_status_change_for_an_id_that_is_no_users_changes_nothing(
    auth_container: Container,
) -> None:
    events = auth_container.own_account_events()
    for account in ("x" * 64, "urn:uuid:" + "0" * 8, str(uuid.uuid4())):
        events.follow_status(account, client=False)  # nobody's: no error, nothing marked
        assert not auth_container.core.inactive_users().is_inactive(account)
