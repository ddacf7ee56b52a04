"""Corners of a call's life: requests that never complete, deadlines while queued or
connecting, cancellation at every stage, and flow-control credit returned when calls end
early (a leak there stalls the whole connection after enough calls)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from grpcx import RpcError, StatusCode
from grpcx.aio import ServicerContext
from grpcx.http2.settings import H2Config

WAIT = 10.0
CHUNK = 64 * 1024


async def test_server_deadline_while_unary_request_incomplete(echo, raw_client, frame):
    """The request body never arrives: the server still ends the call at its deadline."""
    client = await raw_client(echo.port)
    sid = client.request("Echo", port=echo.port, extra=[(b"grpc-timeout", b"200m")])
    client.send(sid, frame(b"partial")[:6])  # and nothing more, no END_STREAM
    response = await client.response(sid)
    assert response.grpc_status == StatusCode.DEADLINE_EXCEEDED
    assert await asyncio.wait_for(echo.unary("Echo")(b"x", timeout=5), WAIT) == b"x"


async def test_server_deadline_before_any_data(echo, raw_client):
    client = await raw_client(echo.port)
    sid = client.request("Echo", port=echo.port, extra=[(b"grpc-timeout", b"150m")])
    response = await client.response(sid)
    assert response.grpc_status == StatusCode.DEADLINE_EXCEEDED


async def test_client_deadline_while_waiting_for_a_stream_slot(
    serve, connect, methods, make_probe, handlers
):
    probe = make_probe()
    _, port = await serve(*methods(probe), h2_config=H2Config(max_concurrent_streams=1))
    channel = connect(f"127.0.0.1:{port}")
    hang = asyncio.ensure_future(channel.unary_unary(handlers.path("Hang"))(b"slot"))
    await asyncio.wait_for(probe.event("started", "slot").wait(), WAIT)
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(channel.unary_unary(handlers.path("Echo"))(b"", timeout=0.2), WAIT)
    assert info.value.code() == StatusCode.DEADLINE_EXCEEDED
    probe.release.set()
    assert await asyncio.wait_for(hang, WAIT) == b"released"


async def test_calls_queue_for_stream_slots(serve, connect, methods, make_probe, handlers):
    _, port = await serve(*methods(make_probe()), h2_config=H2Config(max_concurrent_streams=2))
    channel = connect(f"127.0.0.1:{port}")
    results = await asyncio.wait_for(
        asyncio.gather(
            *(channel.unary_unary(handlers.path("Echo"))(b"%d" % i) for i in range(30)),
            *(_collect(channel.unary_stream(handlers.path("Count"))(b"3")) for _ in range(10)),
        ),
        WAIT,
    )
    assert results[:30] == [b"%d" % i for i in range(30)]
    assert results[30:] == [[b"0", b"1", b"2"]] * 10


async def _collect(call: Any) -> list[bytes]:
    return [m async for m in call]


async def test_cancel_while_connecting(serve, connect, methods, make_probe, handlers):
    probe = make_probe()
    _, port = await serve(*methods(probe))
    channel = connect(f"127.0.0.1:{port}")
    call = channel.unary_unary(handlers.path("Hang"))(b"early")
    task = asyncio.ensure_future(call)
    await asyncio.sleep(0)  # the call is now waiting for the connection
    call.cancel()
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(task, WAIT)
    assert info.value.code() == StatusCode.CANCELLED
    await asyncio.sleep(0.1)
    assert "early" not in probe.started  # it never reached the server


async def test_await_unary_call_twice(echo):
    call = echo.unary("Echo")(b"twice")
    assert await asyncio.wait_for(call, WAIT) == b"twice"
    assert await asyncio.wait_for(call, WAIT) == b"twice"


async def test_await_failed_unary_call_twice(echo):
    call = echo.unary("Fail")(b"")
    for _ in range(2):
        with pytest.raises(RpcError) as info:
            await asyncio.wait_for(call, WAIT)
        assert info.value.code() == StatusCode.UNKNOWN


async def test_channel_close_fails_calls_in_flight(echo, connect, handlers):
    channel = connect(f"127.0.0.1:{echo.port}")
    task = asyncio.ensure_future(channel.unary_unary(handlers.path("Hang"))(b"closing"))
    await asyncio.wait_for(echo.probe.event("started", "closing").wait(), WAIT)
    await asyncio.wait_for(channel.close(), WAIT)
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(task, WAIT)
    assert info.value.code() == StatusCode.CANCELLED
    await asyncio.wait_for(echo.probe.event("cancelled", "closing").wait(), WAIT)
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(channel.unary_unary(handlers.path("Echo"))(b""), WAIT)
    assert info.value.code() == StatusCode.CANCELLED


async def test_server_returns_credit_of_unread_requests(serve, connect, handlers):
    """A client-streaming handler that answers after the first message, while the client
    has more in flight: the unread bytes must be credited back to the connection window,
    or after a few such calls no stream on the connection can send anything."""

    async def first_only(requests: Any, context: ServicerContext) -> bytes:
        async for request in requests:
            await asyncio.sleep(0.02)  # let the client fill the windows
            return request[:1]
        return b""

    async def sink(requests: Any, context: ServicerContext) -> bytes:
        total = 0
        async for request in requests:
            total += len(request)
        return b"%d" % total

    _, port = await serve(
        handlers.client_stream("First", first_only), handlers.client_stream("Sink", sink)
    )
    channel = connect(f"127.0.0.1:{port}")
    for _ in range(40):  # 40 x ~1 MiB held back > the 16 MiB connection window
        call = channel.stream_unary(handlers.path("First"))()

        async def pump(call: Any = call) -> None:
            # The server completes the call with OK while the client still writes.
            with pytest.raises(asyncio.InvalidStateError, match="status OK"):
                for _ in range(64):
                    await call.write(b"f" * CHUNK)

        writer = asyncio.ensure_future(pump())
        assert await asyncio.wait_for(call, WAIT) == b"f"
        await asyncio.wait_for(writer, WAIT)
    body = [b"s" * CHUNK] * 64
    assert await asyncio.wait_for(channel.stream_unary(handlers.path("Sink"))(body), WAIT) == (
        b"%d" % (64 * CHUNK)
    )


async def test_client_returns_credit_of_unread_responses(serve, connect, handlers):
    """Cancelling a server stream the client did not read must credit what it held back."""

    async def flood(request: bytes, context: ServicerContext) -> Any:
        for _ in range(10_000):
            yield b"r" * CHUNK

    _, port = await serve(handlers.server_stream("Flood", flood))
    channel = connect(f"127.0.0.1:{port}")
    for _ in range(40):
        call = channel.unary_stream(handlers.path("Flood"))(b"")
        assert len(await asyncio.wait_for(call.read(), WAIT)) == CHUNK
        await asyncio.sleep(0.02)  # let the server fill the windows
        call.cancel()
    call = channel.unary_stream(handlers.path("Flood"))(b"")
    for _ in range(100):
        assert len(await asyncio.wait_for(call.read(), WAIT)) == CHUNK
    call.cancel()


async def test_unary_handler_gets_cancelled_on_connection_loss_after_suspend(
    echo, connect, handlers
):
    channel = connect(f"127.0.0.1:{echo.port}")
    task = asyncio.ensure_future(channel.unary_unary(handlers.path("Hang"))(b"lost"))
    await asyncio.wait_for(echo.probe.event("started", "lost").wait(), WAIT)
    connection = channel._connection
    assert connection is not None and connection.transport is not None
    connection.transport.abort()
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(task, WAIT)
    assert info.value.code() == StatusCode.UNAVAILABLE
    await asyncio.wait_for(echo.probe.event("cancelled", "lost").wait(), WAIT)
    # the channel reconnects for the next call
    assert await asyncio.wait_for(channel.unary_unary(handlers.path("Echo"))(b"again"), WAIT) == (
        b"again"
    )


async def test_close_while_connecting_leaves_no_connection(echo, connect, handlers):
    channel = connect(f"127.0.0.1:{echo.port}")
    task = asyncio.ensure_future(channel.unary_unary(handlers.path("Echo"))(b""))
    await asyncio.sleep(0)  # connecting
    await asyncio.wait_for(channel.close(), WAIT)
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(task, WAIT)
    assert info.value.code() == StatusCode.CANCELLED
    for _ in range(100):
        if not echo.server._connections:
            break
        await asyncio.sleep(0.01)
    assert not echo.server._connections


async def test_oversized_metadata(echo, connect, handlers):
    """Metadata past the server's header list limit (16 KiB) fails the call, not the server."""
    channel = connect(f"127.0.0.1:{echo.port}")
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(
            channel.unary_unary(handlers.path("Echo"))(b"", metadata=[("x-big", "v" * 20000)]),
            WAIT,
        )
    assert info.value.code() in (
        StatusCode.RESOURCE_EXHAUSTED,
        StatusCode.INTERNAL,
        StatusCode.UNAVAILABLE,
    )
    assert await asyncio.wait_for(channel.unary_unary(handlers.path("Echo"))(b"ok"), WAIT) == b"ok"
    assert await asyncio.wait_for(echo.unary("Echo")(b"ok"), WAIT) == b"ok"


async def test_awaiting_call_and_metadata_together(echo):
    """Several coroutines waiting on one call all wake (one used to steal the wakeup)."""
    call = echo.unary("Echo")(b"together")
    results = await asyncio.wait_for(
        asyncio.gather(call, call.initial_metadata(), call.code(), call.trailing_metadata(), call),
        WAIT,
    )
    assert results[0] == results[4] == b"together"
    assert results[2] == StatusCode.OK
    assert len(echo.server._connections) == 1


async def test_initial_metadata_starts_a_client_streaming_call(serve, connect, handlers):
    async def handler(requests: Any, context: ServicerContext) -> bytes:
        context.send_initial_metadata([("x-ready", "yes")])
        return b"".join([r async for r in requests])

    _, port = await serve(handlers.client_stream("M", handler))
    call = connect(f"127.0.0.1:{port}").stream_unary(handlers.path("M"))()
    initial = await asyncio.wait_for(call.initial_metadata(), WAIT)
    assert initial.get("x-ready") == "yes"
    await asyncio.wait_for(call.write(b"a"), WAIT)
    await asyncio.wait_for(call.done_writing(), WAIT)
    assert await asyncio.wait_for(call, WAIT) == b"a"
