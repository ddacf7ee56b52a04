"""grpcx.testing: a server and channel connected in memory, over real HTTP/2."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

import grpcx
import grpcx.aio
import grpcx.testing
from grpcx import StatusCode


def _identity(data: bytes) -> bytes:
    return data


async def echo(request: bytes, context: grpcx.aio.ServicerContext) -> bytes:
    context.set_trailing_metadata([("echo-trailer", context.invocation_metadata().get("k", ""))])
    return request


async def count(request: bytes, context: grpcx.aio.ServicerContext) -> AsyncIterator[bytes]:
    for i in range(int(request)):
        yield b"%d" % i


async def join(requests: AsyncIterator[bytes], context: grpcx.aio.ServicerContext) -> bytes:
    return b",".join([r async for r in requests])


async def upper(
    requests: AsyncIterator[bytes], context: grpcx.aio.ServicerContext
) -> AsyncIterator[bytes]:
    async for request in requests:
        yield request.upper()


cancelled = asyncio.Event()


async def forever(request: bytes, context: grpcx.aio.ServicerContext) -> bytes:
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        cancelled.set()
        raise
    return b""


async def refuse(request: bytes, context: grpcx.aio.ServicerContext) -> bytes:
    context.abort(StatusCode.PERMISSION_DENIED, "not you", trailing_metadata=[("why", "test")])


SERVICE = grpcx.ServiceDefinition(
    "test.Memory",
    [
        grpcx.unary_unary("Echo", echo, _identity, _identity),
        grpcx.unary_stream("Count", count, _identity, _identity),
        grpcx.stream_unary("Join", join, _identity, _identity),
        grpcx.stream_stream("Upper", upper, _identity, _identity),
        grpcx.unary_unary("Forever", forever, _identity, _identity),
        grpcx.unary_unary("Refuse", refuse, _identity, _identity),
    ],
)


@pytest.fixture
async def channel() -> AsyncIterator[grpcx.aio.Channel]:
    server = grpcx.aio.Server()
    server.add_service(SERVICE)
    async with grpcx.testing.in_memory_channel(server) as channel:
        yield channel


async def test_all_four_call_types_in_memory(channel: grpcx.aio.Channel) -> None:
    call = channel.unary_unary("/test.Memory/Echo")(b"hello", metadata=[("k", "v")])
    assert await call == b"hello"
    assert (await call.trailing_metadata()).get("echo-trailer") == "v"
    assert [m async for m in channel.unary_stream("/test.Memory/Count")(b"4")] == [
        b"0",
        b"1",
        b"2",
        b"3",
    ]
    assert await channel.stream_unary("/test.Memory/Join")([b"a", b"b"]) == b"a,b"
    bidi = channel.stream_stream("/test.Memory/Upper")()
    await bidi.write(b"x")
    assert await bidi.read() == b"X"
    await bidi.done_writing()
    assert await bidi.read() is grpcx.aio.EOF


async def test_deadline_and_cancellation_in_memory(channel: grpcx.aio.Channel) -> None:
    cancelled.clear()
    with pytest.raises(grpcx.RpcError) as exc:
        await channel.unary_unary("/test.Memory/Forever")(b"", timeout=0.05)
    assert exc.value.code() == StatusCode.DEADLINE_EXCEEDED
    await asyncio.wait_for(cancelled.wait(), 5)

    cancelled.clear()
    call = channel.unary_unary("/test.Memory/Forever")(b"")
    task = asyncio.ensure_future(call)
    await asyncio.sleep(0.01)
    assert call.cancel()
    with pytest.raises(grpcx.RpcError) as exc:
        await task
    assert exc.value.code() == StatusCode.CANCELLED
    await asyncio.wait_for(cancelled.wait(), 5)


async def test_errors_in_memory(channel: grpcx.aio.Channel) -> None:
    with pytest.raises(grpcx.RpcError) as exc:
        await channel.unary_unary("/test.Memory/Refuse")(b"")
    assert (exc.value.code(), exc.value.details()) == (StatusCode.PERMISSION_DENIED, "not you")
    assert exc.value.trailing_metadata().get("why") == "test"
    with pytest.raises(grpcx.RpcError) as exc:
        await channel.unary_unary("/test.Memory/Missing")(b"")
    assert exc.value.code() == StatusCode.UNIMPLEMENTED


async def test_many_concurrent_calls_share_one_connection(channel: grpcx.aio.Channel) -> None:
    method = channel.unary_unary("/test.Memory/Echo")
    replies = await asyncio.gather(*(method(b"%d" % i) for i in range(300)))
    assert replies == [b"%d" % i for i in range(300)]
