"""Channel targets: what ``Channel(target)`` connects to, parsed once, here.

The grammar is gRPC's (grpc/grpc ``doc/naming.md``), a URI ``scheme:[//authority/]endpoint``
whose scheme names the resolver:

- ``dns:[//authority/]host[:port]``: a host name or address, resolved through DNS. The
  port defaults to 443. An IPv6 address is written in brackets: ``dns:///[::1]:50051``.
  grpcx resolves through the system, so a DNS server as ``authority`` is refused.
- ``ipv4:address[:port][,address[:port],...]``: IPv4 addresses (port 443 by default).
- ``ipv6:address[:port][,address[:port],...]``: IPv6 addresses, in brackets when a port
  follows: ``ipv6:[::1]:50051``, ``ipv6:::1``.
- ``unix:path`` (relative or absolute) and ``unix://absolute_path`` (three slashes in
  all: ``unix:///run/app.sock``): a Unix domain socket.
- ``unix-abstract:name``: a socket in Linux's abstract namespace (the leading NUL byte
  is added here).

A target without a scheme, or whose scheme is not one of these, is taken whole as the
endpoint of a ``dns`` target, as naming.md says: ``localhost:50051`` is
``dns:localhost:50051``. So ``http://localhost:50051`` is the host ``http`` with the
port ``//localhost:50051``, which is refused (with a hint to drop ``http://``).

Everything is checked when the target is parsed (the port is 1-65535, addresses are
addresses, ...): a bad target fails when the channel is made, naming itself, instead of
at the first call.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

__all__ = ["DEFAULT_PORT", "Target", "TargetError", "parse_target"]

DEFAULT_PORT = 443
"""The port of a target that names none (naming.md)."""

ACCEPTED_FORMS = (
    "host:port, dns:///host:port, ipv4:address[:port][,...], ipv6:[address]:port[,...],"
    " unix:path, unix:///absolute/path, unix-abstract:name"
)

_SCHEMES = frozenset({"dns", "ipv4", "ipv6", "unix", "unix-abstract"})
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")  # RFC 3986 §3.1
# Characters no host name contains (URI delimiters, whitespace, controls).
_BAD_HOST_RE = re.compile(r"[\s/\\@?#\[\]%,\x00-\x1f\x7f]")


class TargetError(ValueError):
    """A channel target that is not valid (see :func:`parse_target`)."""


@dataclass(frozen=True)
class Target:
    """A parsed channel target.

    ``scheme``, ``authority`` and ``endpoint`` are the URI's parts (``authority`` is ""
    when absent; a target taken whole as ``dns`` has ``endpoint`` equal to ``text``).
    For TCP schemes ``addresses`` lists the (host, port) pairs to connect to in order
    (a ``dns`` host is still a name, resolved when connecting) and ``unix_path`` is None;
    for ``unix`` and ``unix-abstract`` ``unix_path`` is the socket's address (with the
    leading NUL of an abstract name) and ``addresses`` is empty. ``http_authority`` is
    the ``:authority`` header value calls send.
    """

    text: str
    scheme: str
    authority: str
    endpoint: str
    addresses: tuple[tuple[str, int], ...]
    unix_path: str | None
    http_authority: str

    @property
    def host(self) -> str:
        """The first host to connect to ("localhost" for a Unix socket): the name TLS
        verifies by default."""
        return self.addresses[0][0] if self.addresses else "localhost"

    def describe(self) -> str:
        """How error messages name the target: the text as given, or the socket path."""
        if self.scheme == "unix":
            return self.unix_path or self.text
        if self.scheme == "unix-abstract":
            return f"abstract socket {self.endpoint!r}"
        return self.text


def _error(text: str, problem: str, hint: str = "") -> TargetError:
    message = f"invalid target {text!r}: {problem}; accepted forms are {ACCEPTED_FORMS}"
    if hint:
        message += f" ({hint})"
    return TargetError(message)


def _parse_port(text: str, port: str) -> int:
    if not (port.isascii() and port.isdigit()):
        hint = ""
        if port.startswith("//"):
            hint = f"drop the {text.split(':', 1)[0]}:// prefix: write host:port"
        raise _error(text, f"the port {port!r} is not a number", hint)
    value = int(port)
    if not 1 <= value <= 65535:
        raise _error(text, f"the port {value} is outside 1-65535")
    return value


def _split_host_port(text: str, hostport: str, *, bare_ipv6: bool) -> tuple[str, int]:
    """``host[:port]`` or ``[ipv6]:port``; with ``bare_ipv6`` an unbracketed IPv6 address
    without port is accepted too (the ``ipv6:`` scheme's form)."""
    if hostport.startswith("["):
        host, bracket, rest = hostport[1:].partition("]")
        if not bracket:
            raise _error(text, "a '[' without its ']'")
        if not rest:
            port = DEFAULT_PORT
        elif rest.startswith(":"):
            port = _parse_port(text, rest[1:])
        else:
            raise _error(text, f"unexpected {rest!r} after the bracketed address")
        if not _is_ipv6(host):
            raise _error(text, f"{host!r} in brackets is not an IPv6 address")
        return host, port
    colons = hostport.count(":")
    if colons == 0:
        host, port = hostport, DEFAULT_PORT
    elif colons == 1:
        host, _, port_text = hostport.partition(":")
        port = _parse_port(text, port_text)
    elif bare_ipv6 and _is_ipv6(hostport):
        return hostport, DEFAULT_PORT
    elif _is_ipv6(hostport) or _is_ipv6(hostport.rpartition(":")[0]):
        raise _error(text, "an IPv6 address must be in brackets", "write [::1]:50051")
    else:
        hint = ""
        if "://" in hostport:
            hint = f"drop the {hostport.partition('://')[0]}:// scheme: write host:port"
        raise _error(text, f"the port {hostport.partition(':')[2]!r} is not a number", hint)
    if not host:
        raise _error(text, "no host")
    if _BAD_HOST_RE.search(host):
        raise _error(text, f"{host!r} is not a host name")
    return host, port


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _format_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_target(target: str) -> Target:
    """Parse a channel target by naming.md's grammar (see the module docstring).

    Raises :class:`TargetError` (a ``ValueError``) naming the target, what is wrong and
    the accepted forms.
    """
    if not isinstance(target, str):
        raise TypeError(f"a target is a str, not {type(target).__name__}")
    if not target:
        raise _error(target, "it is empty")
    match = _SCHEME_RE.match(target)
    scheme = match.group(1).lower() if match else ""
    if scheme not in _SCHEMES:
        scheme, rest = "dns", target  # naming.md: no or unknown scheme means dns
    else:
        rest = target[len(scheme) + 1 :]

    if scheme == "unix":
        path = rest
        if rest.startswith("//"):
            path = rest[2:]
            if not path.startswith("/"):
                raise _error(target, "unix:// takes an absolute path", f"write unix:///{path}")
        if not path:
            raise _error(target, "no socket path")
        if "\x00" in path:
            raise _error(target, "a NUL byte in the socket path")
        return Target(target, scheme, "", path, (), path, "localhost")
    if scheme == "unix-abstract":
        if not rest:
            raise _error(target, "no abstract socket name")
        if "\x00" in rest:
            raise _error(target, "a NUL byte in the abstract socket name")
        return Target(target, scheme, "", rest, (), "\x00" + rest, "localhost")

    authority = ""
    endpoint = rest
    if rest.startswith("//"):
        authority, slash, endpoint = rest[2:].partition("/")
        if not slash:
            raise _error(
                target, "a '//' without the '/' that ends it", f"write {scheme}:///{rest[2:]}"
            )
        if authority and scheme == "dns":
            raise _error(
                target,
                f"grpcx resolves names through the system and takes no DNS server ({authority!r})",
                f"write dns:///{endpoint}",
            )
        if authority:
            raise _error(target, f"the {scheme} scheme takes no authority ({authority!r})")
    if not endpoint:
        raise _error(target, "no host")

    if scheme == "dns":
        addresses: tuple[tuple[str, int], ...] = (
            _split_host_port(target, endpoint, bare_ipv6=False),
        )
    else:
        parsed = []
        for part in endpoint.split(","):
            host, port = _split_host_port(target, part, bare_ipv6=scheme == "ipv6")
            if scheme == "ipv4" and not _is_ipv4(host):
                raise _error(target, f"{host!r} is not an IPv4 address")
            if scheme == "ipv6" and not _is_ipv6(host):
                raise _error(target, f"{host!r} is not an IPv6 address")
            parsed.append((host, port))
        addresses = tuple(parsed)
    return Target(
        target, scheme, authority, endpoint, addresses, None, _format_host_port(*addresses[0])
    )
