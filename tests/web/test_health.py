"""GET /healthz (liveness, no I/O) and GET /readyz (configuration and store)."""

from __future__ import annotations

import dataclasses
from contextlib import AbstractContextManager

import pytest
from flask import Flask

from tests.support import HERMETIC_ENV, config_with
from wxserver import create_app
from wxserver.services.store import MemoryStore
from wxserver.web import health


@pytest.fixture
def app() -> Flask:
    return create_app(config_with(), environ=HERMETIC_ENV)


class RecordingStore(MemoryStore):
    """A working store that counts the calls made to it."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def get(self, key: str) -> bytes | None:
        self.calls.append(f"get {key}")
        return super().get(key)

    def set(self, key: str, value: bytes, *, ttl: float) -> None:
        self.calls.append(f"set {key}")
        super().set(key, value, ttl=ttl)


class DownStore:
    """A store whose backend is unreachable; its error text holds a secret."""

    def _fail(self) -> None:
        raise ConnectionError("redis://:hunter2@10.0.0.5:6379 refused the connection")

    def get(self, key: str) -> bytes | None:
        self._fail()
        return None

    def set(self, key: str, value: bytes, *, ttl: float) -> None:
        self._fail()

    def add(self, key: str, value: bytes, *, ttl: float) -> bool:
        self._fail()
        return False

    def delete(self, key: str) -> None:
        self._fail()

    def incr(self, key: str, *, ttl: float) -> int:
        self._fail()
        return 0

    def lock(self, name: str, *, timeout: float, wait: float) -> AbstractContextManager[None]:
        self._fail()
        raise AssertionError


class ForgetfulStore(RecordingStore):
    """Accepts writes and loses them."""

    def get(self, key: str) -> bytes | None:
        self.calls.append(f"get {key}")
        return None


def _use_store(app: Flask, store: object) -> None:
    app.extensions["wxserver"] = dataclasses.replace(app.extensions["wxserver"], store=store)


@pytest.fixture
def recording(app: Flask) -> RecordingStore:
    store = RecordingStore()
    _use_store(app, store)
    return store


def test_health_liveness_is_ok(app: Flask) -> None:
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_data() == b"ok\n"
    assert response.content_type == "text/plain; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"


def test_health_liveness_touches_no_store(app: Flask, recording: RecordingStore) -> None:
    assert app.test_client().get("/healthz").status_code == 200
    assert recording.calls == []


def test_health_liveness_is_ok_while_the_store_is_down(app: Flask) -> None:
    _use_store(app, DownStore())
    assert app.test_client().get("/healthz").status_code == 200
    assert app.test_client().get("/readyz").status_code == 503


def test_health_readiness_is_ready_when_the_store_answers(
    app: Flask, recording: RecordingStore
) -> None:
    response = app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.get_data() == b"ready\n"
    assert response.headers["Cache-Control"] == "no-store"
    assert [call.split()[0] for call in recording.calls] == ["set", "get"]
    assert recording.calls[0].split()[1].startswith("health:probe:")


def test_health_readiness_store_error_is_503_naming_only_its_type(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    _use_store(app, DownStore())
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_data() == b"store unavailable: ConnectionError\n"
    assert response.content_type == "text/plain; charset=utf-8"
    # The full error reaches the log, for the operator.
    assert "hunter2" not in response.get_data(as_text=True)
    assert "refused the connection" in caplog.text


def test_health_readiness_store_that_loses_writes_is_503(app: Flask) -> None:
    _use_store(app, ForgetfulStore())
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_data() == b"store unavailable: a value written could not be read back\n"


def test_health_readiness_without_wxserver_state_is_503() -> None:
    bare = Flask("bare")
    bare.register_blueprint(health.blueprint)
    response = bare.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_data(as_text=True).startswith("not configured:")
    # Liveness does not depend on the configuration.
    assert bare.test_client().get("/healthz").status_code == 200


def test_health_readiness_account_without_endpoint_is_503(app: Flask) -> None:
    state = app.extensions["wxserver"]
    app.extensions["wxserver"] = dataclasses.replace(state, accounts={})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_data() == b"not configured: no callback endpoint for account default\n"


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_endpoints_answer_get_and_head_only(app: Flask, path: str) -> None:
    client = app.test_client()
    assert client.head(path).status_code == 200
    assert client.post(path).status_code == 405
