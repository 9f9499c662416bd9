"""The callback IP allow-list in the app: the 403, its log line and counters, under gunicorn too.

The list comes from the fake WeChat API's getcallbackip.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from tests.fakewechat import APP_ID as FAKE_APP_ID
from tests.fakewechat import APP_SECRET as FAKE_APP_SECRET
from tests.fakewechat import CALLBACK_IPS, FakeWeChat
from tests.servers import gunicorn
from tests.support import AES_KEY, TOKEN, AppFactory, config_with
from wxserver.services.allowlist import CallbackAllowlist
from wxserver.services.config import load_settings
from wxserver.services.store import open_store
from wxserver.services.tokens import connect
from wxserver.testing import build_message, sign_handshake, sign_request

PATH = "/cgi-bin/getcallbackip"
INSIDE = CALLBACK_IPS[0]  # 101.226.103.0
OUTSIDE = "198.51.100.7"  # TEST-NET-2: never one of WeChat's


def _scrape(app: Flask, name: str, **labels: str) -> float:
    text = app.test_client().get("/internal/metrics").get_data(as_text=True)
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def _config(fake: FakeWeChat, **settings: Any) -> dict[str, Any]:
    config = config_with(app_id=FAKE_APP_ID, app_secret=FAKE_APP_SECRET)
    config["api_base_url"] = fake.url
    config.update(settings)
    return config


def _post(app: Flask, remote_addr: str, forwarded_for: str | None = None) -> Any:
    account = app.extensions["wxserver"].settings.account("default")
    signed = sign_request(account, build_message("text", Content="hi"), account.mode)
    return app.test_client().post(
        account.path,
        query_string=signed.query,
        data=signed.body,
        environ_base={"REMOTE_ADDR": remote_addr},
        headers={} if forwarded_for is None else {"X-Forwarded-For": forwarded_for},
    )


@pytest.fixture
def guarded(make_app: AppFactory) -> Iterator[Flask]:
    """An app with the allow-list on, its list already fetched from the fake platform."""
    with FakeWeChat() as running:
        app = make_app(_config(running, callback_ip_allowlist=True))
        assert app.extensions["wxserver"].allowlist.refresh() is True
        yield app


@pytest.mark.parametrize(
    ("remote_addr", "forwarded_for", "status"),
    [
        pytest.param(INSIDE, None, 200, id="wechat-direct"),
        pytest.param("127.0.0.1", CALLBACK_IPS[2], 200, id="wechat-through-nginx"),
        pytest.param("::1", CALLBACK_IPS[1], 200, id="wechat-through-nginx-ipv6"),
        pytest.param(OUTSIDE, None, 403, id="stranger-direct"),
        pytest.param(OUTSIDE, INSIDE, 403, id="stranger-spoofs-the-header"),
        pytest.param("127.0.0.1", f"{INSIDE}, {OUTSIDE}", 403, id="stranger-prepends"),
        pytest.param("127.0.0.1", "not-an-address", 403, id="garbage-header"),
        pytest.param("127.0.0.1", None, 403, id="local-without-header"),
    ],
)
def test_allowlist_in_the_app(
    guarded: Flask, remote_addr: str, forwarded_for: str | None, status: int
) -> None:
    response = _post(guarded, remote_addr, forwarded_for)
    assert response.status_code == status
    if status == 200:
        assert response.get_data()  # the echo's encrypted reply
    else:
        assert response.content_type.startswith("text/plain")
        assert "not in WeChat's callback IP list" in response.get_data(as_text=True)


def test_allowlist_refusal_is_logged_with_the_address_and_counted(
    guarded: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="wxserver.request"):
        assert _post(guarded, "127.0.0.1", OUTSIDE).status_code == 403
    (record,) = [r for r in caplog.records if r.name == "wxserver.request"]
    assert record.levelno == logging.WARNING
    assert OUTSIDE in record.getMessage()
    assert "outcome=ForbiddenAddressError status=403" in record.getMessage()
    refused = _scrape(
        guarded, "wxserver_refused_total", stage="request", error="ForbiddenAddressError"
    )
    assert refused == 1
    assert _scrape(guarded, "wxserver_requests_total", outcome="ForbiddenAddressError") == 1


def test_allowlist_is_checked_before_the_signature(guarded: Flask) -> None:
    account = guarded.extensions["wxserver"].settings.account("default")
    client = guarded.test_client()
    forged = sign_handshake(account, "echo")
    forged["signature"] = "0" * 40
    outside = client.get(account.path, query_string=forged, environ_base={"REMOTE_ADDR": OUTSIDE})
    inside = client.get(account.path, query_string=forged, environ_base={"REMOTE_ADDR": INSIDE})
    assert outside.status_code == inside.status_code == 403
    assert "callback IP list" in outside.get_data(as_text=True)
    assert "signature" in inside.get_data(as_text=True)
    assert _scrape(guarded, "wxserver_refused_total", stage="request") == 1
    assert _scrape(guarded, "wxserver_refused_total", stage="signature") == 1
    handshake = client.get(
        account.path,
        query_string=sign_handshake(account, "hello"),
        environ_base={"REMOTE_ADDR": INSIDE},
    )
    assert handshake.get_data() == b"hello"


def test_allowlist_is_off_by_default_and_calls_no_api(make_app: AppFactory) -> None:
    with FakeWeChat() as fake:
        app = make_app(_config(fake))
        assert app.extensions["wxserver"].allowlist is None
        assert _post(app, OUTSIDE).status_code == 200
        assert _post(app, "127.0.0.1", OUTSIDE).status_code == 200
        assert fake.calls(PATH) == 0


def test_allowlist_fails_open_in_the_app_when_the_api_is_down(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with FakeWeChat() as fake, caplog.at_level(logging.WARNING, logger="wxserver.allowlist"):
        fake.inject(PATH, status=503)
        app = make_app(_config(fake, callback_ip_allowlist=True))
        assert _post(app, OUTSIDE).status_code == 200
        assert app.extensions["wxserver"].allowlist.join(10)
        assert fake.calls(PATH) == 1
    name = "wxserver_callback_allowlist_events_total"
    assert _scrape(app, name, event="fail_open") == 1
    assert _scrape(app, name, event="refresh_failed") == 1
    assert any(OUTSIDE in r.getMessage() and "unchecked" in r.getMessage() for r in caplog.records)


def test_allowlist_applies_to_official_accounts_only(make_app: AppFactory) -> None:
    with FakeWeChat() as fake:
        config = _config(fake, callback_ip_allowlist=True)
        config["accounts"]["corp"] = {
            "path": "/wecom",
            "kind": "wecom",
            "token": TOKEN,
            "app_id": "ww0000000000testcorp",
            "encoding_aes_key": AES_KEY,
        }
        app = make_app(config)
        assert app.extensions["wxserver"].allowlist.refresh() is True
    corp = app.extensions["wxserver"].settings.account("corp")
    signed = sign_request(corp, build_message("text", Content="hi", AgentID=1), "secure")
    response = app.test_client().post(
        corp.path,
        query_string=signed.query,
        data=signed.body,
        environ_base={"REMOTE_ADDR": OUTSIDE},
    )
    # WeCom calls from addresses getcallbackip does not list: its callbacks are not checked.
    assert response.status_code == 200
    assert _post(app, OUTSIDE).status_code == 403


def test_allowlist_under_gunicorn_workers_uses_the_shared_list(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    env = {
        "WX_ENV": "test",
        "WX_TOKEN": TOKEN,
        "WX_APPID": FAKE_APP_ID,
        "WX_APPSECRET": FAKE_APP_SECRET,
        "WX_ENCODING_AES_KEY": AES_KEY,
        "WX_MODE": "compat",
        "WX_PLUGINS": "wxserver.builtin.echo:handlers",
        "WX_LOAD_ENTRY_POINTS": "false",
        "WX_CALLBACK_IP_ALLOWLIST": "true",
        "WX_STORE_URL": store_url,
    }
    account = load_settings(env).account("default")
    with FakeWeChat() as fake:
        env["WX_API_BASE_URL"] = fake.url
        # Fetched today by some process (the CLI, another machine): the workers only read it.
        store = open_store(store_url)
        with connect(store, FAKE_APP_ID, FAKE_APP_SECRET, base_urls=fake.url) as api:
            assert CallbackAllowlist(store, api.callback_ips).refresh() is True
        statuses: dict[str, set[int]] = {"inside": set(), "outside": set(), "local": set()}
        with gunicorn(env, workers=2) as server, httpx.Client(timeout=10) as http:
            for _ in range(10):
                for name, forwarded in (("inside", INSIDE), ("outside", OUTSIDE), ("local", None)):
                    signed = sign_request(account, build_message("text", Content="x"), "compat")
                    headers = {} if forwarded is None else {"X-Forwarded-For": forwarded}
                    response = http.post(
                        server.url + account.path,
                        params=signed.query,
                        content=signed.body,
                        headers=headers,
                    )
                    statuses[name].add(response.status_code)
        assert fake.calls(PATH) == 1
    assert statuses == {"inside": {200}, "outside": {403}, "local": {403}}
