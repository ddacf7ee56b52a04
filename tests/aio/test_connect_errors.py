"""What a call says when its channel cannot connect: every message names the target (or
the socket path) and what went wrong, a peer that never speaks HTTP/2 is given up on
after ``connect_timeout``, and HTTP/1 or TLS/plaintext mismatches are called so."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from grpcx import RpcError, StatusCode
from grpcx.aio import Channel

WAIT = 10.0
NAME = "grpcx.test.example"  # the only name on the test server certificate


def _free_port() -> int:
    """A loopback port with nothing listening (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


ServerFactory = Callable[..., Awaitable[int]]


@pytest.fixture
async def tcp_server() -> AsyncIterator[ServerFactory]:
    """``await tcp_server(on_connect, ssl=None)``: a loopback server whose connections
    are handed to ``on_connect(reader, writer)``; returns its port."""
    servers: list[asyncio.AbstractServer] = []
    writers: list[asyncio.StreamWriter] = []

    async def start(
        on_connect: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
        **kwargs: Any,
    ) -> int:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writers.append(writer)
            await on_connect(reader, writer)

        server = await asyncio.start_server(handle, "127.0.0.1", 0, **kwargs)
        servers.append(server)
        port: int = server.sockets[0].getsockname()[1]
        return port

    yield start
    for writer in writers:
        writer.close()
    for server in servers:
        server.close()
        await asyncio.wait_for(server.wait_closed(), WAIT)


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept and read, never answer."""
    while await reader.read(65536):
        pass


async def _http1(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """An HTTP/1.1 server's answer to HTTP/2's preface."""
    await reader.read(65536)
    writer.write(
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\nConnection: close\r\n\r\nBad Request"
    )
    await writer.drain()
    writer.close()


async def _fail(channel: Channel, *, timeout: float | None = None) -> RpcError:
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(channel.unary_unary("/pkg.S/M")(b"", timeout=timeout), WAIT)
    return info.value


async def test_refused_port_names_the_target(connect):
    target = f"127.0.0.1:{_free_port()}"
    error = await _fail(connect(target))
    assert error.code() == StatusCode.UNAVAILABLE
    assert f"failed to connect to {target}: " in error.details()


async def test_missing_unix_socket_names_the_path(connect, tmp_path: Path):
    path = tmp_path / "nobody.sock"
    error = await _fail(connect(f"unix:{path}"))
    assert error.code() == StatusCode.UNAVAILABLE
    assert f"failed to connect to {path}: " in error.details()


async def test_unix_target_forms_connect(serve, handlers, methods, make_probe, tmp_path: Path):
    path = tmp_path / "s.sock"
    await serve(*methods(make_probe()), address=f"unix:{path}")
    for target in (f"unix:{path}", f"unix://{path}"):
        async with Channel(target) as channel:
            reply = await asyncio.wait_for(channel.unary_unary(handlers.path("Echo"))(b"hi"), WAIT)
            assert reply == b"hi"


async def test_silent_peer_times_out_waiting_for_settings(connect, tcp_server):
    port = await tcp_server(_silent)
    target = f"127.0.0.1:{port}"
    error = await _fail(connect(target, connect_timeout=0.2))
    assert error.code() == StatusCode.UNAVAILABLE
    assert error.details() == (
        f"failed to connect to {target}: timed out after 0.2 s waiting for the server's"
        " HTTP/2 SETTINGS (is it a gRPC server? TLS/plaintext mismatch?)"
    )


async def test_silent_peer_times_out_in_the_tls_handshake(connect, tcp_server, certs):
    port = await tcp_server(_silent)
    channel = connect(
        f"127.0.0.1:{port}", ssl=certs.client_context(), server_hostname=NAME, connect_timeout=0.2
    )
    error = await _fail(channel)
    assert error.code() == StatusCode.UNAVAILABLE
    assert error.details() == (
        f"failed to connect to 127.0.0.1:{port}: timed out after 0.2 s waiting for the TLS"
        " handshake (is the server plaintext?)"
    )


async def test_call_deadline_shorter_than_connect_timeout_wins(connect, tcp_server):
    port = await tcp_server(_silent)
    error = await _fail(connect(f"127.0.0.1:{port}", connect_timeout=WAIT), timeout=0.1)
    assert error.code() == StatusCode.DEADLINE_EXCEEDED
    assert error.details() == f"deadline exceeded while connecting to 127.0.0.1:{port}"


async def test_timed_out_attempt_backs_off_then_tries_again(connect, tcp_server):
    attempts = 0

    async def count(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal attempts
        attempts += 1
        await _silent(reader, writer)

    port = await tcp_server(count)
    channel = connect(f"127.0.0.1:{port}", connect_timeout=0.1)
    await _fail(channel)
    assert attempts == 1
    # The next call waits out the backoff (about 1 s), then a new attempt times out.
    error = await _fail(channel)
    assert error.code() == StatusCode.UNAVAILABLE
    assert attempts == 2


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf")])
def test_connect_timeout_must_be_positive(bad: float) -> None:
    with pytest.raises(ValueError, match="connect_timeout must be a positive number"):
        Channel("localhost:1", connect_timeout=bad)


async def test_http1_server_is_named(connect, tcp_server):
    port = await tcp_server(_http1)
    error = await _fail(connect(f"127.0.0.1:{port}"))
    assert error.code() == StatusCode.UNAVAILABLE
    assert error.details() == (
        f"failed to connect to 127.0.0.1:{port}: the server answered with HTTP/1.1"
        " (status 400): not a gRPC server, or TLS/plaintext mismatch"
    )


async def test_plaintext_channel_to_a_tls_server(serve, methods, make_probe, connect, certs):
    _, port = await serve(*methods(make_probe()), ssl=certs.server_context())
    error = await _fail(connect(f"127.0.0.1:{port}"))
    assert error.code() == StatusCode.UNAVAILABLE
    assert error.details().startswith(f"failed to connect to 127.0.0.1:{port}: ")
    assert "TLS" in error.details()
    assert "connection closed" not in error.details()


async def test_tls_channel_to_a_plaintext_server(serve, methods, make_probe, connect, certs):
    _, port = await serve(*methods(make_probe()))
    channel = connect(f"127.0.0.1:{port}", ssl=certs.client_context(), server_hostname=NAME)
    error = await _fail(channel)
    assert error.code() == StatusCode.UNAVAILABLE
    assert error.details().startswith(
        f"failed to connect to 127.0.0.1:{port}: TLS handshake failed ("
    )
    assert "is the server plaintext" in error.details()


async def test_tls_alert_to_a_plaintext_channel_says_use_tls(connect, tcp_server):
    async def tls_alert(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        writer.write(b"\x15\x03\x03\x00\x02\x02\x46")  # alert: protocol_version
        await writer.drain()
        writer.close()

    port = await tcp_server(tls_alert)
    error = await _fail(connect(f"127.0.0.1:{port}"))
    assert error.code() == StatusCode.UNAVAILABLE
    assert error.details() == (
        f"failed to connect to 127.0.0.1:{port}: the server answered with TLS:"
        " use a TLS channel (ssl=...)"
    )


async def test_ipv4_address_list_connects_to_the_first_that_answers(echo, connect, handlers):
    refused = _free_port()
    channel = connect(f"ipv4:127.0.0.1:{refused},127.0.0.1:{echo.port}")
    reply = await asyncio.wait_for(channel.unary_unary(handlers.path("Echo"))(b"hi"), WAIT)
    assert reply == b"hi"


async def test_ipv4_address_list_all_refused_names_the_target(connect):
    target = f"ipv4:127.0.0.1:{_free_port()},127.0.0.1:{_free_port()}"
    error = await _fail(connect(target))
    assert error.code() == StatusCode.UNAVAILABLE
    assert error.details().startswith(f"failed to connect to {target}: ")


async def test_unix_abstract_target_connects_and_is_named(connect):
    name = f"grpcx-test-{id(connect)}"
    writers: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await _silent(reader, writer)

    server = await asyncio.start_unix_server(silent, path="\0" + name)
    try:
        error = await _fail(connect(f"unix-abstract:{name}", connect_timeout=0.2))
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await asyncio.wait_for(server.wait_closed(), WAIT)
    assert error.code() == StatusCode.UNAVAILABLE
    assert error.details().startswith(
        f"failed to connect to abstract socket {name!r}: timed out after 0.2 s waiting for"
        " the server's HTTP/2 SETTINGS"
    )
