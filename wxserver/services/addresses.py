"""IP addresses as callers present them, and the client behind trusted proxies.

:func:`client_address` finds who really called. The TCP peer is believed always; the
``X-Forwarded-For`` header only when the peer is a trusted proxy (``WX_TRUSTED_PROXIES``, nginx on
this machine), and then only as far as the chain of trusted proxies reaches: walking the header
from the right, each trusted hop vouches for the one before it, and the first untrusted address is
the client. Anything to its left was written by the client and proves nothing. An entry that is
not an IP address ends the walk and the peer is used instead: a proxy that forwards garbage
cannot be taken at its word.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# No IP address, with brackets, a port and a zone, is longer; longer text is not parsed at all.
_MAX_ENTRY = 64


def parse_address(text: str) -> Address | None:
    """The IP address in ``text``, or None when it holds none.

    Accepts what proxies write into X-Forwarded-For: ``203.0.113.9``, ``203.0.113.9:4711``,
    ``2001:db8::1`` and ``[2001:db8::1]:4711``. An IPv4-mapped IPv6 address (``::ffff:1.2.3.4``,
    as a dual-stack socket reports IPv4 peers) becomes the IPv4 address, so that it matches the
    IPv4 entries of a list.
    """
    text = text.strip()
    if not text or len(text) > _MAX_ENTRY:
        return None
    if text.startswith("["):
        host, bracket, port = text[1:].partition("]")
        if not bracket or (port and not (port[:1] == ":" and port[1:].isdigit())):
            return None
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
        if not port.isdigit():
            return None
    else:
        host = text
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_network(text: str, *, strict: bool = True) -> Network:
    """An address (a one-address network) or a CIDR range; ValueError when it is neither.

    ``strict`` refuses host bits after the prefix (``10.0.0.1/8``), which in a setting is more
    likely a typing mistake than an intent; a list from WeChat is read leniently. An IPv4-mapped
    IPv6 range becomes the IPv4 range, as :func:`parse_address` does for addresses.
    """
    text = text.strip()
    network = ipaddress.ip_network(text, strict=strict)
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return ipaddress.IPv4Network(f"{mapped}/{network.prefixlen - 96}", strict=strict)
    return network


def within(address: Address, networks: Iterable[Network]) -> bool:
    return any(address in network for network in networks)


def client_address(remote_addr: str, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The client's address: the peer, or what trusted proxies in front of it say.

    ``remote_addr`` is the TCP peer (WSGI's REMOTE_ADDR), ``forwarded_for`` the X-Forwarded-For
    header (several headers joined by commas, as WSGI servers do). The result is a normalised
    address, or ``remote_addr`` unchanged when that is not an IP address (a unix socket has
    none); such a peer is never trusted.
    """
    peer = parse_address(remote_addr)
    if peer is None:
        return remote_addr
    if not forwarded_for or not within(peer, trusted):
        return str(peer)
    client = peer
    for hop in reversed(forwarded_for.split(",")):
        address = parse_address(hop)
        if address is None:
            # A trusted proxy passed on something that is no address: believe none of it.
            return str(peer)
        client = address
        if not within(address, trusted):
            break
    # Either the first untrusted hop, or, when every hop is a trusted proxy, the first of them.
    return str(client)


__all__ = ["Address", "Network", "client_address", "parse_address", "parse_network", "within"]
