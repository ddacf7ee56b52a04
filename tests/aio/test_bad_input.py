"""Bad input from a peer, crafted with python-hyper's h2: every bad call ends in a defined
status, the handler (if any) is cancelled, and the same server keeps serving."""

from __future__ import annotations

import asyncio
import gc
import json
from typing import Any

import h2.config
import h2.connection
import h2.events
import pytest

from grpcx import RpcError, StatusCode
from grpcx.aio import ServicerContext

WAIT = 10.0


@pytest.fixture
async def target(echo, raw_client):
    """The echo server, a raw client to it, and a check that it still serves."""

    class Target:
        port = echo.port
        probe = echo.probe

        @staticmethod
        async def client() -> Any:
            return await raw_client(echo.port)

        @staticmethod
        async def still_serves() -> None:
            assert await asyncio.wait_for(echo.unary("Echo")(b"alive"), WAIT) == b"alive"
            call = echo.stream_stream("EchoStream")([b"s"])
            assert [m async for m in call] == [b"s", b"end"]

    return Target


async def test_non_grpc_content_type_is_415(target):
    client = await target.client()
    sid = client.request("Echo", port=target.port, content_type=b"text/plain")
    client.send(sid, b"hello", end_stream=True)
    response = await client.response(sid)
    assert response.headers[b":status"] == b"415"
    await target.still_serves()


async def test_non_grpc_content_type_with_nghttp(target):
    import shutil
    import subprocess

    if shutil.which("nghttp") is None:
        pytest.skip("nghttp is not installed")
    proc = await asyncio.create_subprocess_exec(
        "nghttp", "-v", "-H", ":method: POST", "-H", "content-type: text/plain",
        f"http://127.0.0.1:{target.port}/grpcx.test.Test/Echo",
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), WAIT)
    assert b":status: 415" in out
    await target.still_serves()


async def test_get_is_405(target):
    client = await target.client()
    sid = client.h2.get_next_available_stream_id()
    client.h2.send_headers(
        sid,
        [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/grpcx.test.Test/Echo"),
         (b":authority", b"x"), (b"content-type", b"application/grpc")],
        end_stream=True,
    )  # fmt: skip
    client.flush()
    response = await client.response(sid)
    assert response.headers[b":status"] == b"405"
    await target.still_serves()


async def test_truncated_message_at_end_of_stream(target, frame):
    client = await target.client()
    sid = client.request("Echo", port=target.port)
    client.send(sid, frame(b"0123456789")[:-3], end_stream=True)
    response = await client.response(sid)
    assert response.grpc_status == StatusCode.INTERNAL
    # the same on a streaming method
    sid = client.request("Concat", port=target.port)
    client.send(sid, frame(b"ok") + frame(b"0123456789")[:8], end_stream=True)
    response = await client.response(sid)
    assert response.grpc_status == StatusCode.INTERNAL
    await target.still_serves()


async def test_length_prefix_over_the_limit(target):
    client = await target.client()
    huge = (4 * 1024 * 1024 + 1).to_bytes(4, "big")
    sid = client.request("Echo", port=target.port)
    client.send(sid, b"\x00" + huge)  # the prefix alone decides: no need to send the body
    response = await client.response(sid)
    assert response.grpc_status == StatusCode.RESOURCE_EXHAUSTED
    sid = client.request("EchoStream", port=target.port)
    client.send(sid, b"\x00" + (2**32 - 1).to_bytes(4, "big"))
    response = await client.response(sid)
    assert response.grpc_status == StatusCode.RESOURCE_EXHAUSTED
    await target.still_serves()


async def test_compressed_flag_without_encoding(target, frame):
    client = await target.client()
    sid = client.request("Echo", port=target.port)
    client.send(sid, frame(b"abc", compressed=True), end_stream=True)
    response = await client.response(sid)
    assert response.grpc_status == StatusCode.INTERNAL
    sid = client.request("EchoStream", port=target.port)
    client.send(sid, frame(b"abc", compressed=True), end_stream=True)
    response = await client.response(sid)
    assert response.grpc_status == StatusCode.INTERNAL
    await target.still_serves()


async def test_bad_compressed_payload(target, frame):
    client = await target.client()
    sid = client.request("Echo", port=target.port, extra=[(b"grpc-encoding", b"gzip")])
    client.send(sid, frame(b"not gzip at all", compressed=True), end_stream=True)
    response = await client.response(sid)
    assert response.grpc_status == StatusCode.INTERNAL
    await target.still_serves()


async def test_unknown_encoding(target, frame):
    client = await target.client()
    sid = client.request("Echo", port=target.port, extra=[(b"grpc-encoding", b"snappy")])
    client.send(sid, frame(b"abc", compressed=True), end_stream=True)
    response = await client.response(sid)
    assert response.grpc_status == StatusCode.UNIMPLEMENTED
    accepted = response.headers[b"grpc-accept-encoding"].split(b",")
    assert b"gzip" in [a.strip() for a in accepted]
    await target.still_serves()


async def test_bad_base64_in_binary_metadata(target, frame):
    client = await target.client()
    sid = client.request("Echo", port=target.port, extra=[(b"x-data-bin", b"!!not base64!!")])
    client.send(sid, frame(b"abc"), end_stream=True)
    response = await client.response(sid)
    assert response.grpc_status == StatusCode.INTERNAL
    await target.still_serves()


async def test_unary_with_two_messages_or_none(target, frame):
    client = await target.client()
    sid = client.request("Echo", port=target.port)
    client.send(sid, frame(b"a") + frame(b"b"), end_stream=True)
    response = await client.response(sid)
    assert response.grpc_status == StatusCode.INTERNAL
    sid = client.request("Echo", port=target.port, end_stream=True)
    response = await client.response(sid)
    assert response.grpc_status == StatusCode.INTERNAL
    await target.still_serves()


async def test_unary_request_framing_across_data_frames(target, frame):
    """A unary request's one message may come in any DATA framing; anything but exactly one
    message, or a bad flag byte, is INTERNAL (each frame shape on its own stream)."""
    client = await target.client()

    async def echo(parts: list[bytes]) -> Any:
        sid = client.request("Echo", port=target.port)
        for part in parts[:-1]:
            client.send(sid, part)
        client.send(sid, parts[-1], end_stream=True)
        return await client.response(sid)

    whole = frame(b"0123456789")
    for parts in ([whole[:2], whole[2:]], [whole[:7], whole[7:]], [whole, b""]):
        response = await echo(parts)
        assert response.grpc_status == StatusCode.OK, parts
        assert response.data == whole
    bad = [
        [frame(b"a"), frame(b"b")],  # two messages, one per frame
        [frame(b"a"), frame(b"b")[:3]],  # a message and part of another
        [b"\x02" + frame(b"abc")[1:]],  # flag byte 2, in a frame holding exactly one message
    ]
    for parts in bad:
        response = await echo(parts)
        assert response.grpc_status == StatusCode.INTERNAL, parts
    await target.still_serves()


async def test_request_that_does_not_deserialize_is_internal(serve, raw_client, frame):
    """A request message protobuf cannot parse ends its call with INTERNAL, whatever the
    framing (one DATA frame with END_STREAM is the unary fast path), and the handler never
    runs; the server goes on serving."""
    from google.protobuf.wrappers_pb2 import BytesValue

    import grpcx

    ran: list[str] = []

    async def typed(request: BytesValue, context: ServicerContext) -> BytesValue:
        ran.append("unary")
        return request

    async def typed_stream(request: BytesValue, context: ServicerContext) -> Any:
        ran.append("stream")
        yield request

    _, port = await serve(
        grpcx.unary_unary("Typed", typed, BytesValue, BytesValue),
        grpcx.unary_stream("TypedStream", typed_stream, BytesValue, BytesValue),
    )
    client = await raw_client(port)

    async def call(name: str, parts: list[bytes]) -> Any:
        sid = client.request(name, port=port)
        for part in parts[:-1]:
            client.send(sid, part)
        client.send(sid, parts[-1], end_stream=True)
        return await client.response(sid)

    bad = frame(b"\xff\xff\xff\xff")  # a tag with field number 0: not protobuf
    for name in ("Typed", "TypedStream"):
        for parts in ([bad], [bad, b""], [bad[:3], bad[3:]]):
            response = await call(name, parts)
            assert response.grpc_status == StatusCode.INTERNAL, (name, parts)
            message = response.trailers.get(b"grpc-message", response.headers.get(b"grpc-message"))
            assert message is not None and b"deserialize" in message
    assert ran == []
    good = frame(BytesValue(value=b"ok").SerializeToString())
    for name in ("Typed", "TypedStream"):
        response = await call(name, [good])
        assert response.grpc_status == StatusCode.OK
        assert response.data == good
    assert ran == ["unary", "stream"]


async def test_repeated_grpc_timeout_does_not_poison_the_head_cache(echo, raw_client):
    """A request carrying grpc-timeout twice (the first counts) must not leave a cached head
    that a later request, carrying one of those values, would hit without its deadline."""

    async def time_remaining(extra: list[tuple[bytes, bytes]]) -> float | None:
        sid = client.request("Describe", port=echo.port, extra=extra)
        client.send(sid, bytes(5), end_stream=True)  # one empty message
        response = await client.response(sid)
        assert response.grpc_status == StatusCode.OK, response
        remaining: float | None = json.loads(response.data[5:])["time_remaining"]
        return remaining

    client = await raw_client(echo.port)
    first = await time_remaining([(b"grpc-timeout", b"5S"), (b"grpc-timeout", b"7S")])
    assert first is not None and 4 < first <= 5
    for _ in range(3):  # (repeats of one block: from the second on, its cached head)
        second = await time_remaining([(b"grpc-timeout", b"7S")])
        assert second is not None and 6 < second <= 7
    assert await time_remaining([]) is None


async def test_reset_mid_message_cancels_handler(target, frame):
    client = await target.client()
    sid = client.request("HangClientStream", port=target.port)
    client.send(sid, frame(b"whole") + frame(b"0123456789")[:7])
    await asyncio.wait_for(target.probe.event("started", "hang_client_stream").wait(), WAIT)
    client.reset(sid)
    await asyncio.wait_for(target.probe.event("cancelled", "hang_client_stream").wait(), WAIT)
    await target.still_serves()


async def test_reset_cancels_unary_handler(target, frame):
    client = await target.client()
    sid = client.request("Hang", port=target.port)
    client.send(sid, frame(b"rst"), end_stream=True)
    await asyncio.wait_for(target.probe.event("started", "rst").wait(), WAIT)
    client.reset(sid)
    await asyncio.wait_for(target.probe.event("cancelled", "rst").wait(), WAIT)
    await target.still_serves()


async def test_peer_vanishes_mid_call(target, frame, echo):
    client = await target.client()
    sid = client.request("Hang", port=target.port)
    client.send(sid, frame(b"gone"), end_stream=True)
    sid2 = client.request("HangStream", port=target.port)
    client.send(sid2, frame(b"gone2"), end_stream=True)
    sid3 = client.request("HangClientStream", port=target.port)
    client.send(sid3, frame(b"half")[:4])
    await asyncio.wait_for(target.probe.event("started", "gone").wait(), WAIT)
    await asyncio.wait_for(target.probe.event("started", "gone2").wait(), WAIT)
    await asyncio.wait_for(target.probe.event("started", "hang_client_stream").wait(), WAIT)
    client.writer.transport.abort()  # no GOAWAY, no FIN handshake: just gone
    await asyncio.wait_for(target.probe.event("cancelled", "gone").wait(), WAIT)
    await asyncio.wait_for(target.probe.event("cancelled", "gone2").wait(), WAIT)
    await asyncio.wait_for(target.probe.event("cancelled", "hang_client_stream").wait(), WAIT)
    await target.still_serves()
    for _ in range(50):
        if len(echo.server._connections) == 1:
            break
        await asyncio.sleep(0.01)
    assert len(echo.server._connections) == 1  # the vanished one is forgotten


async def test_garbage_instead_of_preface(target):
    reader, writer = await asyncio.open_connection("127.0.0.1", target.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    data = await asyncio.wait_for(reader.read(), WAIT)  # the server closes the connection
    assert data == b"" or b"\x07" in data[:30] or data  # (a GOAWAY may come first)
    writer.close()
    await target.still_serves()


async def test_handler_that_raises_when_called(serve, connect, handlers):
    """A handler that raises when called, before any coroutine or generator exists."""

    async def generator(request: bytes, context: ServicerContext) -> Any:
        yield b""

    async def coroutine(request: bytes, context: ServicerContext) -> Any:
        return b""

    # Plain defs are refused at registration (test_handler_kinds); these pass for async
    # as decorators that kept __wrapped__ do, and fail as a broken decorator would.
    def not_a_generator(request: bytes, context: ServicerContext) -> Any:
        raise TypeError("wrong handler")

    def not_async(requests: Any, context: ServicerContext) -> Any:
        raise TypeError("wrong handler")

    not_a_generator.__wrapped__ = generator  # type: ignore[attr-defined]
    not_async.__wrapped__ = coroutine  # type: ignore[attr-defined]

    _, port = await serve(
        handlers.server_stream("A", not_a_generator),
        handlers.client_stream("B", not_async),
        handlers.unary("C", not_async),
    )
    channel = connect(f"127.0.0.1:{port}")
    with pytest.raises(RpcError) as info:
        async for _ in channel.unary_stream(handlers.path("A"))(b""):
            pass
    assert info.value.code() == StatusCode.UNKNOWN
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(channel.stream_unary(handlers.path("B"))([b""]), WAIT)
    assert info.value.code() == StatusCode.UNKNOWN
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(channel.unary_unary(handlers.path("C"))(b""), WAIT)
    assert info.value.code() == StatusCode.UNKNOWN


async def test_streaming_call_ended_before_its_task_ran(target, frame, recwarn):
    """A streaming call that fails on its first bytes leaves no never-awaited handler."""
    client = await target.client()
    sid = client.request("Concat", port=target.port)
    client.send(sid, b"\x00" + (2**31).to_bytes(4, "big"))
    response = await client.response(sid)
    assert response.grpc_status == StatusCode.RESOURCE_EXHAUSTED
    await asyncio.sleep(0)
    gc.collect()
    assert not [w for w in recwarn if "never awaited" in str(w.message)]


# ---------------------------------------------------------------------- a bad server


class _RawServer:
    """python-hyper's h2 as a server answering each request with ``respond``."""

    def __init__(self, respond: Any) -> None:
        self.respond = respond

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding=None)
        )
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        try:
            while data := await reader.read(65536):
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.DataReceived):
                        conn.acknowledge_received_data(
                            event.flow_controlled_length, event.stream_id
                        )
                    if isinstance(event, h2.events.StreamEnded):
                        self.respond(conn, event.stream_id)
                writer.write(conn.data_to_send())
        except Exception:
            pass
        finally:  # also when the test ends and the handler is cancelled
            writer.close()


@pytest.fixture
async def bad_server(connect):
    servers: list[asyncio.AbstractServer] = []

    async def start(respond: Any) -> Any:
        server = await asyncio.start_server(_RawServer(respond).handle, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return connect(f"127.0.0.1:{port}").unary_unary("/grpcx.test.Test/Echo")

    yield start
    for server in servers:
        server.close()


OK_HEADERS = [(b":status", b"200"), (b"content-type", b"application/grpc")]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("truncated", StatusCode.INTERNAL),
        ("compressed_without_encoding", StatusCode.INTERNAL),
        ("no_trailers", StatusCode.INTERNAL),
        ("http_503", StatusCode.UNAVAILABLE),
        ("not_grpc", StatusCode.UNKNOWN),
        ("bad_status_details_bin", StatusCode.INTERNAL),  # documented in parse_trailers
        ("two_messages", StatusCode.INTERNAL),
        ("rst_refused", StatusCode.UNAVAILABLE),
    ],
)
async def test_client_against_bad_responses(bad_server, frame, name, code):
    def respond(conn: h2.connection.H2Connection, sid: int) -> None:
        if name == "truncated":
            conn.send_headers(sid, OK_HEADERS)
            conn.send_data(sid, frame(b"abcdef")[:-2])
            conn.send_headers(sid, [(b"grpc-status", b"0")], end_stream=True)
        elif name == "compressed_without_encoding":
            conn.send_headers(sid, OK_HEADERS)
            conn.send_data(sid, frame(b"abc", compressed=True))
            conn.send_headers(sid, [(b"grpc-status", b"0")], end_stream=True)
        elif name == "no_trailers":
            conn.send_headers(sid, OK_HEADERS)
            conn.send_data(sid, frame(b"abc"), end_stream=True)
        elif name == "http_503":
            conn.send_headers(sid, [(b":status", b"503")], end_stream=True)
        elif name == "not_grpc":
            conn.send_headers(sid, [(b":status", b"200"), (b"content-type", b"text/html")])
            conn.send_data(sid, b"<html>", end_stream=True)
        elif name == "bad_status_details_bin":
            conn.send_headers(
                sid,
                [*OK_HEADERS, (b"grpc-status", b"5"), (b"grpc-status-details-bin", b"!!!")],
                end_stream=True,
            )
        elif name == "two_messages":
            conn.send_headers(sid, OK_HEADERS)
            conn.send_data(sid, frame(b"a") + frame(b"b"))
            conn.send_headers(sid, [(b"grpc-status", b"0")], end_stream=True)
        elif name == "rst_refused":
            conn.reset_stream(sid, 7)

    method = await bad_server(respond)
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(method(b"x"), WAIT)
    assert info.value.code() == code


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("split", b"abcdef"),  # one message over several DATA frames
        ("prefix_alone", b"abcdef"),  # the 5-byte prefix in a frame of its own
        ("empty_data_first", b"abcdef"),
        ("two_frames", StatusCode.INTERNAL),  # two whole messages, one per frame
        ("bad_flag", StatusCode.INTERNAL),
    ],
)
async def test_client_response_framing(bad_server, frame, name, expected):
    message = frame(b"abcdef")
    pieces = {
        "split": [message[:3], message[3:7], message[7:]],
        "prefix_alone": [message[:5], message[5:]],
        "empty_data_first": [b"", message],
        "two_frames": [message, frame(b"g")],
        "bad_flag": [b"\x02" + message[1:]],
    }[name]

    def respond(conn: h2.connection.H2Connection, sid: int) -> None:
        conn.send_headers(sid, OK_HEADERS)
        for piece in pieces:
            conn.send_data(sid, piece)
        conn.send_headers(sid, [(b"grpc-status", b"0")], end_stream=True)

    method = await bad_server(respond)
    if isinstance(expected, bytes):
        assert await asyncio.wait_for(method(b"x"), WAIT) == expected
        return
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(method(b"x"), WAIT)
    assert info.value.code() == expected


async def test_client_deadlines_against_a_silent_server(bad_server, frame):
    """The client's own deadlines end calls the server never answers, each at its time,
    also after many calls that ended before their deadlines (the client drops those
    lazily) and when a later call has an earlier deadline."""
    answered = 200

    def respond(conn: h2.connection.H2Connection, sid: int) -> None:
        if sid < 2 * answered:  # client stream ids 1, 3, 5...: the first 200 calls
            conn.send_headers(sid, OK_HEADERS)
            conn.send_data(sid, frame(b"ok"))
            conn.send_headers(sid, [(b"grpc-status", b"0")], end_stream=True)

    method = await bad_server(respond)
    for _ in range(answered // 50):
        replies = await asyncio.wait_for(
            asyncio.gather(*(method(b"x", timeout=60.0) for _ in range(50))), WAIT
        )
        assert replies == [b"ok"] * 50
    loop = asyncio.get_running_loop()
    start = loop.time()
    ended: dict[float, float] = {}

    async def silent(timeout: float) -> None:
        with pytest.raises(RpcError) as info:
            await method(b"x", timeout=timeout)
        assert info.value.code() == StatusCode.DEADLINE_EXCEEDED
        ended[timeout] = loop.time() - start

    await asyncio.wait_for(asyncio.gather(silent(0.6), silent(0.2), silent(0.4)), WAIT)
    assert sorted(ended, key=ended.__getitem__) == [0.2, 0.4, 0.6]
    assert ended[0.2] >= 0.19


@pytest.mark.parametrize("value", [b"", b"123456789S", b"10x", b"-5S", b"1.5S"])
async def test_malformed_grpc_timeout_is_internal(target, frame, value):
    client = await target.client()
    sid = client.request("Echo", port=target.port, extra=[(b"grpc-timeout", value)])
    client.send(sid, frame(b"x"), end_stream=True)
    response = await client.response(sid)
    assert response.grpc_status == StatusCode.INTERNAL
    await target.still_serves()


@pytest.mark.parametrize("kind", ["unary_unary", "unary_stream"])
async def test_refused_stream_is_retried_transparently(connect, frame, kind):
    """gRFC A6: a stream the server refused unprocessed (REFUSED_STREAM) is sent again
    once; a second refusal is the caller's UNAVAILABLE."""
    attempts: list[int] = []

    def respond(conn: h2.connection.H2Connection, sid: int) -> None:
        attempts.append(sid)
        if len(attempts) % 2 == 1:  # refuse every first attempt
            conn.reset_stream(sid, 7)
            return
        conn.send_headers(sid, OK_HEADERS)
        conn.send_data(sid, frame(b"served"))
        conn.send_headers(sid, [(b"grpc-status", b"0")], end_stream=True)

    server = await asyncio.start_server(_RawServer(respond).handle, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        channel = connect(f"127.0.0.1:{port}")
        if kind == "unary_unary":
            reply = await asyncio.wait_for(channel.unary_unary("/grpcx.test.Test/Echo")(b""), WAIT)
            assert reply == b"served"
        else:
            call = channel.unary_stream("/grpcx.test.Test/Stream")(b"")
            assert [m async for m in call] == [b"served"]
        assert len(attempts) == 2 and attempts[0] != attempts[1]
    finally:
        server.close()


async def test_streaming_requests_are_not_retried(connect, frame):
    """Requests already streamed cannot be replayed: a refusal fails the call."""

    def respond(conn: h2.connection.H2Connection, sid: int) -> None:
        conn.reset_stream(sid, 7)

    server = await asyncio.start_server(_RawServer(respond).handle, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        channel = connect(f"127.0.0.1:{port}")
        with pytest.raises(RpcError) as info:
            await asyncio.wait_for(channel.stream_unary("/grpcx.test.Test/Sum")([b"a", b"b"]), WAIT)
        assert info.value.code() == StatusCode.UNAVAILABLE
    finally:
        server.close()


async def _raw_response_server(blocks: list[tuple[list[tuple[bytes, bytes]], bool]]) -> Any:
    """A server of raw frames: it answers the first request (stream 1) with ``blocks``,
    each (header list, END_STREAM), encoded by HPACK as given: no validation on the way."""
    from grpcx.http2 import frames as fr
    from grpcx.http2.hpack import Encoder

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        frames = fr.FrameReader(max_frame_size=1 << 24)
        encoder = Encoder()
        try:
            await reader.readexactly(len(fr.CONNECTION_PREFACE))
            writer.write(fr.build_settings() + fr.build_settings(ack=True))
            while data := await reader.read(65536):
                frames.feed(data)
                if any(f[0] == fr.HEADERS for f in frames.read_frames()):
                    for headers, end in blocks:
                        block = encoder.encode(headers)
                        writer.write(fr.build_headers(1, block, end_stream=end))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


TRAILERS_OK = [(b"grpc-status", b"0")]
MALFORMED_RESPONSES: dict[str, tuple[list[tuple[list[tuple[bytes, bytes]], bool]], str]] = {
    "no :status": ([([(b"content-type", b"application/grpc")], False)], "missing :status"),
    ":status abc": ([([(b":status", b"abc")], False)], "bad :status"),
    'grpc-status " 0"': (
        [(OK_HEADERS, False), ([(b"grpc-status", b" 0")], True)],
        "invalid value for b'grpc-status'",
    ),
    "uppercase name": ([([*OK_HEADERS, (b"X-Upper", b"1")], False)], "invalid field name"),
    "connection header": (
        [([*OK_HEADERS, (b"connection", b"close")], False)],
        "connection-specific field",
    ),
    "trailers without END_STREAM": (
        [(OK_HEADERS, False), (TRAILERS_OK, False)],
        "trailers without END_STREAM",
    ),
    "two header blocks": ([(OK_HEADERS, False), (OK_HEADERS, False)], "without END_STREAM"),
    "pseudo-header in trailers": (
        [(OK_HEADERS, False), ([(b":status", b"200"), *TRAILERS_OK], True)],
        "pseudo-header in trailers",
    ),
}


@pytest.mark.parametrize("name", list(MALFORMED_RESPONSES))
async def test_client_names_what_was_wrong_with_a_malformed_response(connect, name):
    """The client's own core resets a malformed response's stream: the call ends INTERNAL
    with details that say what was wrong, not that the server reset it."""
    blocks, problem = MALFORMED_RESPONSES[name]
    server = await _raw_response_server(blocks)
    try:
        port = server.sockets[0].getsockname()[1]
        method = connect(f"127.0.0.1:{port}").unary_unary("/grpcx.test.Test/Echo")
        with pytest.raises(RpcError) as info:
            await asyncio.wait_for(method(b"x"), WAIT)
    finally:
        server.close()
    assert info.value.code() == StatusCode.INTERNAL
    assert info.value.details().startswith("invalid response from the server: malformed headers:")
    assert problem in info.value.details()
    assert "reset by the server" not in info.value.details()


async def test_client_names_the_code_of_a_server_reset(bad_server):
    method = await bad_server(lambda conn, sid: conn.reset_stream(sid, 2))
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(method(b"x"), WAIT)
    assert info.value.code() == StatusCode.INTERNAL
    assert info.value.details() == "stream reset by the server with INTERNAL_ERROR (HTTP/2 error 2)"
