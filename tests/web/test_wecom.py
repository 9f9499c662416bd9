"""WeCom (企业微信) callbacks: the official vectors through the whole app, and shared handlers."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.support import AES_KEY, TOKEN, AppFactory, config_with, load_vector
from wxserver.testing import WeChatTestClient, build_message, open_reply

VECTORS = ["official__wecom_official_sample_qdg6ek", "official__wecom_official_sample_python"]


def wecom_app(make_app: AppFactory, vector: dict[str, Any]) -> Flask:
    return make_app(
        kind="wecom",
        mode="secure",
        token=vector["token"],
        app_id=vector["receive_id_corpid"],
        encoding_aes_key=vector["encoding_aes_key"],
        timestamp_tolerance=0,
    )


@pytest.mark.parametrize("name", VECTORS)
def test_wecom_handshake_answers_the_decrypted_echostr(make_app: AppFactory, name: str) -> None:
    vector = load_vector(name)
    verify = vector["verify_url"]
    query = {
        "msg_signature": verify["msg_signature"],
        "timestamp": verify["timestamp"],
        "nonce": verify["nonce"],
        "echostr": verify["echostr_urldecoded"],
    }
    response = wecom_app(make_app, vector).test_client().get("/wechat", query_string=query)
    assert response.status_code == 200
    # No quotes, BOM or newline: WeCom compares the body to the plaintext exactly.
    assert response.get_data() == verify["expected_response_body"].encode()


def test_wecom_handshake_raw_query_string_vector(make_app: AppFactory) -> None:
    vector = load_vector("official__wecom_official_sample_qdg6ek")
    app = wecom_app(make_app, vector)
    response = app.test_client().get("/wechat?" + vector["verify_url"]["query"])
    assert response.get_data() == vector["verify_url"]["expected_response_body"].encode()


@pytest.mark.parametrize("name", VECTORS)
def test_wecom_handshake_wrong_signature_is_403(make_app: AppFactory, name: str) -> None:
    vector = load_vector(name)
    verify = vector["verify_url"]
    query = {
        "msg_signature": "0" * 40,
        "timestamp": verify["timestamp"],
        "nonce": verify["nonce"],
        "echostr": verify["echostr_urldecoded"],
    }
    response = wecom_app(make_app, vector).test_client().get("/wechat", query_string=query)
    assert response.status_code == 403


@pytest.mark.parametrize("name", VECTORS)
def test_wecom_official_message_decrypts_and_gets_an_encrypted_echo(
    make_app: AppFactory, name: str
) -> None:
    vector = load_vector(name)
    sample = vector["decrypt_msg"]
    app = wecom_app(make_app, vector)
    query = {k: sample[k] for k in ("msg_signature", "timestamp", "nonce")}
    response = app.test_client().post("/wechat", query_string=query, data=sample["post_body_xml"])
    account = app.extensions["wxserver"].settings.account("default")
    result = open_reply(account, response.status_code, response.get_data(), response.content_type)
    assert result.encrypted
    expected = "hello" if "hello" in sample["expected_plaintext_xml"] else "你好"
    assert result.content == f"{expected}\nseen 1"


def test_wecom_message_for_another_corp_is_refused(make_app: AppFactory) -> None:
    vector = load_vector("official__wecom_official_sample_qdg6ek")
    vector["receive_id_corpid"] = "wwsomeothercorp"
    sample = vector["decrypt_msg"]
    app = wecom_app(make_app, vector)
    query = {k: sample[k] for k in ("msg_signature", "timestamp", "nonce")}
    response = app.test_client().post("/wechat", query_string=query, data=sample["post_body_xml"])
    assert response.status_code == 400
    assert b"-40005" in response.get_data()


def test_wecom_message_keeps_agent_id_and_same_handlers_serve_both_kinds(
    make_app: AppFactory,
) -> None:
    config = config_with()
    config["accounts"]["corp"] = {
        "path": "/wecom",
        "kind": "wecom",
        "token": TOKEN,
        "app_id": "ww0000000000corp",
        "encoding_aes_key": AES_KEY,
    }
    app = make_app(config)
    mp = WeChatTestClient(app)
    corp = WeChatTestClient(app, "corp")
    assert mp.send_text("to mp").content == "to mp\nseen 1"
    handshake_status, _ = corp.handshake("42")
    assert handshake_status == 200
    assert corp.handshake("4242")[1] == b"4242"
    xml = build_message("text", Content="to corp", to_user="ww0000000000corp", AgentID=1000002)
    result = corp.post(xml)
    assert result.encrypted
    assert result.content == "to corp\nseen 1"
    assert result.fields["FromUserName"] == "ww0000000000corp"


def test_wecom_plaintext_request_is_refused(make_app: AppFactory) -> None:
    config = config_with(kind="wecom", mode="secure")
    app = make_app(config)
    response = app.test_client().post(
        "/wechat",
        query_string={"signature": "x", "timestamp": "1", "nonce": "1"},
        data=build_message("text", Content="x"),
    )
    assert response.status_code == 400
    assert b"msg_signature" in response.get_data()
