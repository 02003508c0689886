"""Registration over HTTP against real PostgreSQL, with the event seen by a real Kafka consumer."""

from __future__ import annotations

import io
import threading

import pytest
from sqlalchemy import text

from shared.messaging.relay import OutboxRelay
from tests.integration.auth.conftest import bearer, register, unique_email
from tests.support.kafka import TopicProbe


@pytest.fixture
def relay(auth_container):
    relay = OutboxRelay(
        auth_container.core.database(), auth_container.core.producer(), "auth", poll_interval=0.2
    )
    thread = threading.Thread(target=relay.run, daemon=True)
    thread.start()
    yield relay
    relay.stop()
    thread.join(10)


def test_registration_publishes_player_registered_through_the_outbox(client, infra, relay):
    probe = TopicProbe(infra.kafka_bootstrap, "players")
    try:
        email = unique_email()
        response = client.post(
            "/api/v1/auth/register",
            json={
                "email": email,
                "password": "correct horse battery",
                "firstName": "Ann",
                "lastName": "Lee",
            },
            headers={"X-Correlation-ID": "reg-test-1"},
        )
        assert response.status_code == 201
        user = response.json
        assert user["email"] == email
        assert user["role"] == "player"
        assert "password" not in user
        assert "passwordHash" not in user
        record = probe.wait_for(lambda r: r["value"]["user_id"] == user["id"])[0]
    finally:
        probe.close()
    event = record["value"]
    assert record["key"] == user["id"]
    assert event["eventType"] == "PLAYER_REGISTERED"
    assert event["email"] == email
    assert event["firstName"] == "Ann"
    assert event["correlationId"] == "reg-test-1"
    assert record["headers"]["X-Correlation-ID"] == "reg-test-1"


def test_the_outbox_row_is_written_with_the_user(client, auth_container):
    user = register(client).json
    with auth_container.core.database().connect() as connection:
        rows = connection.execute(
            text("SELECT topic, message_key FROM outbox WHERE payload->>'user_id' = :u"),
            {"u": user["id"]},
        ).all()
    assert [(r.topic, r.message_key) for r in rows] == [("players", user["id"])]


def test_a_duplicate_email_is_a_conflict_whatever_its_case(client):
    email = unique_email()
    assert register(client, email).status_code == 201
    response = register(client, email.upper())
    assert response.status_code == 409
    assert response.json["error"]["code"] == "AUTH_EMAIL_ALREADY_REGISTERED"
    assert response.json["error"]["correlationId"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "password": "correct horse battery"}, "email"),
        ({"email": "a@example.com", "password": "short"}, "password"),
        ({"email": "a@example.com", "password": "x" * 129}, "password"),
        ({"email": "a@example.com"}, "password"),
        ({"email": "a@example.com", "password": "correct horse battery", "role": "admin"}, "role"),
        (
            {"email": "a@example.com", "password": "correct horse battery", "firstName": "x" * 101},
            "firstName",
        ),
        ({"email": ("x" * 250) + "@e.com", "password": "correct horse battery"}, "email"),
        # Addresses the PLAYER_REGISTERED schema would refuse after validation.
        ({"email": "x@ex\u00e4mple.com", "password": "correct horse battery"}, "email"),
        ({"email": "\u00e4@example.com", "password": "correct horse battery"}, "email"),
        ({"email": "x@localhost", "password": "correct horse battery"}, "email"),
        # Quoted or escaped local parts: other spellings of an unquoted mailbox.
        ({"email": '"x"@example.com', "password": "correct horse battery"}, "email"),
        ({"email": "x\\y@example.com", "password": "correct horse battery"}, "email"),
    ],
)
def test_invalid_bodies_are_refused_with_field_errors(client, body, field):
    response = client.post("/api/v1/auth/register", json=body)
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "VALIDATION_FAILED"
    assert field in error["details"]["json"]


PUNYCODE_ADDRESSES = ["rv1@xn--ls8h.la", "x@ex--ample.com", "x@xn--zz.com", "x@xn--bcher-kva.de"]


@pytest.mark.parametrize("email", PUNYCODE_ADDRESSES)
def test_an_address_with_a_punycode_or_double_hyphen_label_is_registered(
    client, admin_token, auth_container, email
):
    # Validation took them, then the event's "format": "email" refused them: a 500 after the
    # request was found valid.
    player = client.post(
        "/api/v1/auth/register", json={"email": email, "password": "a long passphrase"}
    )
    assert player.status_code == 201, player.get_data(as_text=True)
    with auth_container.core.database().connect() as connection:
        published = connection.execute(
            text("SELECT payload->>'email' FROM outbox WHERE message_key = :u"),
            {"u": player.json["id"]},
        ).scalar_one()
    assert published == email
    staff = client.post(
        "/api/v1/auth/register-staff",
        json={"email": f"staff.{email}", "password": "a long passphrase"},
        headers=bearer(admin_token),
    )
    assert staff.status_code == 201, staff.get_data(as_text=True)


@pytest.mark.parametrize(
    "email", ["x@-a.com", "x@a-.com", "x@a..com", "x@a.com.", "x@ex_ample.com", "x@localhost"]
)
def test_players_and_staff_are_held_to_the_one_rule(client, admin_token, email):
    for path, headers in [
        ("/api/v1/auth/register", {}),
        ("/api/v1/auth/register-staff", bearer(admin_token)),
    ]:
        answer = client.post(
            path, json={"email": email, "password": "a long passphrase"}, headers=headers
        )
        assert answer.status_code == 422, (path, answer.get_data(as_text=True))
        assert answer.json["error"]["code"] == "VALIDATION_FAILED"
        assert "email" in answer.json["error"]["details"]["json"]


@pytest.mark.parametrize("name", ["\u202eevil\n<script>", "Ann\r\nLee", "\x1b[2JAnn", "A\u2066B"])
def test_a_name_with_a_control_or_bidi_character_is_refused(client, admin_token, name):
    # Names travel in PLAYER_REGISTERED and are shown to staff; client names already refuse
    # line breaks.
    for path, headers in [
        ("/api/v1/auth/register", {}),
        ("/api/v1/auth/register-staff", bearer(admin_token)),
    ]:
        for field in ("firstName", "lastName"):
            body = {"email": unique_email(), "password": "a long passphrase", field: name}
            answer = client.post(path, json=body, headers=headers)
            assert answer.status_code == 422, (path, field, answer.get_data(as_text=True))
            assert answer.json["error"]["code"] == "AUTH_INVALID_NAME"


def test_a_name_that_looks_like_markup_is_kept_as_data(client):
    # Escaping is the job of whatever shows it.
    answer = register(client, firstName="<b>Ann</b>", lastName="O'Brien & <Lee>")
    assert answer.status_code == 201, answer.json
    assert (answer.json["firstName"], answer.json["lastName"]) == ("<b>Ann</b>", "O'Brien & <Lee>")


def test_a_weak_password_is_refused_by_the_policy(client):
    response = register(client, password="aaaaaaaaaaaaaaaa")
    assert response.status_code == 422
    assert response.json["error"]["code"] == "AUTH_WEAK_PASSWORD"


def test_malformed_json_is_a_bad_request_not_a_server_error(client):
    response = client.post(
        "/api/v1/auth/register", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json["error"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 5_000 + b"]" * 5_000,  # deeper than Python's parser follows
        b'{"a":' * 65 + b"1" + b"}" * 65,  # past the platform's limit of 64 levels
    ],
)
def test_deeply_nested_json_is_a_bad_request_not_a_server_error(client, body):
    response = client.post("/api/v1/auth/register", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json["error"]["code"] == "BAD_REQUEST"
    assert "nests deeper" in response.json["error"]["message"]


def test_a_huge_body_is_refused_before_it_is_read(client):
    response = client.post(
        "/api/v1/auth/register",
        data=b'{"email": "' + b"a" * 200_000 + b'"}',
        content_type="application/json",
    )
    assert response.status_code == 413
    assert response.json["error"]["code"] == "PAYLOAD_TOO_LARGE"


@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_a_chunked_body_over_the_limit_is_refused_not_parsed_cut_short(client, content_type):
    # No Content-Length to refuse it by: the body is read up to the limit and no further.
    body = b'{"email": "a@example.com", "password": "a long passphrase"}' + b" " * 100_000
    response = client.post(
        "/api/v1/auth/register",
        input_stream=io.BytesIO(body),
        content_type=content_type,
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert response.json["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_a_json_array_body_is_refused(client):
    response = client.post("/api/v1/auth/register", json=[1, 2, 3])
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        # Half of a surrogate pair: parsed by Python, never encodable as UTF-8.
        (
            b'{"email": "a@example.com", "firstName": "\\ud800"}',
            "application/json",
            422,
            "VALIDATION_FAILED",
        ),
        # Every JSON media type gets the checks, not only application/json.
        (
            b'{"email": "a@example.com", "firstName": "a\\u0000"}',
            "application/merge-patch+json",
            422,
            "VALIDATION_FAILED",
        ),
        (b'{"a":' * 65 + b"1" + b"}" * 65, "application/vnd.api+json", 400, "BAD_REQUEST"),
        # An integer Python refuses to convert (over 4,300 digits) is invalid JSON.
        (
            b'{"email": "a@example.com", "password": ' + b"9" * 5000 + b"}",
            "application/json",
            400,
            "BAD_REQUEST",
        ),
        # One name twice: read as its last value, the password would not be the one checked by
        # whatever read the first.
        (
            b'{"email": "a@example.com", "password": "first passphrase", "password": "x"}',
            "application/json",
            400,
            "BAD_REQUEST",
        ),
        # A body in another media type is not JSON "missing data".
        (
            b"email=a@example.com&password=correct+horse+battery",
            "application/x-www-form-urlencoded",
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (b'{"email": "a@example.com"}', "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"),
    ],
)
def test_unreadable_bodies_are_refused_in_the_envelope(client, body, content_type, status, code):
    response = client.post("/api/v1/auth/register", data=body, content_type=content_type)
    assert response.status_code == status
    assert response.json["error"]["code"] == code


def test_a_double_slash_is_a_not_found_in_the_envelope_not_a_redirect(client):
    response = client.get("/api/v1/auth//users", headers={"Host": "evil.example"})
    assert response.status_code == 404
    assert response.json["error"]["code"] == "NOT_FOUND"
    assert "Location" not in response.headers
