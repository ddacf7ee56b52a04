"""``Server.add_port``: every failure is a ValueError (a malformed address) or an OSError
(errno kept) whose message names the address and the cause."""

from __future__ import annotations

import errno
import socket
from pathlib import Path

import pytest

import grpcx
from grpcx.aio import Channel, Server
from grpcx.aio.server import _listen_error, _parse_address

WAIT = 10.0


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("http://localhost:50070", "drop the http:// scheme and give 'localhost:50070'"),
        ("127.0.0.1:99999", "port 99999 is out of range (0-65535"),
        ("localhost", "is not one of host:port, [v6]:port or unix:path"),
        ("127.0.0.1:http", "is not one of host:port, [v6]:port or unix:path"),
        ("unix:", "has no path"),
    ],
)
async def test_malformed_addresses_are_value_errors(address: str, expected: str) -> None:
    with pytest.raises(ValueError) as raised:
        await Server().add_port(address)
    assert repr(address) in str(raised.value)
    assert expected in str(raised.value)


async def test_unresolvable_host() -> None:
    address = "no-such-host.invalid:50051"
    with pytest.raises(socket.gaierror) as raised:
        await Server().add_port(address)
    message = str(raised.value)
    assert f"cannot listen on {address!r}: cannot resolve host 'no-such-host.invalid'" in message
    assert raised.value.errno is not None


async def test_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(OSError) as raised:
            await Server().add_port(address)
    assert raised.value.errno == errno.EADDRINUSE
    assert f"cannot listen on {address!r}: the address is already in use" in str(raised.value)


async def test_unix_directory_missing(tmp_path: Path) -> None:
    address = f"unix:{tmp_path}/missing/s.sock"
    with pytest.raises(FileNotFoundError) as raised:
        await Server().add_port(address)
    assert raised.value.errno == errno.ENOENT
    assert f"cannot listen on {address!r}" in str(raised.value)
    assert f"the directory '{tmp_path}/missing' does not exist" in str(raised.value)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("unix:/srv/s.sock", "permission denied creating a socket in '/srv'"),
        ("0.0.0.0:80", "permission denied (ports below 1024 need privileges)"),
    ],
)
def test_permission_denied(address: str, expected: str) -> None:
    # (Made by hand: the tests run as root, who may bind anything.)
    host, port = _parse_address(address)
    error = _listen_error(address, host, port, PermissionError(errno.EACCES, "Permission denied"))
    assert isinstance(error, PermissionError)
    assert error.errno == errno.EACCES
    assert f"cannot listen on {address!r}: {expected}" in str(error)


async def test_unix_path_held_by_a_running_server_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    running = Server()
    running.add_service(_echo_service())
    await running.add_port(f"unix:{path}")
    await running.start()
    try:
        with pytest.raises(OSError) as raised:
            await Server().add_port(f"unix:{path}")
        assert raised.value.errno == errno.EADDRINUSE
        assert f"a server is listening on {str(path)!r}" in str(raised.value)
        # ... and the running server still has its socket and its clients.
        async with Channel(f"unix:{path}") as channel:
            assert await channel.unary_unary("/t.T/Echo")(b"hi", timeout=WAIT) == b"hi"
    finally:
        await running.stop(0)


async def test_stale_unix_socket_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as stale:
        stale.bind(str(path))  # bound, never listening, then closed: what a crash leaves
    assert path.exists()
    server = Server()
    server.add_service(_echo_service())
    await server.add_port(f"unix:{path}")
    await server.start()
    try:
        async with Channel(f"unix:{path}") as channel:
            assert await channel.unary_unary("/t.T/Echo")(b"hi", timeout=WAIT) == b"hi"
    finally:
        await server.stop(0)
    assert not path.exists()


async def test_a_file_that_is_not_a_socket_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_text("precious")
    address = f"unix:{path}"
    with pytest.raises(OSError) as raised:
        await Server().add_port(address)
    assert raised.value.errno == errno.EADDRINUSE
    assert f"cannot listen on {address!r}: {str(path)!r} exists and is not a socket" in str(
        raised.value
    )
    assert path.read_text() == "precious"


def _echo_service() -> grpcx.ServiceDefinition:
    async def echo(request: bytes, context: grpcx.aio.ServicerContext) -> bytes:
        return request

    return grpcx.ServiceDefinition("t.T", [grpcx.unary_unary("Echo", echo, bytes, bytes)])
