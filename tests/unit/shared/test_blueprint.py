"""Request schemas given as classes are built once, and parsing still validates every request."""

from __future__ import annotations

from typing import Any, ClassVar

from flask import Flask
from flask.views import MethodView
from flask_smorest import Api
from marshmallow import Schema, fields

from shared.web.blueprint import Blueprint


class CountingSchema(Schema):
    built: ClassVar[int] = 0
    points = fields.Integer(required=True, strict=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        type(self).built += 1
        super().__init__(*args, **kwargs)


def app() -> Flask:
    flask_app = Flask(__name__)
    flask_app.config.update(API_TITLE="t", API_VERSION="v1", OPENAPI_VERSION="3.0.3")
    api = Api(flask_app)
    blp = Blueprint("counting", __name__)

    @blp.route("/count")
    class Count(MethodView):
        @blp.arguments(CountingSchema)
        def post(self, args: dict[str, Any]) -> dict[str, Any]:
            return args

    api.register_blueprint(blp)
    return flask_app


def test_one_schema_instance_serves_every_request() -> None:
    client = app().test_client()
    built_before = CountingSchema.built
    answers = [client.post("/count", json={"points": n}) for n in range(5)]
    assert [a.json for a in answers] == [{"points": n} for n in range(5)]
    assert CountingSchema.built - built_before <= 1
    invalid = client.post("/count", json={"points": "many"})
    assert invalid.status_code == 422
