"""Channel targets by gRPC's doc/naming.md grammar: the forms it names, and the bad
targets refused when a channel is made."""

from __future__ import annotations

import pytest

from grpcx.aio import Channel
from grpcx.protocol.target import ACCEPTED_FORMS, Target, parse_target


def _tcp(target: str) -> tuple[str, str, str, tuple[tuple[str, int], ...], str]:
    parsed = parse_target(target)
    assert parsed.unix_path is None
    return (
        parsed.scheme,
        parsed.authority,
        parsed.endpoint,
        parsed.addresses,
        parsed.http_authority,
    )


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        # dns:[//authority/]host[:port], port 443 by default
        ("dns:localhost:50051", ("dns", "", "localhost:50051", (("localhost", 50051),))),
        ("dns:///localhost:50051", ("dns", "", "localhost:50051", (("localhost", 50051),))),
        ("dns:example.com", ("dns", "", "example.com", (("example.com", 443),))),
        ("DNS:///example.com:8080", ("dns", "", "example.com:8080", (("example.com", 8080),))),
        ("dns:///[::1]:50051", ("dns", "", "[::1]:50051", (("::1", 50051),))),
        # no scheme, or an unknown one: the whole string is a dns endpoint
        ("localhost:50051", ("dns", "", "localhost:50051", (("localhost", 50051),))),
        ("myhost:50051", ("dns", "", "myhost:50051", (("myhost", 50051),))),
        ("example.com", ("dns", "", "example.com", (("example.com", 443),))),
        ("127.0.0.1:9", ("dns", "", "127.0.0.1:9", (("127.0.0.1", 9),))),
        ("[::1]:9", ("dns", "", "[::1]:9", (("::1", 9),))),
        ("[::1]", ("dns", "", "[::1]", (("::1", 443),))),
        ("[fe80::1%eth0]:9", ("dns", "", "[fe80::1%eth0]:9", (("fe80::1%eth0", 9),))),
        # ipv4:address[:port][,address[:port],...]
        ("ipv4:127.0.0.1:9", ("ipv4", "", "127.0.0.1:9", (("127.0.0.1", 9),))),
        ("ipv4:10.0.0.1", ("ipv4", "", "10.0.0.1", (("10.0.0.1", 443),))),
        (
            "ipv4:10.0.0.1:1,10.0.0.2",
            ("ipv4", "", "10.0.0.1:1,10.0.0.2", (("10.0.0.1", 1), ("10.0.0.2", 443))),
        ),
        # ipv6: brackets when a port follows (naming.md's own examples)
        (
            "ipv6:[2607:f8b0:400e:c00::ef]:443",
            ("ipv6", "", "[2607:f8b0:400e:c00::ef]:443", (("2607:f8b0:400e:c00::ef", 443),)),
        ),
        ("ipv6:[::]:1234", ("ipv6", "", "[::]:1234", (("::", 1234),))),
        ("ipv6:::1", ("ipv6", "", "::1", (("::1", 443),))),
        ("ipv6:[::1]:1,::2", ("ipv6", "", "[::1]:1,::2", (("::1", 1), ("::2", 443)))),
    ],
)
def test_tcp_targets(target: str, expected: tuple[object, ...]) -> None:
    assert _tcp(target)[:4] == expected


@pytest.mark.parametrize(
    ("target", "authority"),
    [
        ("localhost:50051", "localhost:50051"),
        ("example.com", "example.com:443"),
        ("dns:///[::1]:50051", "[::1]:50051"),
        ("ipv6:::1", "[::1]:443"),
        ("ipv4:10.0.0.1:1,10.0.0.2:2", "10.0.0.1:1"),
        ("unix:/tmp/x.sock", "localhost"),
    ],
)
def test_http_authority(target: str, authority: str) -> None:
    assert parse_target(target).http_authority == authority


@pytest.mark.parametrize(
    ("target", "scheme", "path"),
    [
        ("unix:/tmp/x.sock", "unix", "/tmp/x.sock"),
        ("unix:relative.sock", "unix", "relative.sock"),
        ("unix:///tmp/x.sock", "unix", "/tmp/x.sock"),  # unix://absolute_path
        ("unix-abstract:grpcx-test", "unix-abstract", "\x00grpcx-test"),
    ],
)
def test_unix_targets(target: str, scheme: str, path: str) -> None:
    parsed = parse_target(target)
    assert (parsed.scheme, parsed.unix_path, parsed.addresses) == (scheme, path, ())
    assert parsed.host == "localhost"


def test_describe_names_the_target_or_the_socket_path() -> None:
    assert parse_target("localhost:1").describe() == "localhost:1"
    assert parse_target("unix:///tmp/x.sock").describe() == "/tmp/x.sock"
    assert "grpcx-test" in parse_target("unix-abstract:grpcx-test").describe()


def test_target_is_a_value() -> None:
    assert parse_target("localhost:1") == parse_target("localhost:1")
    assert isinstance(parse_target("localhost:1"), Target)


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        # the four
        ("foo:bar:baz", "the port 'bar:baz' is not a number"),
        ("http://localhost:50999", "drop the http:// scheme"),
        ("", "it is empty"),
        ("localhost:99999", "the port 99999 is outside 1-65535"),
        # more
        ("localhost:0", "the port 0 is outside 1-65535"),
        ("localhost:", "the port '' is not a number"),
        ("localhost:http", "the port 'http' is not a number"),
        ("https://example.com", "drop the https:// prefix"),
        (":50051", "no host"),
        ("::1", "an IPv6 address must be in brackets"),
        ("::1:50051", "an IPv6 address must be in brackets"),
        ("[::1", "a '[' without its ']'"),
        ("[::1]x", "unexpected 'x'"),
        ("[example.com]:1", "not an IPv6 address"),
        ("dns:", "no host"),
        ("dns://8.8.8.8/example.com:1", "write dns:///example.com:1"),
        ("dns://localhost:50051", "write dns:///localhost:50051"),
        ("ipv4:example.com:1", "'example.com' is not an IPv4 address"),
        ("ipv4:1.2.3.4:1,", "no host"),
        ("ipv6:[::1]:99999", "outside 1-65535"),
        ("ipv6:1.2.3.4", "'1.2.3.4' is not an IPv6 address"),
        ("unix:", "no socket path"),
        ("unix://tmp/x.sock", "write unix:///tmp/x.sock"),
        ("unix-abstract:", "no abstract socket name"),
        ("exa mple.com:1", "'exa mple.com' is not a host name"),
    ],
)
def test_bad_targets_name_themselves_and_the_accepted_forms(target: str, problem: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_target(target)
    message = str(info.value)
    assert f"invalid target {target!r}" in message
    assert problem in message
    assert ACCEPTED_FORMS in message


@pytest.mark.parametrize("target", ["foo:bar:baz", "http://localhost:50999", "", "localhost:99999"])
def test_channel_refuses_a_bad_target_when_made(target: str) -> None:
    with pytest.raises(ValueError, match="invalid target"):
        Channel(target)


def test_target_must_be_a_string() -> None:
    with pytest.raises(TypeError, match="a target is a str"):
        parse_target(b"localhost:1")  # type: ignore[arg-type]
