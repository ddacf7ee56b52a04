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
# A client whose stream windows are small: the server queues what it has not read.
SMALL_WINDOWS = grpcx.http2.settings.H2Config(initial_window_size=65_535)


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


async def _total(requests: AsyncIterator[bytes], context: grpcx.aio.ServicerContext) -> bytes:
    """The total size of the request messages."""
    return b"%d" % sum([len(request) async for request in requests])


SERVICE_DEFINITION = grpcx.ServiceDefinition(
    SERVICE,
    [
        grpcx.unary_unary("Size", _size, _same, _same),
        grpcx.unary_stream("Chunks", _chunks, _same, _same),
        grpcx.unary_unary("Echo", _echo, _same, _same),
        grpcx.stream_unary("Total", _total, _same, _same),
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
        if server.unsent == last:
            return
        last = server.unsent
    raise AssertionError("the server's unsent bytes did not settle")


async def _served(port: int) -> None:
    """Another connection is served as usual."""
    async with Channel(f"127.0.0.1:{port}") as channel:
        echo = channel.unary_unary(f"/{SERVICE}/Echo")
        assert await asyncio.wait_for(echo(b"still here"), WAIT) == b"still here"


async def _collect(stream: Any) -> list[bytes]:
    return [message async for message in stream]


def _connections(server: Server) -> list[Any]:
    return list(server._connections)


PEERS = {
    # (reads the socket, grants every window)
    "windows-closed": (True, False),  # reads, never opens a stream window
    "never-reads": (False, False),  # reads nothing (stream windows as they start)
    "open-windows-never-reads": (False, True),  # grants everything, reads nothing
}


@pytest.mark.parametrize("peer", list(PEERS))
async def test_a_peer_that_never_accepts_responses_holds_a_bounded_amount(
    peer: str, attack: Any, no_gc: None, traced: None
) -> None:
    read, open_windows = PEERS[peer]
    limit = 4 * MIB
    server, port = await _start(max_unsent_bytes_per_connection=limit)
    try:
        await _served(port)  # (lazily made objects exist before the baseline)
        baseline, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        attacker = await attack(port, read=read, open_windows=open_windows)
        attacker.request(f"/{SERVICE}/Size", b"%d" % MIB, 60)  # 60 MiB asked for
        attacker.request(f"/{SERVICE}/Chunks", b"64", 20)  # and 20 streams of 4 MiB each
        await _until(lambda: any(c.held for c in _connections(server)), "the server to hold")
        await _settle(server)
        (connection,) = [c for c in _connections(server) if c.held]
        # Every request arrived and none failed; most wait, unstarted.
        started = 80 - len(connection._waiting)
        assert 0 < started < 20
        if not open_windows:  # (with open windows, answered calls' streams have closed)
            assert connection.h2.remote_open_streams == 80
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
        assert server.unsent == 0 and not server.held
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
        attackers = []
        for _ in range(3):
            attacker = await attack(port, read=True)
            attacker.request(f"/{SERVICE}/Size", b"%d" % MIB, 30)
            attackers.append(attacker)
        await _until(lambda: server.unsent > total, "the server to pass its limit")
        await _settle(server)
        assert len(server.held) == 3
        _, peak = tracemalloc.get_traced_memory()
        # Each connection alone is far below its own limit; together they stop at the
        # server's, give or take a response each.
        assert peak - baseline < total + 6 * MIB, (peak - baseline) / MIB
        await _served(port)  # a connection holding nothing is not held

        # One leaves: the total falls under the limit, and the others start held calls
        # again, one at a time, until the total is back at the limit.
        waiting = sum(len(c._waiting) for c in _connections(server))
        tracemalloc.reset_peak()
        await attackers[0].close()
        await _until(lambda: len(server._connections) == 2, "the close")
        await _settle(server)
        assert sum(len(c._waiting) for c in _connections(server)) < waiting
        assert server.held  # (and held again)
        assert server.unsent < total + 3 * MIB, server.unsent / MIB
        _, peak = tracemalloc.get_traced_memory()
        assert peak - baseline < total + 6 * MIB, (peak - baseline) / MIB
    finally:
        await asyncio.wait_for(server.stop(0), WAIT)


async def test_held_calls_start_when_the_peer_reads_and_none_fails() -> None:
    """A legitimate client whose many large responses pass the limit: every call succeeds,
    the later ones after the earlier ones were read."""
    limit = 2 * MIB
    server, port = await _start(max_unsent_bytes_per_connection=limit)
    most = 0
    held = 0
    count = server.count_unsent

    def record(connection: Any, unsent: int) -> None:
        nonlocal most, held
        most = max(most, unsent)
        held = max(held, len(connection._waiting))
        count(connection, unsent)

    server.count_unsent = record  # type: ignore[method-assign]
    try:
        async with Channel(f"127.0.0.1:{port}", h2_config=SMALL_WINDOWS) as channel:
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
        assert held > 0  # calls were held back,
        assert limit < most < limit + 2 * MIB  # and the connection stayed near its bound
    finally:
        await asyncio.wait_for(server.stop(0), WAIT)


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="max_unsent_bytes"):
        Server(max_unsent_bytes_per_connection=0)
    with pytest.raises(ValueError, match="max_unsent_bytes"):
        Server(max_unsent_bytes=-1)


async def test_a_held_streaming_call_gets_its_request_bytes_back_when_it_starts(
    attack: Any,
) -> None:
    """A client-streaming call held while a message larger than its stream window arrives:
    when it starts, what was held back is acknowledged, so the rest can come."""
    # (A grpcx client that does not read a stream lets ~16 KiB queue on it.)
    server, port = await _start(max_unsent_bytes_per_connection=64 << 10)
    try:
        async with Channel(f"127.0.0.1:{port}", h2_config=SMALL_WINDOWS) as channel:
            # Server streams the client does not read yet: the connection holds new calls.
            chunks = channel.unary_stream(f"/{SERVICE}/Chunks")
            streams = [chunks(b"64") for _ in range(8)]
            started = [asyncio.ensure_future(stream.initial_metadata()) for stream in streams]
            await _until(lambda: any(c.held for c in _connections(server)), "the server to hold")
            total = channel.stream_unary(f"/{SERVICE}/Total")
            big = b"b" * (3 * MIB // 2)  # more than the server's 1 MiB stream window
            call = asyncio.ensure_future(total([big, b"end"]))
            await _until(
                lambda: any(c._waiting for c in _connections(server)), "the call to be held"
            )
            for stream in streams:  # the client reads: the connection is released
                assert len([m async for m in stream]) == 64
            await asyncio.gather(*started)
            assert await asyncio.wait_for(call, WAIT) == b"%d" % (len(big) + 3)
    finally:
        await asyncio.wait_for(server.stop(0), WAIT)


async def test_held_calls_that_end_before_they_start(attack: Any) -> None:
    """Held calls that expire or that the client resets leave the queue; stop() ends
    the rest."""
    server, port = await _start(max_unsent_bytes_per_connection=MIB)
    try:
        attacker = await attack(port, read=True)
        attacker.request(f"/{SERVICE}/Size", b"%d" % MIB, 4)
        await _until(lambda: any(c.held for c in _connections(server)), "the server to hold")
        (connection,) = _connections(server)
        before = [c.stream_id for c in connection._waiting]  # Size calls held already
        expiring = attacker.request(f"/{SERVICE}/Echo", b"x", 3, extra=((b"grpc-timeout", b"50m"),))
        reset = attacker.request(f"/{SERVICE}/Echo", b"x", 3)
        staying = attacker.request(f"/{SERVICE}/Echo", b"x", 2)
        await _until(lambda: len(connection._waiting) == len(before) + 8, "calls to be held")
        for sid in reset:
            attacker.reset(sid)
        await _until(
            lambda: len(connection._waiting) == len(before) + 2, "expired and reset calls to go"
        )
        assert [c.stream_id for c in connection._waiting] == before + staying
        assert not set(expiring + reset) & set(connection.calls)
    finally:
        await asyncio.wait_for(server.stop(0), WAIT)
    assert not connection._waiting and not connection.calls


async def test_streams_the_peer_reads_go_on_while_the_connection_holds() -> None:
    """A held connection makes only the writers of streams the peer does not read wait:
    a stream it reads runs to its end meanwhile."""
    server, port = await _start(max_unsent_bytes_per_connection=64 << 10)
    try:
        async with Channel(f"127.0.0.1:{port}", h2_config=SMALL_WINDOWS) as channel:
            chunks = channel.unary_stream(f"/{SERVICE}/Chunks")
            read = chunks(b"200")  # 12.5 MiB, read as it comes
            first = await asyncio.wait_for(read.read(), WAIT)
            unread = [chunks(b"64") for _ in range(8)]
            started = [asyncio.ensure_future(stream.initial_metadata()) for stream in unread]
            await _until(lambda: any(c.held for c in _connections(server)), "the server to hold")
            rest = await asyncio.wait_for(_collect(read), WAIT)
            assert len(rest) + 1 == 200 and len(first) == 64 << 10
            assert any(c.held for c in _connections(server))  # (still)
            for stream in unread:
                assert len([m async for m in stream]) == 64
            await asyncio.gather(*started)
    finally:
        await asyncio.wait_for(server.stop(0), WAIT)
