"""grpcx.aio.WorkerGroup: several processes on one port (SO_REUSEPORT), one server."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

import grpcx
import grpcx.aio
from grpcx import StatusCode

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="SO_REUSEPORT balancing")


async def whoami(request: bytes, context: grpcx.aio.ServicerContext) -> bytes:
    return str(os.getpid()).encode()


def setup(server: grpcx.aio.Server) -> None:
    server.add_service(
        grpcx.ServiceDefinition("test.Workers", [grpcx.unary_unary("Who", whoami, bytes, bytes)])
    )


async def ask(port: int) -> int:
    async with grpcx.aio.Channel(f"127.0.0.1:{port}") as channel:
        reply = await asyncio.wait_for(channel.unary_unary("/test.Workers/Who")(b""), 10)
        return int(reply)


async def test_two_workers_share_one_port_and_stop_together() -> None:
    group = grpcx.aio.WorkerGroup(setup, "127.0.0.1:0", workers=2, grace=1.0)
    port = await asyncio.to_thread(group.start)
    try:
        assert port > 0
        workers = set(group.pids)
        assert len(workers) == 2 and os.getpid() not in workers
        # Each channel is a new connection; the kernel spreads them over the workers
        # (all 40 landing on one of two workers has probability 2**-39).
        seen = {await ask(port) for _ in range(40)}
        assert seen == workers
    finally:
        await asyncio.to_thread(group.stop)
    assert group.pids == []
    with pytest.raises(grpcx.RpcError) as info:
        await ask(port)
    assert info.value.code() == StatusCode.UNAVAILABLE


async def test_setup_may_be_a_coroutine_and_failures_are_reported() -> None:
    async def async_setup(server: grpcx.aio.Server) -> None:
        await asyncio.sleep(0)
        setup(server)

    group = grpcx.aio.WorkerGroup(async_setup, "127.0.0.1:0", workers=1)
    port = await asyncio.to_thread(group.start)
    try:
        assert await ask(port) == group.pids[0]
    finally:
        await asyncio.to_thread(group.stop)

    def broken(server: grpcx.aio.Server) -> None:
        raise RuntimeError("setup failed")

    bad = grpcx.aio.WorkerGroup(broken, "127.0.0.1:0", workers=1)
    with pytest.raises(RuntimeError, match="failed during setup"):
        await asyncio.to_thread(bad.start, 10.0)


def test_run_uses_uvloop_when_installed() -> None:
    async def which() -> str:
        return type(asyncio.get_running_loop()).__module__

    module = grpcx.aio.run(which())
    try:
        import uvloop  # noqa: F401
    except ImportError:
        assert module.startswith("asyncio")
    else:
        assert module.startswith("uvloop")


def test_server_and_channel_on_uvloop() -> None:
    """uvloop's transports are not asyncio.Transport subclasses; all call types still work."""
    uvloop = pytest.importorskip("uvloop")

    async def count(request: bytes, context: grpcx.aio.ServicerContext):  # type: ignore[no-untyped-def]
        for i in range(3):
            yield b"%d" % i

    async def join(requests, context):  # type: ignore[no-untyped-def]
        return b"".join([r async for r in requests])

    async def upper(requests, context):  # type: ignore[no-untyped-def]
        async for r in requests:
            yield r.upper()

    async def main() -> None:
        assert isinstance(asyncio.get_running_loop(), uvloop.Loop)
        server = grpcx.aio.Server()
        setup(server)
        server.add_service(
            grpcx.ServiceDefinition(
                "test.More",
                [
                    grpcx.unary_stream("Count", count, bytes, bytes),
                    grpcx.stream_unary("Join", join, bytes, bytes),
                    grpcx.stream_stream("Upper", upper, bytes, bytes),
                ],
            )
        )
        port = await server.add_port("127.0.0.1:0")
        await server.start()
        try:
            assert await asyncio.wait_for(ask(port), 10) == os.getpid()
            async with grpcx.aio.Channel(f"127.0.0.1:{port}") as channel:
                stream = channel.unary_stream("/test.More/Count")(b"")
                assert [m async for m in stream] == [b"0", b"1", b"2"]
                assert await channel.stream_unary("/test.More/Join")([b"a", b"b"]) == b"ab"
                bidi = channel.stream_stream("/test.More/Upper")()
                await bidi.write(b"x")
                assert await bidi.read() == b"X"
                await bidi.done_writing()
                assert await bidi.read() is grpcx.aio.EOF
        finally:
            await server.stop(1)

    grpcx.aio.run(asyncio.wait_for(main(), 30))
