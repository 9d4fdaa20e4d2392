"""Where a delivery may go: an http(s) URL whose host resolves, once, to addresses that are all
public, unless an operator allow-lists their networks (``LOCKER_CLOUD_WEBHOOK_ALLOW``). The
checked address is the one connected to (``Target.ip``), with the name kept for the Host header
and TLS SNI: a name that resolves elsewhere a moment later (DNS rebinding) changes nothing.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from cloud.services.errors import Invalid

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
URL_MAX = 2048
# IPv6 prefixes that carry an IPv4 address to a gateway: NAT64 (RFC 6052, 8215) and the old
# IPv4-compatible form; 6to4 and IPv4-mapped addresses have properties of their own
_CARRYING_V4 = (
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("64:ff9b:1::/48"),
    ipaddress.IPv6Network("::/96"),
)


class Refused(Exception):
    """A target this server will not connect to (the reason is safe to show its carrier)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # the name, for Host and SNI
    port: int
    ip: str  # the address checked, and connected to
    path: str  # path and query

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 literal
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def pinned_url(self) -> str:
        ip = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{self.scheme}://{ip}:{self.port}{self.path}"


def check_url(url: str) -> str:
    """An endpoint's URL as given, if it can be one: http(s), a host, no user or password."""
    if len(url) > URL_MAX:
        raise Invalid(f"the URL is longer than {URL_MAX} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        raise Invalid("not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("the URL must be http:// or https:// with a host")
    if parts.username is not None or parts.password is not None:
        raise Invalid("no user or password in the URL: verify our signature instead")
    return url


def networks(allowed: Sequence[str]) -> list[Network]:
    return [ipaddress.ip_network(n, strict=False) for n in allowed]


def is_public(address: Address) -> bool:
    """Global, not multicast, and so is any IPv4 address it reaches through a gateway (Python
    3.11 calls 64:ff9b::a9fe:a9fe, NAT64's way to 169.254.169.254, global)."""
    if not address.is_global or address.is_multicast:
        return False
    inner = embedded(address)
    return inner is None or is_public(inner)


def embedded(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one leads to (mapped, 6to4, NAT64, compatible), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None or address.sixtofour is not None:
        return address.ipv4_mapped or address.sixtofour
    if any(address in prefix for prefix in _CARRYING_V4):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def resolve(url: str, allowed: Sequence[Network]) -> Target:
    """Resolve ``url``'s host once; Refused if any address is not public and not allow-listed."""
    parts = urlsplit(check_url(url))
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname or ""
    try:
        host = host.encode("idna").decode("ascii")  # Host and SNI are ASCII: 例子.中国 as xn--
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Refused(f"{host} does not resolve: {exc}") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        if not is_public(address) and not any(address in n for n in allowed):
            raise Refused(
                f"{host} resolves to {address}, a private, loopback or link-local address"
            )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port, str(addresses[0]), path)
