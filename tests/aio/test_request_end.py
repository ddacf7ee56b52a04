"""How a client call ends its request stream, frame by frame.

A unary or server-streaming request ends with END_STREAM on the DATA frame of its one
message. A client- or bidi-streaming request always ends with a DATA frame carrying
END_STREAM (empty when it follows the last message), never on its HEADERS frame, even
with no messages at all: grpc-go 1.33's server never answers a streaming request whose
HEADERS end the stream (the interop case ``empty_stream``).

A recording server (python-hyper's h2) notes each request's frames as
``("headers", end_stream)`` and ``("data", length, end_stream)``, and answers every
request with one message and an OK status once the request has ended.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import h2.config
import h2.connection
import h2.events
import pytest

from grpcx.aio import EOF

WAIT = 10.0
PATH = "/grpcx.test.Test/M"
Frames = list[tuple[Any, ...]]


class _RecordingServer:
    def __init__(self) -> None:
        self.streams: dict[int, Frames] = {}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding=None)
        )
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        try:
            while data := await reader.read(65536):
                for event in conn.receive_data(data):
                    self._record(conn, event)
                writer.write(conn.data_to_send())
        except Exception:
            pass
        finally:
            writer.close()

    def _record(self, conn: h2.connection.H2Connection, event: Any) -> None:
        if isinstance(event, h2.events.RequestReceived):
            ended = event.stream_ended is not None
            self.streams.setdefault(event.stream_id, []).append(("headers", ended))
        elif isinstance(event, h2.events.DataReceived):
            ended = event.stream_ended is not None
            frames = self.streams.setdefault(event.stream_id, [])
            frames.append(("data", len(event.data), ended))
            if event.flow_controlled_length:
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            sid = event.stream_id
            conn.send_headers(sid, [(b":status", b"200"), (b"content-type", b"application/grpc")])
            conn.send_data(sid, b"\x00\x00\x00\x00\x02ok")
            conn.send_headers(sid, [(b"grpc-status", b"0")], end_stream=True)


@pytest.fixture
async def recorder(
    connect: Callable[..., Any],
) -> AsyncIterator[Callable[[], Awaitable[tuple[_RecordingServer, Any]]]]:
    servers: list[asyncio.AbstractServer] = []

    async def start() -> tuple[_RecordingServer, Any]:
        recording = _RecordingServer()
        server = await asyncio.start_server(recording.handle, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return recording, connect(f"127.0.0.1:{port}")

    yield start
    for server in servers:
        server.close()


def _only_stream(recording: _RecordingServer) -> Frames:
    assert len(recording.streams) == 1
    return next(iter(recording.streams.values()))


async def test_unary_request_ends_on_its_message(recorder):
    recording, channel = await recorder()
    assert await asyncio.wait_for(channel.unary_unary(PATH)(b"abc"), WAIT) == b"ok"
    assert _only_stream(recording) == [("headers", False), ("data", 8, True)]


async def test_server_streaming_request_ends_on_its_message(recorder):
    recording, channel = await recorder()
    call = channel.unary_stream(PATH)(b"abc")
    assert await asyncio.wait_for(call.read(), WAIT) == b"ok"
    assert await asyncio.wait_for(call.read(), WAIT) is EOF
    assert _only_stream(recording) == [("headers", False), ("data", 8, True)]


@pytest.mark.parametrize("how", ["iterator", "done_writing"])
async def test_empty_client_streaming_request_ends_on_empty_data(recorder, how):
    recording, channel = await recorder()
    if how == "iterator":
        call = channel.stream_unary(PATH)(iter([]))
    else:
        call = channel.stream_unary(PATH)()
        await asyncio.wait_for(call.done_writing(), WAIT)
    assert await asyncio.wait_for(call, WAIT) == b"ok"
    assert _only_stream(recording) == [("headers", False), ("data", 0, True)]


@pytest.mark.parametrize("how", ["iterator", "done_writing"])
async def test_empty_bidi_request_ends_on_empty_data(recorder, how):
    recording, channel = await recorder()
    if how == "iterator":
        call = channel.stream_stream(PATH)(iter([]))
    else:
        call = channel.stream_stream(PATH)()
        await asyncio.wait_for(call.done_writing(), WAIT)
    assert await asyncio.wait_for(call.read(), WAIT) == b"ok"
    assert await asyncio.wait_for(call.read(), WAIT) is EOF
    assert _only_stream(recording) == [("headers", False), ("data", 0, True)]


async def test_bidi_request_with_messages_ends_on_empty_data(recorder):
    recording, channel = await recorder()
    call = channel.stream_stream(PATH)()
    await asyncio.wait_for(call.write(b"a"), WAIT)
    await asyncio.wait_for(call.write(b"bc"), WAIT)
    await asyncio.wait_for(call.done_writing(), WAIT)
    assert await asyncio.wait_for(call.read(), WAIT) == b"ok"
    assert _only_stream(recording) == [
        ("headers", False),
        ("data", 6, False),
        ("data", 7, False),
        ("data", 0, True),
    ]
