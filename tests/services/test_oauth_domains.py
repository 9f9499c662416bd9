"""The JS-SDK domain rule: which page URLs an account's JS-SDK domains cover."""

from __future__ import annotations

import pytest

from wxserver.services.oauth import domain_allows

DOMAINS = ["example.com", "example.org/mp", "dev.example.net:8080"]

ALLOWED = [
    "https://example.com/",
    "http://example.com",
    "https://EXAMPLE.com./a",
    "https://m.example.com/page",
    "https://a.b.example.com/page",
    "https://example.com:443/page",
    "http://example.com:80/page",
    "https://example.org/mp",
    "https://example.org/mp/article?id=1",
    "https://www.example.org/mp/",
    "http://dev.example.net:8080/x",
    "https://user@example.com/",
]
REFUSED = [
    "https://evilexample.com/",
    "https://example.com.evil.net/",
    "https://example.com@evil.net/",
    "https://example.com:8443/page",
    "http://example.com:443/page",
    "https://example.org/",
    "https://example.org/mpx",
    "http://dev.example.net/x",
    "http://dev.example.net:8081/x",
    "https://example.net/",
    "https://203.0.113.7/",
]


@pytest.mark.parametrize("url", ALLOWED)
def test_jssdk_domain_rule_allows(url: str) -> None:
    assert domain_allows(DOMAINS, url)


@pytest.mark.parametrize("url", REFUSED)
def test_jssdk_domain_rule_refuses(url: str) -> None:
    assert not domain_allows(DOMAINS, url)


def test_jssdk_domain_rule_tolerates_a_pasted_scheme() -> None:
    assert domain_allows(["https://example.com/"], "https://m.example.com/")
    assert not domain_allows(["example.com:http"], "https://example.com/")
