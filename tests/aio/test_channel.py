"""grpcx.aio.Channel: targets, connections, backoff, the four call types, metadata,
compression and errors."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest
from google.protobuf import empty_pb2, wrappers_pb2

import grpcx
from grpcx import Metadata, RpcError, StatusCode
from grpcx.aio import EOF, ServicerContext
from grpcx.aio import channel as channel_module

WAIT = 10.0


def _free_port() -> int:
    """A loopback port with nothing listening (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# ---------------------------------------------------------------------- targets


# Parsing: tests/protocol/test_target.py.


@pytest.mark.parametrize("form", ["{port}", "dns:{port}", "dns:///{port}", "ipv4:{port}"])
async def test_target_forms_connect(echo, connect, form):
    target = form.format(port=f"{'localhost' if 'dns' in form else '127.0.0.1'}:{echo.port}")
    channel = connect(target)
    reply = await asyncio.wait_for(channel.unary_unary(f"/{_service()}/Echo")(b"t"), WAIT)
    assert reply == b"t"


def _service() -> str:
    return "grpcx.test.Test"


# ---------------------------------------------------------------------- connections


async def test_lazy_connect(echo, connect, handlers):
    channel = connect(f"127.0.0.1:{echo.port}")
    method = channel.unary_unary(handlers.path("Echo"))
    await asyncio.sleep(0.05)
    assert not echo.server._connections  # no connection before the first call
    assert await asyncio.wait_for(method(b"x"), WAIT) == b"x"
    assert len(echo.server._connections) == 1


async def test_lazy_connect_to_nothing_fails_only_when_called(connect, handlers):
    channel = connect(f"127.0.0.1:{_free_port()}")
    method = channel.unary_unary(handlers.path("Echo"))  # no error yet
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(method(b"x"), WAIT)
    assert info.value.code() == StatusCode.UNAVAILABLE


async def test_all_calls_share_one_connection(echo):
    async def server_streaming() -> list[bytes]:
        return [m async for m in echo.unary_stream("Count")(b"5")]

    async def client_streaming() -> bytes:
        result: bytes = await echo.stream_unary("Concat")([b"a", b"b"])
        return result

    async def bidi() -> list[bytes]:
        return [m async for m in echo.stream_stream("EchoStream")([b"1", b"2"])]

    jobs = []
    for i in range(50):
        jobs += [echo.unary("Echo")(b"%d" % i), server_streaming(), client_streaming(), bidi()]
    results = await asyncio.wait_for(asyncio.gather(*jobs), WAIT)
    assert results[:4] == [b"0", [b"0", b"1", b"2", b"3", b"4"], b"a|b", [b"1", b"2", b"end"]]
    assert len(echo.server._connections) == 1


async def test_reconnects_after_server_restart(serve, connect, methods, make_probe, handlers):
    server, port = await serve(*methods(make_probe()))
    channel = connect(f"127.0.0.1:{port}")
    echo = channel.unary_unary(handlers.path("Echo"))
    assert await asyncio.wait_for(echo(b"1"), WAIT) == b"1"
    await asyncio.wait_for(server.stop(1), WAIT)
    server2, port2 = await serve(*methods(make_probe()), address=f"127.0.0.1:{port}")
    assert port2 == port
    assert await asyncio.wait_for(echo(b"2"), WAIT) == b"2"
    assert len(server2._connections) == 1


async def test_reconnect_backs_off_after_a_failure(
    serve, connect, methods, make_probe, handlers, monkeypatch
):
    monkeypatch.setattr(channel_module, "_BACKOFF_INITIAL", 0.3)
    monkeypatch.setattr(channel_module.random, "uniform", lambda a, b: 0.0)
    server, port = await serve(*methods(make_probe()))
    channel = connect(f"127.0.0.1:{port}")
    echo = channel.unary_unary(handlers.path("Echo"))
    assert await asyncio.wait_for(echo(b"1"), WAIT) == b"1"
    await asyncio.wait_for(server.stop(1), WAIT)
    await asyncio.sleep(0.05)
    loop = asyncio.get_running_loop()
    failed_at = loop.time()
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(echo(b"down"), WAIT)
    assert info.value.code() == StatusCode.UNAVAILABLE
    await serve(*methods(make_probe()), address=f"127.0.0.1:{port}")
    assert await asyncio.wait_for(echo(b"2"), WAIT) == b"2"
    # The retry waited out the backoff (0.3 s, jitter patched to 0) from the failed attempt.
    assert loop.time() - failed_at >= 0.29
    assert channel._backoff == 0.3  # reset by the success


async def test_backoff_arithmetic(connect, handlers, monkeypatch):
    """doc/connection-backoff.md: 1 s, x1.6 per failure, +-20% jitter, at most 120 s,
    measured from the start of each attempt."""
    jitters = iter([0.2, -0.2, 0.0, 0.1] + [0.0] * 20)
    asked: list[tuple[float, float]] = []

    def uniform(a: float, b: float) -> float:
        asked.append((a, b))
        return next(jitters)

    monkeypatch.setattr(channel_module.random, "uniform", uniform)
    channel = connect(f"127.0.0.1:{_free_port()}")
    method = channel.unary_unary(handlers.path("Echo"))
    loop = asyncio.get_running_loop()
    expected_backoff = 1.0
    waits = []
    for _ in range(15):
        channel._next_attempt = 0.0  # skip the actual sleep; the arithmetic is what we test
        before = loop.time()
        with pytest.raises(RpcError):
            await asyncio.wait_for(method(b""), WAIT)
        waits.append(channel._next_attempt - before)
        expected_backoff = min(expected_backoff * 1.6, 120.0)
        assert channel._backoff == pytest.approx(expected_backoff)
    assert asked[0] == (-0.2, 0.2)
    assert waits[0] == pytest.approx(1.0 * 1.2, abs=0.05)
    assert waits[1] == pytest.approx(1.6 * 0.8, abs=0.05)
    assert waits[2] == pytest.approx(2.56, abs=0.05)
    assert waits[3] == pytest.approx(4.096 * 1.1, abs=0.05)
    assert channel._backoff == 120.0  # capped
    assert waits[-1] == pytest.approx(120.0, abs=0.05)


# ---------------------------------------------------------------------- the four call types


async def test_unary(echo):
    call = echo.unary("Echo")(b"hello", timeout=5, metadata=[("k", "v")])
    assert await asyncio.wait_for(call, WAIT) == b"hello"
    assert await call.code() == StatusCode.OK
    assert await call.details() == ""
    assert isinstance(await call.initial_metadata(), Metadata)
    assert call.done()


async def test_unary_call_awaited_twice_at_once_and_again(echo):
    assert await asyncio.wait_for(echo.unary("Echo")(b"connect"), WAIT) == b"connect"
    call = echo.unary("Echo")(b"both")  # the first await opens it on the connection

    async def wait() -> bytes:
        return await call

    assert await asyncio.wait_for(asyncio.gather(wait(), wait()), WAIT) == [b"both", b"both"]
    assert await asyncio.wait_for(call, WAIT) == b"both"


async def test_protobuf_messages(serve, connect):
    async def upper(request: wrappers_pb2.StringValue, context: ServicerContext) -> Any:
        return wrappers_pb2.StringValue(value=request.value.upper())

    async def nothing(request: empty_pb2.Empty, context: ServicerContext) -> Any:
        return empty_pb2.Empty()

    service = grpcx.ServiceDefinition(
        "grpcx.test.Proto",
        [
            grpcx.unary_unary("Upper", upper, wrappers_pb2.StringValue, wrappers_pb2.StringValue),
            grpcx.unary_unary("Nothing", nothing, empty_pb2.Empty, empty_pb2.Empty),
        ],
    )
    server = grpcx.aio.Server()
    server.add_service(service)
    port = await server.add_port("127.0.0.1:0")
    async with server:
        channel = connect(f"127.0.0.1:{port}")
        method = channel.unary_unary(
            "/grpcx.test.Proto/Upper",
            wrappers_pb2.StringValue.SerializeToString,
            wrappers_pb2.StringValue.FromString,
        )
        reply = await asyncio.wait_for(method(wrappers_pb2.StringValue(value="abc")), WAIT)
        assert reply == wrappers_pb2.StringValue(value="ABC")
        method = channel.unary_unary(
            "/grpcx.test.Proto/Nothing",
            empty_pb2.Empty.SerializeToString,
            empty_pb2.Empty.FromString,
        )
        assert await asyncio.wait_for(method(empty_pb2.Empty()), WAIT) == empty_pb2.Empty()


async def test_server_streaming(echo):
    call = echo.unary_stream("Count")(b"20")
    assert [m async for m in call] == [b"%d" % i for i in range(20)]
    assert await call.code() == StatusCode.OK
    call = echo.unary_stream("Count")(b"2")
    assert await asyncio.wait_for(call.read(), WAIT) == b"0"
    assert await asyncio.wait_for(call.read(), WAIT) == b"1"
    assert await asyncio.wait_for(call.read(), WAIT) is EOF
    assert await asyncio.wait_for(call.read(), WAIT) is EOF
    # zero messages
    assert [m async for m in echo.unary_stream("Count")(b"0")] == []


async def test_client_streaming_iterables(echo):
    assert await asyncio.wait_for(echo.stream_unary("Concat")([b"a", b"b", b"c"]), WAIT) == (
        b"a|b|c"
    )

    async def gen() -> Any:
        for part in (b"x", b"y"):
            await asyncio.sleep(0)
            yield part

    assert await asyncio.wait_for(echo.stream_unary("Concat")(gen()), WAIT) == b"x|y"
    assert await asyncio.wait_for(echo.stream_unary("Concat")([]), WAIT) == b""


async def test_client_streaming_write_done_writing(echo):
    call = echo.stream_unary("Concat")()
    await asyncio.wait_for(call.write(b"1"), WAIT)
    await asyncio.wait_for(call.write(b"2"), WAIT)
    await asyncio.wait_for(call.done_writing(), WAIT)
    with pytest.raises(RuntimeError):
        await call.write(b"3")
    assert await asyncio.wait_for(call, WAIT) == b"1|2"


async def test_client_streaming_no_messages_written(echo):
    call = echo.stream_unary("Concat")()
    await asyncio.wait_for(call.done_writing(), WAIT)
    assert await asyncio.wait_for(call, WAIT) == b""


async def test_bidi_ping_pong_and_half_close(echo):
    call = echo.stream_stream("EchoStream")()
    for i in range(5):
        await asyncio.wait_for(call.write(b"%d" % i), WAIT)
        assert await asyncio.wait_for(call.read(), WAIT) == b"%d" % i
    await asyncio.wait_for(call.done_writing(), WAIT)
    assert await asyncio.wait_for(call.read(), WAIT) == b"end"  # after the half-close
    assert await asyncio.wait_for(call.read(), WAIT) is EOF
    assert await call.code() == StatusCode.OK


async def test_write_after_the_server_completed_the_call(serve, connect, handlers):
    """A write after the server ended the call with OK invents no status: it says the call
    finished and how, and the call reports the server's real status."""

    async def handler(requests: Any, context: ServicerContext) -> Any:
        yield b"only"  # and done, without reading what the client writes

    _, port = await serve(handlers.bidi("M", handler))
    call = connect(f"127.0.0.1:{port}").stream_stream(handlers.path("M"))()
    await asyncio.wait_for(call.write(b"a"), WAIT)
    assert await asyncio.wait_for(call.read(), WAIT) == b"only"
    assert await asyncio.wait_for(call.read(), WAIT) is EOF
    with pytest.raises(asyncio.InvalidStateError, match="ended it with status OK"):
        await asyncio.wait_for(call.write(b"b"), WAIT)
    assert await call.code() == StatusCode.OK
    assert await call.details() == ""

    # A call that failed raises its own error from write().
    async def failing(requests: Any, context: ServicerContext) -> Any:
        context.abort(StatusCode.FAILED_PRECONDITION, "no")
        yield b""

    _, port = await serve(handlers.bidi("F", failing))
    call = connect(f"127.0.0.1:{port}").stream_stream(handlers.path("F"))()
    await asyncio.wait_for(call.write(b"a"), WAIT)
    assert await asyncio.wait_for(call.code(), WAIT) == StatusCode.FAILED_PRECONDITION
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(call.write(b"b"), WAIT)
    assert (info.value.code(), info.value.details()) == (StatusCode.FAILED_PRECONDITION, "no")


async def test_bidi_with_iterator(echo):
    call = echo.stream_stream("EchoStream")(iter([b"a", b"b"]))
    assert [m async for m in call] == [b"a", b"b", b"end"]


async def test_bidi_server_responds_before_client_finishes(serve, connect, handlers):
    async def handler(requests: Any, context: ServicerContext) -> Any:
        yield b"hello first"
        async for request in requests:
            yield request.upper()

    _, port = await serve(handlers.bidi("M", handler))
    call = connect(f"127.0.0.1:{port}").stream_stream(handlers.path("M"))()
    assert await asyncio.wait_for(call.read(), WAIT) == b"hello first"
    await asyncio.wait_for(call.write(b"abc"), WAIT)
    assert await asyncio.wait_for(call.read(), WAIT) == b"ABC"
    await asyncio.wait_for(call.done_writing(), WAIT)
    assert await asyncio.wait_for(call.read(), WAIT) is EOF


# ---------------------------------------------------------------------- cancel, timeout


async def test_cancel_server_stream(echo):
    call = echo.unary_stream("HangStream")(b"cs")
    assert await asyncio.wait_for(call.read(), WAIT) == b"first"
    await asyncio.wait_for(echo.probe.event("started", "cs").wait(), WAIT)
    assert call.cancel()
    assert not call.cancel() or True  # a second cancel is harmless
    await asyncio.wait_for(echo.probe.event("cancelled", "cs").wait(), WAIT)
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(call.read(), WAIT)
    assert info.value.code() == StatusCode.CANCELLED
    assert call.cancelled()


async def test_cancel_client_stream(echo):
    call = echo.stream_unary("HangClientStream")()
    await asyncio.wait_for(call.write(b"x"), WAIT)
    await asyncio.wait_for(echo.probe.event("started", "hang_client_stream").wait(), WAIT)
    call.cancel()
    await asyncio.wait_for(echo.probe.event("cancelled", "hang_client_stream").wait(), WAIT)
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(call, WAIT)
    assert info.value.code() == StatusCode.CANCELLED


async def test_cancel_before_start(echo):
    call = echo.unary_stream("Count")(b"3")
    call.cancel()
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(call.read(), WAIT)
    assert info.value.code() == StatusCode.CANCELLED


async def test_cancelling_the_awaiting_task_cancels_the_call(echo):
    task = asyncio.ensure_future(echo.unary("Hang")(b"ct"))
    await asyncio.wait_for(echo.probe.event("started", "ct").wait(), WAIT)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(echo.probe.event("cancelled", "ct").wait(), WAIT)


async def test_timeout_on_streams(echo):
    call = echo.stream_stream("EchoStream")(timeout=0.2)
    await asyncio.wait_for(call.write(b"a"), WAIT)
    assert await asyncio.wait_for(call.read(), WAIT) == b"a"
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(call.read(), WAIT)
    assert info.value.code() == StatusCode.DEADLINE_EXCEEDED


# ---------------------------------------------------------------------- metadata, errors


async def test_metadata_round_trip_all_call_types(serve, connect, handlers):
    async def reflect(context: ServicerContext) -> None:
        metadata = context.invocation_metadata()
        context.send_initial_metadata([("x-got", metadata.get("x-in", "none"))])
        context.set_trailing_metadata([("x-bin-trailer-bin", metadata.get("x-b-bin", b""))])

    async def uu(request: bytes, context: ServicerContext) -> bytes:
        await reflect(context)
        return request

    async def us(request: bytes, context: ServicerContext) -> Any:
        await reflect(context)
        yield request

    async def su(requests: Any, context: ServicerContext) -> bytes:
        await reflect(context)
        return b"".join([r async for r in requests])

    async def ss(requests: Any, context: ServicerContext) -> Any:
        await reflect(context)
        async for r in requests:
            yield r

    _, port = await serve(
        handlers.unary("UU", uu),
        handlers.server_stream("US", us),
        handlers.client_stream("SU", su),
        handlers.bidi("SS", ss),
    )
    channel = connect(f"127.0.0.1:{port}")
    md = Metadata([("x-in", "hi"), ("x-b-bin", b"\x00\x01")])
    calls: list[Any] = [
        channel.unary_unary(handlers.path("UU"))(b"m", metadata=md),
        channel.unary_stream(handlers.path("US"))(b"m", metadata=md),
        channel.stream_unary(handlers.path("SU"))([b"m"], metadata=md),
        channel.stream_stream(handlers.path("SS"))([b"m"], metadata=md),
    ]
    for call in calls:
        if hasattr(call, "__aiter__"):
            assert [m async for m in call] == [b"m"]
        else:
            assert await asyncio.wait_for(call, WAIT) == b"m"
        assert (await call.initial_metadata()).get("x-got") == "hi"
        assert (await call.trailing_metadata()).get("x-bin-trailer-bin") == b"\x00\x01"


async def test_error_carries_code_details_trailers(serve, connect, handlers):
    async def handler(request: bytes, context: ServicerContext) -> bytes:
        context.abort(
            StatusCode.FAILED_PRECONDITION, "line1\nline2 %", trailing_metadata=[("t", "1")]
        )

    _, port = await serve(handlers.unary("M", handler))
    call = connect(f"127.0.0.1:{port}").unary_unary(handlers.path("M"))(b"")
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(call, WAIT)
    error = info.value
    assert isinstance(error, grpcx.RpcError)
    assert error.code() == StatusCode.FAILED_PRECONDITION
    assert error.details() == "line1\nline2 %"
    assert error.trailing_metadata().get("t") == "1"
    assert error.status_details is None
    assert await call.code() == StatusCode.FAILED_PRECONDITION
    assert (await call.trailing_metadata()).get("t") == "1"
    # Trailers-Only: no initial metadata, and the error says so rather than failing.
    assert error.initial_metadata() == Metadata()


async def test_error_carries_initial_metadata(serve, connect, handlers):
    async def handler(request: bytes, context: ServicerContext) -> bytes:
        context.send_initial_metadata([("x-head", "h")])
        context.abort(StatusCode.ABORTED, "later")

    _, port = await serve(handlers.unary("M", handler))
    call = connect(f"127.0.0.1:{port}").unary_unary(handlers.path("M"))(b"")
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(call, WAIT)
    assert info.value.initial_metadata().get("x-head") == "h"
    assert info.value.code() == StatusCode.ABORTED
    assert (await call.initial_metadata()).get("x-head") == "h"


async def test_invalid_request_metadata_is_a_local_error(echo):
    with pytest.raises((RpcError, ValueError)):
        await asyncio.wait_for(echo.unary("Echo")(b"", metadata=[("Bad Key", "v")]), WAIT)
    assert await asyncio.wait_for(echo.unary("Echo")(b"ok"), WAIT) == b"ok"


# ---------------------------------------------------------------------- compression


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_request_compression_per_call(echo, encoding):
    info = json.loads(
        await asyncio.wait_for(echo.unary("Describe")(b"x" * 100, compression=encoding), WAIT)
    )
    assert info["compressed"] is True
    info = json.loads(await asyncio.wait_for(echo.unary("Describe")(b"x" * 100), WAIT))
    assert info["compressed"] is False


async def test_request_compression_channel_default(echo, connect, handlers):
    channel = connect(f"127.0.0.1:{echo.port}", compression="gzip")
    describe = channel.unary_unary(handlers.path("Describe"))
    assert json.loads(await asyncio.wait_for(describe(b"y"), WAIT))["compressed"] is True
    assert (
        json.loads(await asyncio.wait_for(describe(b"y", compression="identity"), WAIT))[
            "compressed"
        ]
        is False
    )
    # compressed streams
    call = channel.stream_stream(handlers.path("EchoStream"))([b"p" * 1000, b"q"])
    assert [m async for m in call] == [b"p" * 1000, b"q", b"end"]


def test_unknown_compression_rejected() -> None:
    with pytest.raises(ValueError):
        grpcx.aio.Channel("127.0.0.1:1", compression="snappy")
    with pytest.raises(ValueError):
        grpcx.aio.Server(compression="snappy")


async def test_server_response_compression(serve, raw_client, methods, make_probe, connect, frame):
    _, port = await serve(*methods(make_probe()), compression="gzip")
    # Through a channel: it decompresses transparently.
    channel = connect(f"127.0.0.1:{port}")
    big = b"z" * 10000
    assert await asyncio.wait_for(channel.unary_unary("/grpcx.test.Test/Echo")(big), WAIT) == big
    # On the wire: grpc-encoding gzip and the compressed flag, and smaller than the input.
    client = await raw_client(port)
    sid = client.request("Echo", port=port, extra=[(b"grpc-accept-encoding", b"gzip")])
    client.send(sid, frame(big), end_stream=True)
    response = await client.response(sid)
    assert response.headers[b"grpc-encoding"] == b"gzip"
    assert response.data[0] == 1
    assert len(response.data) < 1000
    # A client that accepts no compression gets none.
    sid = client.request("Echo", port=port, extra=[(b"grpc-accept-encoding", b"identity")])
    client.send(sid, frame(big), end_stream=True)
    response = await client.response(sid)
    assert b"grpc-encoding" not in response.headers
    assert response.data == frame(big)
    assert response.grpc_status == 0
    # A client that names no encodings at all (grpc-go 1.33 sends no grpc-accept-encoding)
    # is taken to accept the standard ones, as grpc C-core's server takes it.
    sid = client.request("Echo", port=port)
    client.send(sid, frame(big), end_stream=True)
    response = await client.response(sid)
    assert response.headers[b"grpc-encoding"] == b"gzip"
    assert response.data[0] == 1
    assert response.grpc_status == 0


async def test_context_set_compression_and_disable_next(serve, raw_client, handlers, frame):
    async def handler(request: bytes, context: ServicerContext) -> Any:
        context.set_compression("deflate")
        yield b"a" * 100
        context.disable_next_message_compression()
        yield b"b" * 100
        yield b"c" * 100

    _, port = await serve(handlers.server_stream("M", handler))
    client = await raw_client(port)
    sid = client.request("M", port=port, extra=[(b"grpc-accept-encoding", b"gzip,deflate")])
    client.send(sid, frame(b""), end_stream=True)
    response = await client.response(sid)
    assert response.headers[b"grpc-encoding"] == b"deflate"
    flags = []
    data = response.data
    while data:
        length = int.from_bytes(data[1:5], "big")
        flags.append(data[0])
        data = data[5 + length :]
    assert flags == [1, 0, 1]
    assert response.grpc_status == 0


async def test_set_compression_then_send_initial_metadata(serve, raw_client, handlers, frame):
    """Headers sent early by send_initial_metadata() still carry the chosen encoding."""

    async def handler(request: bytes, context: ServicerContext) -> bytes:
        context.set_compression("gzip")
        context.send_initial_metadata([("x-early", "yes")])
        return b"z" * 1000

    _, port = await serve(handlers.unary("M", handler))
    client = await raw_client(port)
    sid = client.request("M", port=port, extra=[(b"grpc-accept-encoding", b"gzip")])
    client.send(sid, frame(b""), end_stream=True)
    response = await client.response(sid)
    assert response.headers[b"grpc-encoding"] == b"gzip"
    assert response.headers[b"x-early"] == b"yes"
    assert response.data[0] == 1  # the message went out compressed
    assert response.grpc_status == 0


async def test_metadata_handed_out_is_the_callers_own(serve, connect, handlers):
    """Parsed heads and trailers are cached per connection: what a caller gets is a copy."""

    async def handler(request: bytes, context: ServicerContext) -> bytes:
        context.send_initial_metadata([("x-a", "1")])
        context.set_trailing_metadata([("x-b", "2")])
        return request

    _, port = await serve(handlers.unary("M", handler))
    method = connect(f"127.0.0.1:{port}").unary_unary(handlers.path("M"))
    for _ in range(3):
        call = method(b"x")
        assert await asyncio.wait_for(call, WAIT) == b"x"
        initial = await call.initial_metadata()
        trailing = await call.trailing_metadata()
        assert initial.get_all("x-a") == ["1"]
        assert trailing.get_all("x-b") == ["2"]
        initial.add("x-a", "mutated")
        trailing.add("x-b", "mutated")


async def test_response_compressed_reports_each_message(serve, connect, handlers):
    """Call.response_compressed(): the compressed flag of the last response read."""

    async def stream(request: bytes, context: ServicerContext) -> Any:
        context.set_compression("gzip")
        yield b"a" * 100
        context.disable_next_message_compression()
        yield b"b" * 100
        yield b"c" * 100

    async def unary(request: bytes, context: ServicerContext) -> bytes:
        if request == b"compress":
            context.set_compression("deflate")
        return b"z" * 100

    _, port = await serve(handlers.server_stream("S", stream), handlers.unary("U", unary))
    channel = connect(f"127.0.0.1:{port}")
    call = channel.unary_stream(handlers.path("S"))(b"")
    assert not call.response_compressed()  # nothing read yet
    flags = []
    async for message in call:
        assert message[:1] in (b"a", b"b", b"c")
        flags.append(call.response_compressed())
    assert flags == [True, False, True]
    method = channel.unary_unary(handlers.path("U"))
    for request, compressed in ((b"compress", True), (b"plain", False)):
        unary_call = method(request)
        assert await asyncio.wait_for(unary_call, WAIT) == b"z" * 100
        assert unary_call.response_compressed() is compressed
