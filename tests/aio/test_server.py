"""grpcx.aio.Server: addresses, the servicer context, status, limits, deadlines, shutdown."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import sys
from typing import Any

import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

import grpcx.aio.server as server_module
from grpcx import Metadata, RpcError, ServiceDefinition, StatusCode
from grpcx.aio import Server, ServicerContext
from grpcx.http2 import frames as fr

WAIT = 10.0


def _has_ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


async def _describe(channel: Any, handlers: Any, **kwargs: Any) -> dict[str, Any]:
    reply = await asyncio.wait_for(
        channel.unary_unary(handlers.path("Describe"))(b"", **kwargs), WAIT
    )
    result: dict[str, Any] = json.loads(reply)
    return result


# ---------------------------------------------------------------------- addresses


async def test_ipv4_port_zero_returns_bound_port(serve, connect, methods, make_probe, handlers):
    _server, port = await serve(*methods(make_probe()), address="127.0.0.1:0")
    assert port > 0
    channel = connect(f"127.0.0.1:{port}")
    info = await _describe(channel, handlers)
    assert info["peer"].startswith("ipv4:127.0.0.1:")
    assert int(info["peer"].rsplit(":", 1)[1]) > 0
    assert info["method"] == handlers.path("Describe")


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback on this machine")
async def test_ipv6_loopback(serve, connect, methods, make_probe, handlers):
    _server, port = await serve(*methods(make_probe()), address="[::1]:0")
    assert port > 0
    channel = connect(f"[::1]:{port}")
    info = await _describe(channel, handlers)
    assert info["peer"].startswith("ipv6:[::1]:")


async def test_unix_socket(serve, connect, methods, make_probe, handlers, tmp_path):
    sock_path = tmp_path / "grpcx.sock"
    _server, port = await serve(*methods(make_probe()), address=f"unix:{sock_path}")
    assert port == 0
    channel = connect(f"unix:{sock_path}")
    info = await _describe(channel, handlers)
    assert info["peer"].startswith("unix:")
    # unix:///abs/path form too
    channel2 = connect(f"unix://{sock_path}")
    assert await asyncio.wait_for(channel2.unary_unary(handlers.path("Echo"))(b"hi"), WAIT) == (
        b"hi"
    )


async def test_add_port_after_start_listens_at_once(serve, connect, methods, make_probe, handlers):
    server, _ = await serve(*methods(make_probe()))
    port2 = await server.add_port("127.0.0.1:0")
    channel = connect(f"127.0.0.1:{port2}")
    assert await asyncio.wait_for(channel.unary_unary(handlers.path("Echo"))(b"x"), WAIT) == b"x"


# ---------------------------------------------------------------------- the context


async def test_invocation_metadata_text_and_binary(echo, handlers):
    info = await _describe(
        echo.channel,
        handlers,
        metadata=[("x-text", "hello"), ("x-data-bin", b"\x00\xff\x01"), ("x-text", "again")],
    )
    assert ["x-text", "hello"] in info["metadata"]
    assert ["x-text", "again"] in info["metadata"]
    assert ["x-data-bin", "00ff01"] in info["metadata"]
    # grpc-* and transport headers are not metadata
    assert not any(
        key.startswith((":", "grpc-", "content-type", "te")) for key, _ in info["metadata"]
    )


async def test_time_remaining(echo, handlers):
    info = await _describe(echo.channel, handlers, timeout=5.0)
    assert 3.0 < info["time_remaining"] <= 5.0
    info = await _describe(echo.channel, handlers)
    assert info["time_remaining"] is None
    assert info["cancelled"] is False


async def test_initial_metadata_early_and_trailing_metadata(serve, connect, handlers):
    sent_early = asyncio.Event()

    async def handler(request: bytes, context: ServicerContext) -> bytes:
        context.send_initial_metadata([("x-initial", "1"), ("x-initial-bin", b"\x01\x02")])
        with pytest.raises(RuntimeError):
            context.send_initial_metadata([("x-twice", "1")])
        await sent_early.wait()
        context.set_trailing_metadata([("x-trailing", "2"), ("x-trailing-bin", b"\x03")])
        return b"ok"

    _, port = await serve(handlers.unary("M", handler))
    call = connect(f"127.0.0.1:{port}").unary_unary(handlers.path("M"))(b"")
    task = asyncio.ensure_future(call)
    # The initial metadata arrives while the handler is still waiting.
    initial = await asyncio.wait_for(call.initial_metadata(), WAIT)
    assert initial.get("x-initial") == "1"
    assert initial.get("x-initial-bin") == b"\x01\x02"
    assert not task.done()
    sent_early.set()
    assert await asyncio.wait_for(task, WAIT) == b"ok"
    trailing = await call.trailing_metadata()
    assert trailing.get("x-trailing") == "2"
    assert trailing.get("x-trailing-bin") == b"\x03"
    assert await call.code() == StatusCode.OK


async def test_abort_with_rich_status(serve, connect, handlers):
    bad = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field="name", description="empty")
        ]
    )
    detail = any_pb2.Any()
    detail.Pack(bad)
    status = status_pb2.Status(
        code=StatusCode.INVALID_ARGUMENT, message="name is empty", details=[detail]
    )

    async def handler(request: bytes, context: ServicerContext) -> bytes:
        context.abort(
            StatusCode.INVALID_ARGUMENT,
            "name is empty ✗",
            status_details=status,
            trailing_metadata=[("x-why", "because")],
        )

    async def suspending(request: bytes, context: ServicerContext) -> bytes:
        await asyncio.sleep(0.01)
        context.abort(StatusCode.PERMISSION_DENIED, "no")

    _, port = await serve(handlers.unary("M", handler), handlers.unary("S", suspending))
    channel = connect(f"127.0.0.1:{port}")
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(channel.unary_unary(handlers.path("M"))(b""), WAIT)
    error = info.value
    assert error.code() == StatusCode.INVALID_ARGUMENT
    assert error.details() == "name is empty ✗"
    assert error.trailing_metadata().get("x-why") == "because"
    assert error.status_details is not None
    assert error.status_details.code == StatusCode.INVALID_ARGUMENT
    unpacked = error_details_pb2.BadRequest()
    assert error.status_details.details[0].Unpack(unpacked)
    assert unpacked.field_violations[0].field == "name"
    # After a suspension too (the Task path).
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(channel.unary_unary(handlers.path("S"))(b""), WAIT)
    assert info.value.code() == StatusCode.PERMISSION_DENIED
    assert info.value.details() == "no"


async def test_abort_in_streaming_handler_after_messages(serve, connect, handlers):
    async def handler(request: bytes, context: ServicerContext) -> Any:
        yield b"one"
        context.abort(StatusCode.OUT_OF_RANGE, "enough")

    _, port = await serve(handlers.server_stream("M", handler))
    call = connect(f"127.0.0.1:{port}").unary_stream(handlers.path("M"))(b"")
    received = []
    with pytest.raises(RpcError) as info:
        async for message in call:
            received.append(message)
    assert received == [b"one"]
    assert info.value.code() == StatusCode.OUT_OF_RANGE
    assert info.value.details() == "enough"


async def test_set_code_and_details_without_abort(serve, connect, handlers):
    async def handler(request: bytes, context: ServicerContext) -> bytes:
        context.set_code(StatusCode.NOT_FOUND)
        context.set_details("nothing here")
        return b"ignored"

    _, port = await serve(handlers.unary("M", handler))
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(
            connect(f"127.0.0.1:{port}").unary_unary(handlers.path("M"))(b""), WAIT
        )
    assert (info.value.code(), info.value.details()) == (StatusCode.NOT_FOUND, "nothing here")


async def test_unimplemented(echo, handlers):
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(echo.channel.unary_unary(handlers.path("Nope"))(b""), WAIT)
    assert info.value.code() == StatusCode.UNIMPLEMENTED
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(echo.channel.unary_unary("/no.Such/Service")(b""), WAIT)
    assert info.value.code() == StatusCode.UNIMPLEMENTED
    # streaming calls to an unknown method too
    call = echo.channel.stream_stream("/no.Such/Service")([b"a", b"b"])
    with pytest.raises(RpcError) as info:
        async for _ in call:
            pass
    assert info.value.code() == StatusCode.UNIMPLEMENTED
    # the server still serves
    assert await asyncio.wait_for(echo.unary("Echo")(b"ok"), WAIT) == b"ok"


async def test_exception_in_handler_is_unknown_without_leaking(echo, caplog):
    with caplog.at_level(logging.ERROR, logger="grpcx.server"), pytest.raises(RpcError) as info:
        await asyncio.wait_for(echo.unary("Fail")(b""), WAIT)
    assert info.value.code() == StatusCode.UNKNOWN
    assert "secret" not in info.value.details()
    assert "42" not in info.value.details()
    assert "secret internal detail 42" in caplog.text  # it goes to the server's log


async def test_exception_in_streaming_handler(serve, connect, handlers):
    async def handler(request: bytes, context: ServicerContext) -> Any:
        yield b"a"
        raise KeyError("secret-key")

    _, port = await serve(handlers.server_stream("M", handler))
    call = connect(f"127.0.0.1:{port}").unary_stream(handlers.path("M"))(b"")
    with pytest.raises(RpcError) as info:
        async for _ in call:
            pass
    assert info.value.code() == StatusCode.UNKNOWN
    assert "secret" not in info.value.details()


# ---------------------------------------------------------------------- deadlines, cancellation


async def test_deadline_cancels_handler(echo):
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(echo.unary("Hang")(b"d1", timeout=0.2), WAIT)
    assert info.value.code() == StatusCode.DEADLINE_EXCEEDED
    await asyncio.wait_for(echo.probe.event("cancelled", "d1").wait(), WAIT)


async def test_deadline_cancels_streaming_handler(echo):
    call = echo.unary_stream("HangStream")(b"d2", timeout=0.3)
    assert await asyncio.wait_for(call.read(), WAIT) == b"first"
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(call.read(), WAIT)
    assert info.value.code() == StatusCode.DEADLINE_EXCEEDED
    await asyncio.wait_for(echo.probe.event("cancelled", "d2").wait(), WAIT)


async def test_server_enforces_deadline_without_client_timer(raw_client, echo):
    """The server itself ends the call at grpc-timeout, whatever the client does."""
    client = await raw_client(echo.port)
    sid = client.request("Hang", port=echo.port, extra=[(b"grpc-timeout", b"200m")])
    client.send(sid, b"\x00\x00\x00\x00\x03srv", end_stream=True)
    response = await client.response(sid)
    assert response.grpc_status == StatusCode.DEADLINE_EXCEEDED
    await asyncio.wait_for(echo.probe.event("cancelled", "srv").wait(), WAIT)


async def test_client_cancel_cancels_handler(echo):
    call = echo.unary("Hang")(b"c1")
    task = asyncio.ensure_future(call)
    await asyncio.wait_for(echo.probe.event("started", "c1").wait(), WAIT)
    assert call.cancel()
    await asyncio.wait_for(echo.probe.event("cancelled", "c1").wait(), WAIT)
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(task, WAIT)
    assert info.value.code() == StatusCode.CANCELLED
    assert call.cancelled()
    assert await asyncio.wait_for(echo.unary("Echo")(b"after"), WAIT) == b"after"


async def test_context_cancelled_flag(serve, connect, handlers):
    seen: list[bool] = []
    done = asyncio.Event()

    async def handler(request: bytes, context: ServicerContext) -> bytes:
        try:
            await asyncio.sleep(WAIT)
        finally:
            seen.append(context.cancelled())
            done.set()
        return b""

    _, port = await serve(handlers.unary("M", handler))
    with pytest.raises(RpcError):
        await asyncio.wait_for(
            connect(f"127.0.0.1:{port}").unary_unary(handlers.path("M"))(b"", timeout=0.1), WAIT
        )
    await asyncio.wait_for(done.wait(), WAIT)
    assert seen == [True]


async def test_expired_deadline_is_refused_without_running(echo, raw_client):
    client = await raw_client(echo.port)
    sid = client.request("Hang", port=echo.port, extra=[(b"grpc-timeout", b"0n")])
    client.send(sid, b"\x00\x00\x00\x00\x03exp", end_stream=True)
    response = await client.response(sid)
    assert response.grpc_status == StatusCode.DEADLINE_EXCEEDED
    assert "exp" not in echo.probe.started


# ---------------------------------------------------------------------- message size limits


async def test_max_receive_default_4mib(echo):
    big = b"x" * (4 * 1024 * 1024 + 1)
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(echo.unary("Echo")(big), WAIT)
    assert info.value.code() == StatusCode.RESOURCE_EXHAUSTED
    # exactly the limit passes (a response of 4 MiB is under the client's default too)
    ok = b"y" * (4 * 1024 * 1024)
    assert await asyncio.wait_for(echo.unary("Echo")(ok), WAIT) == ok


async def test_server_max_send(serve, connect, methods, make_probe, handlers):
    _, port = await serve(*methods(make_probe()), max_send_message_length=1000)
    channel = connect(f"127.0.0.1:{port}")
    assert (
        len(await asyncio.wait_for(channel.unary_unary(handlers.path("Size"))(b"1000"), WAIT))
        == 1000
    )
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(channel.unary_unary(handlers.path("Size"))(b"1001"), WAIT)
    assert info.value.code() == StatusCode.RESOURCE_EXHAUSTED


async def test_server_max_receive_custom(serve, connect, methods, make_probe, handlers):
    _, port = await serve(*methods(make_probe()), max_receive_message_length=100)
    channel = connect(f"127.0.0.1:{port}")
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(channel.unary_unary(handlers.path("Echo"))(b"z" * 101), WAIT)
    assert info.value.code() == StatusCode.RESOURCE_EXHAUSTED
    call = channel.stream_unary(handlers.path("Concat"))([b"a", b"z" * 101])
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(call, WAIT)
    assert info.value.code() == StatusCode.RESOURCE_EXHAUSTED
    assert await asyncio.wait_for(channel.unary_unary(handlers.path("Echo"))(b"z" * 100), WAIT)


async def test_client_max_receive(echo, connect, handlers):
    channel = connect(f"127.0.0.1:{echo.port}", max_receive_message_length=1000)
    assert (
        len(await asyncio.wait_for(channel.unary_unary(handlers.path("Size"))(b"1000"), WAIT))
        == 1000
    )
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(channel.unary_unary(handlers.path("Size"))(b"1001"), WAIT)
    assert info.value.code() == StatusCode.RESOURCE_EXHAUSTED
    # the default 4 MiB on the client
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(echo.unary("Size")(b"%d" % (4 * 1024 * 1024 + 1)), WAIT)
    assert info.value.code() == StatusCode.RESOURCE_EXHAUSTED


async def test_client_max_send(echo, connect, handlers):
    channel = connect(f"127.0.0.1:{echo.port}", max_send_message_length=10)
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(channel.unary_unary(handlers.path("Echo"))(b"x" * 11), WAIT)
    assert info.value.code() == StatusCode.RESOURCE_EXHAUSTED
    assert await asyncio.wait_for(channel.unary_unary(handlers.path("Echo"))(b"x" * 10), WAIT)


# ---------------------------------------------------------------------- the eager first step


async def test_timeout_and_taskgroup_in_unary_handler(serve, connect, handlers):
    if sys.version_info < (3, 11):
        pytest.skip("asyncio.timeout and TaskGroup need Python 3.11")

    async def child(x: int) -> int:
        await asyncio.sleep(0)
        return x * 2

    async def first_step(request: bytes, context: ServicerContext) -> bytes:
        # Entered before the handler first suspends: current_task() is the placeholder.
        async with asyncio.timeout(5):
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(child(i)) for i in range(3)]
        return b"%d" % sum(t.result() for t in tasks)

    async def after_suspend(request: bytes, context: ServicerContext) -> bytes:
        await asyncio.sleep(0.001)
        async with asyncio.timeout(5):
            async with asyncio.TaskGroup() as group:
                task = group.create_task(child(21))
        return b"%d" % task.result()

    async def timeout_fires_in_first_step(request: bytes, context: ServicerContext) -> bytes:
        try:
            async with asyncio.timeout(0.05):
                await asyncio.sleep(WAIT)
        except TimeoutError:
            return b"timed out"
        return b"not timed out"

    async def timeout_fires_after_suspend(request: bytes, context: ServicerContext) -> bytes:
        await asyncio.sleep(0)
        try:
            async with asyncio.timeout(0.05):
                await asyncio.sleep(WAIT)
        except TimeoutError:
            return b"timed out"
        return b"not timed out"

    async def taskgroup_child_fails(request: bytes, context: ServicerContext) -> bytes:
        async def boom() -> None:
            raise ValueError("boom")

        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(boom())
                group.create_task(asyncio.sleep(WAIT))
        except Exception as exc:  # an ExceptionGroup (3.11+; no except* on 3.10)
            return b"caught" if "boom" in repr(exc) else b"other"
        return b"not caught"

    async def sync_timeout_zero(request: bytes, context: ServicerContext) -> bytes:
        # Expires before the first suspension: the cancel is requested of the placeholder.
        try:
            async with asyncio.timeout(0):
                await asyncio.sleep(WAIT)
        except TimeoutError:
            return b"timed out"
        return b"not timed out"

    _, port = await serve(
        handlers.unary("First", first_step),
        handlers.unary("After", after_suspend),
        handlers.unary("TimeoutFirst", timeout_fires_in_first_step),
        handlers.unary("TimeoutAfter", timeout_fires_after_suspend),
        handlers.unary("GroupFails", taskgroup_child_fails),
        handlers.unary("Zero", sync_timeout_zero),
    )
    channel = connect(f"127.0.0.1:{port}")

    async def call(name: str) -> bytes:
        result: bytes = await asyncio.wait_for(channel.unary_unary(handlers.path(name))(b""), WAIT)
        return result

    assert await call("First") == b"6"
    assert await call("After") == b"42"
    assert await call("TimeoutFirst") == b"timed out"
    assert await call("TimeoutAfter") == b"timed out"
    assert await call("GroupFails") == b"caught"
    assert await call("Zero") == b"timed out"
    # and many at once
    results = await asyncio.wait_for(
        asyncio.gather(*(call(n) for n in ["First", "TimeoutFirst", "After"] * 20)), WAIT
    )
    assert results == [b"6", b"timed out", b"42"] * 20


async def test_many_concurrent_unary_calls(echo):
    results = await asyncio.wait_for(
        asyncio.gather(*(echo.unary("Echo")(b"%d" % i) for i in range(500))), WAIT
    )
    assert results == [b"%d" % i for i in range(500)]


async def test_unary_handler_current_task_and_cancel_after_suspend(serve, connect, handlers):
    """A handler continued in a Task is a normal Task: it can be cancelled by deadline
    while awaiting a future created in its first step."""
    done = asyncio.Event()
    outcome: list[str] = []

    async def handler(request: bytes, context: ServicerContext) -> bytes:
        fut = asyncio.get_running_loop().create_future()
        try:
            await fut
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise
        finally:
            done.set()
        return b""

    _, port = await serve(handlers.unary("M", handler))
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(
            connect(f"127.0.0.1:{port}").unary_unary(handlers.path("M"))(b"", timeout=0.1), WAIT
        )
    assert info.value.code() == StatusCode.DEADLINE_EXCEEDED
    await asyncio.wait_for(done.wait(), WAIT)
    assert outcome == ["cancelled"]


# ---------------------------------------------------------------------- shutdown


async def test_graceful_stop(serve, connect, methods, make_probe, handlers):
    probe = make_probe()
    server, port = await serve(*methods(probe))
    channel = connect(f"127.0.0.1:{port}")
    hang = channel.unary_unary(handlers.path("Hang"))
    quick = asyncio.ensure_future(hang(b"g1"))
    slow = asyncio.ensure_future(hang(b"g2"))
    await asyncio.wait_for(probe.event("started", "g1").wait(), WAIT)
    await asyncio.wait_for(probe.event("started", "g2").wait(), WAIT)

    # A grace far longer than WAIT: stop() must return because the calls ended, not
    # because the grace ran out.
    stopping = asyncio.ensure_future(server.stop(20 * WAIT))
    await asyncio.sleep(0.05)
    # New calls after stop() fail UNAVAILABLE (GOAWAY on the old connection, refused after).
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(channel.unary_unary(handlers.path("Echo"))(b"x"), WAIT)
    assert info.value.code() == StatusCode.UNAVAILABLE
    # A call in flight may finish within the grace period...
    probe.release.set()
    assert await asyncio.wait_for(quick, WAIT) == b"released"
    assert await asyncio.wait_for(slow, WAIT) == b"released"
    await asyncio.wait_for(stopping, WAIT)


async def test_stop_cancels_calls_after_grace(serve, connect, methods, make_probe, handlers):
    probe = make_probe()
    server, port = await serve(*methods(probe))
    channel = connect(f"127.0.0.1:{port}")
    call = asyncio.ensure_future(channel.unary_unary(handlers.path("Hang"))(b"g3"))
    stream = channel.unary_stream(handlers.path("HangStream"))(b"g4")
    assert await asyncio.wait_for(stream.read(), WAIT) == b"first"
    await asyncio.wait_for(probe.event("started", "g3").wait(), WAIT)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.wait_for(server.stop(0.3), WAIT)
    assert loop.time() - started >= 0.25
    await asyncio.wait_for(probe.event("cancelled", "g3").wait(), WAIT)
    await asyncio.wait_for(probe.event("cancelled", "g4").wait(), WAIT)
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(call, WAIT)
    assert info.value.code() in (StatusCode.UNAVAILABLE, StatusCode.CANCELLED)
    with pytest.raises(RpcError):
        await asyncio.wait_for(stream.read(), WAIT)
    # After stop the port refuses: new calls fail UNAVAILABLE.
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(channel.unary_unary(handlers.path("Echo"))(b"x"), WAIT)
    assert info.value.code() == StatusCode.UNAVAILABLE
    assert await server.wait_for_termination(0)


async def test_stop_sends_goaway(serve, raw_client, methods, make_probe):
    """gRPC's two-step graceful shutdown: GOAWAY(2^31-1) and a PING, then (here after the
    PING goes unanswered) the final GOAWAY naming the last stream processed."""
    server, port = await serve(*methods(make_probe()))
    client = await raw_client(port)
    sid = client.request("Echo", port=port)
    client.send(sid, b"\x00\x00\x00\x00\x01a", end_stream=True)
    response = await client.response(sid)
    assert response.data == b"\x00\x00\x00\x00\x01a"
    await asyncio.wait_for(server.stop(5), WAIT)
    wire = b""
    while data := await asyncio.wait_for(client.reader.read(65536), WAIT):
        wire += data
    reader = fr.FrameReader(max_frame_size=fr.MAX_FRAME_SIZE_LIMIT)
    reader.feed(wire)
    frames = [fr.decode_frame(*raw) for raw in reader.read_frames()]
    kinds = [(f.type, f.last_stream_id, f.error_code) for f in frames if f.type == fr.GOAWAY]
    assert kinds == [(fr.GOAWAY, 2**31 - 1, 0), (fr.GOAWAY, sid, 0)]
    assert any(f.type == fr.PING and not f.flags & fr.FLAG_ACK for f in frames)


async def test_stop_finishes_once_the_shutdown_ping_is_answered(
    serve, connect, methods, make_probe, monkeypatch
):
    """With a real client the PING is answered: the final GOAWAY does not wait for the
    fallback timer (set here far beyond WAIT, so only the answer can end stop())."""
    monkeypatch.setattr(server_module, "_SHUTDOWN_PING_TIMEOUT", 1000.0)
    server, port = await serve(*methods(make_probe()))
    channel = connect(f"127.0.0.1:{port}")
    call = channel.unary_unary("/grpcx.test.Test/Echo")
    assert await asyncio.wait_for(call(b"x"), WAIT) == b"x"
    await asyncio.wait_for(server.stop(20 * WAIT), WAIT)


async def test_server_context_manager(methods, make_probe, connect, handlers):
    server = Server()
    server.add_service(
        __import__("grpcx").ServiceDefinition(handlers.SERVICE, methods(make_probe()))
    )
    port = await server.add_port("127.0.0.1:0")
    async with server:
        channel = connect(f"127.0.0.1:{port}")
        assert (
            await asyncio.wait_for(channel.unary_unary(handlers.path("Echo"))(b"m"), WAIT) == b"m"
        )
    assert await server.wait_for_termination(0)


def test_metadata_type_reexported() -> None:
    assert Metadata([("a", "b")]).get("a") == "b"


async def test_abort_keeps_trailing_metadata_set_before(serve, connect, handlers):
    async def handler(request: bytes, context: ServicerContext) -> bytes:
        context.set_trailing_metadata([("x-t", "1")])
        context.abort(StatusCode.INTERNAL, "boom")

    async def explicit(request: bytes, context: ServicerContext) -> bytes:
        context.set_trailing_metadata([("x-t", "1")])
        context.abort(StatusCode.INTERNAL, "boom", trailing_metadata=[("x-t", "2")])

    _, port = await serve(handlers.unary("M", handler), handlers.unary("E", explicit))
    channel = connect(f"127.0.0.1:{port}")
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(channel.unary_unary(handlers.path("M"))(b""), WAIT)
    assert info.value.trailing_metadata().get("x-t") == "1"
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(channel.unary_unary(handlers.path("E"))(b""), WAIT)
    assert info.value.trailing_metadata().get_all("x-t") == ["2"]


async def test_unix_socket_file_is_removed_on_stop_and_other_files_are_kept(tmp_path):
    path = tmp_path / "grpcx.sock"
    server = Server()
    server.add_service(ServiceDefinition("t.U", []))
    await server.add_port(f"unix:{path}")
    await server.start()
    assert path.exists()
    await server.stop(0)
    assert not path.exists()

    # A stale socket left by a crashed server is replaced; a regular file is never deleted.
    regular = tmp_path / "not-a-socket"
    regular.write_text("keep me")
    other = Server()
    with pytest.raises(OSError):
        await other.add_port(f"unix:{regular}")
    assert regular.read_text() == "keep me"
