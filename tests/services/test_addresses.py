"""Who the client is: the peer, or the X-Forwarded-For hop that the trusted proxies vouch for."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from wxserver.services.addresses import client_address

LOOPBACK = (ip_network("127.0.0.1/32"), ip_network("::1/128"))
TRUSTED = (*LOOPBACK, ip_network("10.0.0.0/8"))


@pytest.mark.parametrize(
    ("remote_addr", "forwarded_for", "expected"),
    [
        pytest.param("203.0.113.9", None, "203.0.113.9", id="direct-no-header"),
        pytest.param("203.0.113.9", "101.226.103.0", "203.0.113.9", id="untrusted-peer-spoofs"),
        pytest.param("127.0.0.1", None, "127.0.0.1", id="trusted-peer-no-header"),
        pytest.param("127.0.0.1", "", "127.0.0.1", id="trusted-peer-empty-header"),
        pytest.param("127.0.0.1", "203.0.113.9", "203.0.113.9", id="nginx-one-hop"),
        pytest.param(
            "127.0.0.1", "101.226.103.0, 203.0.113.9", "203.0.113.9", id="client-prepends-a-lie"
        ),
        pytest.param(
            "127.0.0.1", "203.0.113.9, 10.1.2.3", "203.0.113.9", id="through-two-trusted-proxies"
        ),
        pytest.param("127.0.0.1", "10.0.0.3, 10.0.0.2", "10.0.0.3", id="all-hops-trusted"),
        pytest.param(" 127.0.0.1 ", " 203.0.113.9 ,10.0.0.2 ", "203.0.113.9", id="whitespace"),
        pytest.param("127.0.0.1", "203.0.113.9:4711", "203.0.113.9", id="ipv4-with-port"),
        pytest.param("::1", "2001:db8::1", "2001:db8::1", id="ipv6-peer-and-client"),
        pytest.param("::1", "[2001:db8::1]:4711", "2001:db8::1", id="ipv6-bracketed-with-port"),
        pytest.param("::1", "2001:DB8:0::1", "2001:db8::1", id="ipv6-normalised"),
        pytest.param("::ffff:127.0.0.1", "203.0.113.9", "203.0.113.9", id="v4-mapped-peer"),
        pytest.param("127.0.0.1", "::ffff:203.0.113.9", "203.0.113.9", id="v4-mapped-client"),
        pytest.param("2001:db8::5", "203.0.113.9", "2001:db8::5", id="untrusted-ipv6-peer"),
        pytest.param("127.0.0.1", "unknown", "127.0.0.1", id="garbage-falls-back-to-peer"),
        pytest.param("127.0.0.1", "203.0.113.9, nonsense", "127.0.0.1", id="garbage-last-hop"),
        pytest.param("127.0.0.1", "nonsense, 203.0.113.9", "203.0.113.9", id="garbage-beyond"),
        pytest.param("127.0.0.1", "203.0.113.9,", "127.0.0.1", id="empty-last-hop"),
        pytest.param("127.0.0.1", "203.0.113.9:http", "127.0.0.1", id="port-not-a-number"),
        pytest.param("127.0.0.1", "[2001:db8::1", "127.0.0.1", id="unclosed-bracket"),
        pytest.param("127.0.0.1", "1" * 200, "127.0.0.1", id="overlong-entry"),
        pytest.param("127.0.0.1", "203.0.113.9/24", "127.0.0.1", id="network-is-no-address"),
        pytest.param("garbage", "203.0.113.9", "garbage", id="garbage-peer-never-trusted"),
        pytest.param("", "203.0.113.9", "", id="peer-without-address"),
    ],
)
def test_client_address_table(remote_addr: str, forwarded_for: str | None, expected: str) -> None:
    assert client_address(remote_addr, forwarded_for, TRUSTED) == expected


def test_client_address_without_trusted_proxies_is_always_the_peer() -> None:
    assert client_address("127.0.0.1", "203.0.113.9", ()) == "127.0.0.1"
