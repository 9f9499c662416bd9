"""The OAuth service: login states claimed once, the next-URL rule, and the signed openid token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest

from tests.fakewechat import APP_ID as FAKE_APP_ID
from tests.oauth_cases import ALLOWED_NEXT, DOMAINS, OPENID, REFUSED_NEXT
from tests.web_apps import SECRET
from wxserver.services.oauth import (
    InvalidStateError,
    InvalidTokenError,
    LoginStates,
    OAuthResult,
    OpenIdTokens,
    Scope,
    safe_next,
)
from wxserver.services.store import MemoryStore

# --- login states ---------------------------------------------------------------------------------


def test_oauth_states_are_claimed_once_and_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    states = LoginStates(MemoryStore(clock=lambda: now[0]), ttl=600)
    state = states.issue("default", Scope.USERINFO, "/next", "b" * 32)
    with pytest.raises(InvalidStateError, match="another browser"):
        states.consume("default", state, "c" * 32)
    with pytest.raises(InvalidStateError, match="already used"):
        states.consume("default", state, "b" * 32)
    fresh = states.issue("default", Scope.BASE, "/n", "b" * 32)
    pending = states.consume("default", fresh, "b" * 32)
    assert (pending.scope, pending.next_url) == (Scope.BASE, "/n")
    late = states.issue("default", Scope.BASE, "/n", "b" * 32)
    now[0] = 601.0
    with pytest.raises(InvalidStateError, match="expired"):
        states.consume("default", late, "b" * 32)


# --- the next URL ---------------------------------------------------------------------------------


@pytest.mark.parametrize("next_url", ALLOWED_NEXT)
def test_oauth_next_within_the_site_or_domains_is_allowed(next_url: str) -> None:
    assert safe_next(next_url, DOMAINS)


@pytest.mark.parametrize("next_url", REFUSED_NEXT)
def test_oauth_safe_next_refuses(next_url: str) -> None:
    assert not safe_next(next_url, DOMAINS)


# --- the signed token -----------------------------------------------------------------------------

RESULT = OAuthResult(openid=OPENID, unionid="u1", scope=Scope.BASE, account="default")


def test_oauth_token_round_trips_and_follows_its_documented_format() -> None:
    token = OpenIdTokens(SECRET, FAKE_APP_ID).dumps(RESULT)
    assert OpenIdTokens(SECRET, FAKE_APP_ID).loads(token) == RESULT
    # What a business page in another language does, from the docstring.
    payload, stamp, signature = token.split(".")
    key = hmac.new(SECRET.encode(), b"wxserver.oauth.openid", hashlib.sha256).digest()
    mac = hmac.new(key, f"{payload}.{stamp}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64encode(mac).rstrip(b"=").decode() == signature

    def unpad(text: str) -> bytes:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

    assert abs(int.from_bytes(unpad(stamp), "big") - time.time()) < 5
    assert json.loads(unpad(payload)) == {
        "appid": FAKE_APP_ID,
        "account": "default",
        "openid": OPENID,
        "unionid": "u1",
        "scope": "snsapi_base",
        "profile": None,
    }


def test_oauth_token_refuses_tampering_age_and_other_accounts() -> None:
    tokens = OpenIdTokens(SECRET, FAKE_APP_ID)
    token = tokens.dumps(RESULT)
    _, stamp, signature = token.split(".")
    claims = {"appid": FAKE_APP_ID, "openid": "someone-else", "scope": "snsapi_base"}
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    bad = [
        f"{forged}.{stamp}.{signature}",
        token[:-2],
        "garbage",
        OpenIdTokens("another-secret-0123456789", FAKE_APP_ID).dumps(RESULT),
        OpenIdTokens(SECRET, "wxanotherapp").dumps(RESULT),
    ]
    for candidate in bad:
        with pytest.raises(InvalidTokenError):
            tokens.loads(candidate)
    with pytest.raises(InvalidTokenError, match="expired"):
        tokens.loads(token, max_age=-1)
    with pytest.raises(ValueError, match="needs a secret"):
        OpenIdTokens("", FAKE_APP_ID)
