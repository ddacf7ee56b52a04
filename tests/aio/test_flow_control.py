"""Flow control and backpressure: a slow reader holds back a fast writer, both ways, and
large messages pass when the limits allow them."""

from __future__ import annotations

import asyncio
from typing import Any

from grpcx.aio import ServicerContext

WAIT = 20.0
MESSAGE = 10 * 1024
# Unread data may sit in: the stream window (1 MiB by default), the reader's buffer
# (256 KiB), the writer's queue (256 KiB) and the transport's buffer (64 KiB). A bound of
# 3 MiB leaves room for all of it and still catches a writer that never waits (which
# would produce all 20 MiB).
BOUND = 3 * 1024 * 1024 // MESSAGE


async def test_server_streaming_slow_reader_bounds_production(serve, connect, handlers):
    produced = 0

    async def flood(request: bytes, context: ServicerContext) -> Any:
        nonlocal produced
        for _ in range(int(request)):
            produced += 1
            yield b"m" * MESSAGE

    _, port = await serve(handlers.server_stream("Flood", flood))
    call = connect(f"127.0.0.1:{port}").unary_stream(handlers.path("Flood"))(b"2000")
    consumed = 0
    high = 0
    for _ in range(20):
        assert len(await asyncio.wait_for(call.read(), WAIT)) == MESSAGE
        consumed += 1
        await asyncio.sleep(0.01)  # a slow reader
        high = max(high, produced - consumed)
    assert high < BOUND, f"{high} produced-but-unread messages"
    assert produced < 2000
    async for message in call:  # then everything still arrives
        assert len(message) == MESSAGE
        consumed += 1
    assert consumed == produced == 2000


async def test_client_streaming_slow_handler_bounds_writes(serve, connect, handlers):
    gate = asyncio.Event()
    received = 0

    async def slow(requests: Any, context: ServicerContext) -> bytes:
        nonlocal received
        await gate.wait()
        async for request in requests:
            received += len(request)
        return b"%d" % received

    _, port = await serve(handlers.client_stream("Slow", slow))
    call = connect(f"127.0.0.1:{port}").stream_unary(handlers.path("Slow"))()
    written = 0

    async def writer() -> None:
        nonlocal written
        for _ in range(2000):
            await call.write(b"w" * MESSAGE)
            written += 1
        await call.done_writing()

    task = asyncio.ensure_future(writer())
    await asyncio.sleep(0.3)
    assert not task.done()
    assert written < BOUND, f"{written} messages written while nothing was read"
    gate.set()
    await asyncio.wait_for(task, WAIT)
    assert await asyncio.wait_for(call, WAIT) == b"%d" % (2000 * MESSAGE)


async def test_bidi_slow_reader_bounds_production(serve, connect, handlers):
    produced = 0

    async def amplify(requests: Any, context: ServicerContext) -> Any:
        nonlocal produced
        async for request in requests:
            for _ in range(int(request)):
                produced += 1
                yield b"b" * MESSAGE

    _, port = await serve(handlers.bidi("Amplify", amplify))
    call = connect(f"127.0.0.1:{port}").stream_stream(handlers.path("Amplify"))()
    await asyncio.wait_for(call.write(b"1000"), WAIT)
    await asyncio.wait_for(call.write(b"1000"), WAIT)
    await asyncio.wait_for(call.done_writing(), WAIT)
    assert len(await asyncio.wait_for(call.read(), WAIT)) == MESSAGE
    await asyncio.sleep(0.3)
    assert produced - 1 < BOUND
    count = 1
    async for _ in call:
        count += 1
    assert count == 2000


async def test_ten_megabytes_each_way(serve, connect, methods, make_probe, handlers):
    limit = 16 * 1024 * 1024
    _, port = await serve(
        *methods(make_probe()),
        max_receive_message_length=limit,
        max_send_message_length=limit,
    )
    channel = connect(
        f"127.0.0.1:{port}",
        max_receive_message_length=limit,
        max_send_message_length=limit,
    )
    big = bytes(range(256)) * (10 * 1024 * 1024 // 256)
    reply = await asyncio.wait_for(channel.unary_unary(handlers.path("Echo"))(big), WAIT)
    assert reply == big
    reply = await asyncio.wait_for(
        channel.unary_unary(handlers.path("Size"))(b"%d" % (10 * 1024 * 1024)), WAIT
    )
    assert len(reply) == 10 * 1024 * 1024
    # and compressed
    reply = await asyncio.wait_for(
        channel.unary_unary(handlers.path("Echo"))(big, compression="gzip"), WAIT
    )
    assert reply == big
    # several at once, streamed
    call = channel.stream_stream(handlers.path("EchoStream"))([big[: 3 * 1024 * 1024]] * 3)
    replies = [m async for m in call]
    assert replies[:3] == [big[: 3 * 1024 * 1024]] * 3


async def test_a_client_keeping_a_tiny_window_is_served(
    serve, connect, methods, make_probe, handlers
):
    """A client that keeps a 200-byte stream window grants ~100 bytes at a time: each grant
    is small while the response waits for it, which is what the data-dribble limit
    (CVE-2019-9511) counts, but a normal-size response (here 64 KiB, some 650 grants)
    stays within its burst and arrives whole."""
    from grpcx.http2.settings import H2Config

    _, port = await serve(*methods(make_probe()))
    channel = connect(f"127.0.0.1:{port}", h2_config=H2Config(initial_window_size=200))
    size = channel.unary_unary(handlers.path("Size"))
    for _ in range(2):
        reply = await asyncio.wait_for(size(b"65536"), WAIT)
        assert reply == b"x" * 65536
