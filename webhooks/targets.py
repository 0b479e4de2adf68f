"""Where a webhook may be sent: the URL's form, and every address its host resolves to (SSRF protection).

An endpoint's URL is checked when it is registered and again before each delivery (DNS can change in
between); the delivery then connects to the very address that was checked (webhooks.transport), so a
name that resolves to a public address for the check and to a private one for the connection gets nowhere.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from django.conf import settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud instance metadata services (AWS, GCP, Azure, OpenStack...; AWS's IPv6 one): refused whatever the settings.
METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})


class TargetRefused(Exception):
    """The URL may not receive webhooks; the message says why, for the user who registered it."""


@dataclass(frozen=True)
class Target:
    """A checked URL: its parts, and the addresses its host resolved to, every one of them allowed."""

    url: SplitResult
    host: str
    port: int
    addresses: tuple[Address, ...]

    @property
    def path(self) -> str:
        """The request target: path and query, as the URL has them."""
        path = self.url.path or "/"
        return f"{path}?{self.url.query}" if self.url.query else path


def url_check(url: str) -> SplitResult:
    """The URL's parts if its form may receive webhooks (scheme, host, no credentials); raise TargetRefused."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port out of range)
    except ValueError:
        raise TargetRefused("Enter a valid URL.") from None
    schemes = ("https",) if settings.WEBHOOK_REQUIRE_HTTPS else ("https", "http")
    if parts.scheme not in schemes:
        raise TargetRefused(f"The URL must start with {' or '.join(s + '://' for s in schemes)}.")
    if not parts.hostname:
        raise TargetRefused("The URL must name a host.")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("The URL must not carry a user name or password; put a token in its path or query.")
    if parts.fragment:
        raise TargetRefused("The URL must not have a #fragment.")
    return parts


def address_refusal(address: Address) -> str | None:
    """Why webhooks may not go to this address, or None when they may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address_refusal(address.ipv4_mapped)  # ::ffff:127.0.0.1 is 127.0.0.1
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_multicast or address.is_unspecified:  # never one server's address
        return "a multicast address" if address.is_multicast else "an unspecified address"
    networks = settings.WEBHOOK_ALLOWED_NETWORKS
    if networks and not any(address in ipaddress.ip_network(network, strict=False) for network in networks):
        return "outside the networks this service sends webhooks to"
    if settings.WEBHOOK_ALLOW_PRIVATE:
        return None
    for kind in ("loopback", "link_local", "private", "reserved"):
        if getattr(address, f"is_{kind}"):
            return f"a {kind.replace('_', '-')} address"
    if not address.is_global:  # shared (100.64.0.0/10), documentation, benchmarking...
        return "not a public address"
    return None


def target_resolve(url: str) -> Target:
    """Check the URL and resolve its host; raise TargetRefused unless every address it has is allowed.

    Every address, not just the first: a name with a public and a private address could be sent to
    either, so one refused address refuses the name.
    """
    parts = url_check(url)
    host = parts.hostname
    assert host is not None  # url_check refuses a URL without one
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError, ValueError):  # ValueError: e.g. a NUL in the name
            raise TargetRefused(f"The host {host} could not be resolved.") from None
        # An IPv4 or IPv6 socket address's host is a str (typeshed allows the int of other families); scope ids
        # (fe80::1%eth0) are not part of the address.
        addresses = list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in found))
    for address in addresses:
        refusal = address_refusal(address)
        if refusal is not None:
            shown = host if literal is not None else f"{host} ({address})"
            raise TargetRefused(f"Webhooks cannot be sent to {shown}: it is {refusal}.")
    return Target(parts, host, port, tuple(addresses))
