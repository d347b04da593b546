"""The client's address: from X-Forwarded-For only when the request came through a trusted proxy."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from fastapi import Request


@lru_cache(maxsize=16)
def _networks(trusted: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in trusted)


def _is_trusted(address: str, trusted: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(trusted))


def client_ip(request: Request) -> str:
    peer = request.client.host if request.client else "unknown"
    trusted = tuple(request.app.state.settings.trusted_proxies)
    if not trusted or not _is_trusted(peer, trusted):
        # A forged header from an untrusted client is ignored: throttling keys on the real peer.
        return peer
    forwarded = [
        part.strip() for part in request.headers.get("x-forwarded-for", "").split(",") if part.strip()
    ]
    # Walk from the nearest hop back; the first address that is not one of our proxies is the client.
    for address in reversed(forwarded):
        if not _is_trusted(address, trusted):
            return address
    return forwarded[0] if forwarded else peer
