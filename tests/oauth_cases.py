"""What the tests of the OAuth service and of its routes share: a user, domains, next URLs."""

from __future__ import annotations

OPENID = "oWxServerOAuthTestUser00000"
DOMAINS = ["example.com"]

REFUSED_NEXT = [
    "https://evil.example.net/",
    "//evil.example.net/",
    "///evil.example.net/",
    "/\\evil.example.net",
    "\\\\evil.example.net",
    "/\t/evil.example.net",
    "javascript:alert(1)",
    "data:text/html,hi",
    "https://example.com.evil.net/",
    "https://evilexample.com/",
    "https://example.com@evil.net/",
    "http://example.com:8080/",
    "evil.example.net/path",
    "ftp://example.com/",
]
ALLOWED_NEXT = [
    "/",
    "/a/b?c=d#e",
    "https://example.com/x",
    "http://example.com/",
    "https://m.example.com/",
]
