"""What a server holds for peers that do not accept its responses is bounded, and freed.

The attack: a client opens many streams, each asking for a large response, and never
opens its stream windows (65,535 bytes each), or never reads at all. Unbounded, the
server would queue every response in full (300 streams of 1 MiB took a server from 36 MB
to 341 MB). The server's two limits bound it: past ``max_unsent_bytes_per_connection`` the
connection starts no new call, and past ``max_unsent_bytes`` the connections holding the
most stop too. Calls that run are never failed for it, other connections are served, and
all of it is freed by reference counting when the connection closes.

Memory is measured with tracemalloc (the server runs in this process): its peak for what
the attack made the server hold, and its current size after the connection closed, with
the cyclic garbage collector off throughout.
"""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import grpcx
from grpcx.aio import Channel, Server

WAIT = 10.0
SERVICE = "grpcx.test.Unsent"
MIB = 1 << 20


def _same(data: bytes) -> bytes:
    return data


async def _size(request: bytes, context: grpcx.aio.ServicerContext) -> bytes:
    return b"x" * int(request)


async def _chunks(request: bytes, context: grpcx.aio.ServicerContext) -> AsyncIterator[bytes]:
    """int(request) responses of 64 KiB each."""
    for _ in range(int(request)):
        yield b"y" * (64 << 10)


async def _echo(request: bytes, context: grpcx.aio.ServicerContext) -> bytes:
    return request


SERVICE_DEFINITION = grpcx.ServiceDefinition(
    SERVICE,
    [
        grpcx.unary_unary("Size", _size, _same, _same),
        grpcx.unary_stream("Chunks", _chunks, _same, _same),
        grpcx.unary_unary("Echo", _echo, _same, _same),
    ],
)


@pytest.fixture
def no_gc() -> Iterator[None]:
    """The cyclic collector off: only reference counting frees anything."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.fixture
def traced() -> Iterator[None]:
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


async def _start(**options: Any) -> tuple[Server, int]:
    server = Server(**options)
    server.add_service(SERVICE_DEFINITION)
    port = await server.add_port("127.0.0.1:0")
    await server.start()
    return server, port


async def _until(condition: Any, what: str) -> None:
    """Wait (bounded) until ``condition()`` holds."""
    for _ in range(int(WAIT / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def _settle(server: Server) -> None:
    """Wait until the server's count of unsent bytes stops changing."""
    last = -1
    for _ in range(int(WAIT / 0.05)):
        await asyncio.sleep(0.05)
        if server._unsent == last:
            return
        last = server._unsent
    raise AssertionError("the server's unsent bytes did not settle")


async def _served(port: int) -> None:
    """Another connection is served as usual."""
    async with Channel(f"127.0.0.1:{port}") as channel:
        echo = channel.unary_unary(f"/{SERVICE}/Echo")
        assert await asyncio.wait_for(echo(b"still here"), WAIT) == b"still here"


def _connections(server: Server) -> list[Any]:
    return list(server._connections)


@pytest.mark.parametrize("read", [True, False], ids=["windows-closed", "never-reads"])
async def test_a_peer_that_never_accepts_responses_holds_a_bounded_amount(
    read: bool, attack: Any, no_gc: None, traced: None
) -> None:
    limit = 4 * MIB
    server, port = await _start(max_unsent_bytes_per_connection=limit)
    try:
        await _served(port)  # (lazily made objects exist before the baseline)
        baseline, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        attacker = await attack(port, read=read)
        attacker.request(f"/{SERVICE}/Size", b"%d" % MIB, 60)  # 60 MiB asked for
        attacker.request(f"/{SERVICE}/Chunks", b"64", 20)  # and 20 streams of 4 MiB each
        await _until(lambda: any(c.held for c in _connections(server)), "the server to hold")
        await _settle(server)
        (connection,) = [c for c in _connections(server) if c.held]
        # Every request arrived (their streams open: none failed); most wait, unstarted.
        assert connection.h2.remote_open_streams == 80
        assert 60 < len(connection._waiting) < 80
        _, peak = tracemalloc.get_traced_memory()
        # What the server holds: the limit, the response that crossed it, and requests'
        # and calls' bookkeeping.
        assert peak - baseline < limit + 3 * MIB, (peak - baseline) / MIB
        assert connection.unsent > limit // 2
        await _served(port)  # other connections are not affected

        await attacker.close()
        await _until(lambda: not server._connections, "the close")
        assert connection.closed
        del connection
        await asyncio.sleep(0.05)  # handlers cancelled by the close have unwound
        current, _ = tracemalloc.get_traced_memory()
        # Freed without a collection: by reference counting alone.
        assert current - baseline < MIB, (current - baseline) / MIB
        assert server._unsent == 0 and not server._held
    finally:
        await asyncio.wait_for(server.stop(0), WAIT)


async def test_the_server_wide_limit_holds_the_connections_holding_most(
    attack: Any, no_gc: None, traced: None
) -> None:
    per_connection, total = 64 * MIB, 6 * MIB
    server, port = await _start(
        max_unsent_bytes_per_connection=per_connection, max_unsent_bytes=total
    )
    try:
        await _served(port)
        baseline, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(3):
            attacker = await attack(port, read=True)
            attacker.request(f"/{SERVICE}/Size", b"%d" % MIB, 30)
        await _until(lambda: server._unsent > total, "the server to pass its limit")
        await _settle(server)
        assert server._held
        _, peak = tracemalloc.get_traced_memory()
        # Each connection alone is far below its own limit; together they stop at the
        # server's, give or take a response each.
        assert peak - baseline < total + 6 * MIB, (peak - baseline) / MIB
        await _served(port)  # a connection holding nothing is not held
    finally:
        await asyncio.wait_for(server.stop(0), WAIT)


async def test_held_calls_start_when_the_peer_reads_and_none_fails() -> None:
    """A legitimate client whose many large responses pass the limit: every call succeeds,
    the later ones after the earlier ones were read."""
    limit = 2 * MIB
    server, port = await _start(max_unsent_bytes_per_connection=limit)
    most = 0
    count = server._count_unsent

    def record(connection: Any, unsent: int) -> None:
        nonlocal most
        most = max(most, unsent)
        count(connection, unsent)

    server._count_unsent = record  # type: ignore[method-assign]
    try:
        config = grpcx.http2.settings.H2Config(initial_window_size=65_535)
        async with Channel(f"127.0.0.1:{port}", h2_config=config) as channel:
            size = channel.unary_unary(f"/{SERVICE}/Size")
            chunks = channel.unary_stream(f"/{SERVICE}/Chunks")

            async def unary() -> int:
                return len(await size(b"%d" % MIB))

            async def stream() -> int:
                return sum([len(m) async for m in chunks(b"32")])

            results = await asyncio.wait_for(
                asyncio.gather(*(unary() for _ in range(20)), *(stream() for _ in range(5))),
                WAIT * 3,
            )
        assert results == [MIB] * 20 + [32 * (64 << 10)] * 5
        assert limit < most < limit + 2 * MIB  # it was held, and stayed near its bound
    finally:
        await asyncio.wait_for(server.stop(0), WAIT)


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="max_unsent_bytes"):
        Server(max_unsent_bytes_per_connection=0)
    with pytest.raises(ValueError, match="max_unsent_bytes"):
        Server(max_unsent_bytes=-1)
