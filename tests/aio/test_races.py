"""A peer's frames that race the server's answers within one read.

The server handles a read's events only after the whole read is parsed, so by the time it
answers a request, a later frame of the same read may have reset that stream or ended the
connection. Answering then must be a no-op: nothing may raise out of ``data_received``
(asyncio would abort the transport: no GOAWAY, every other call lost), nothing may raise
into a handler, and nothing is logged as an error. Each case below arrives in one write;
the fuzz at the end writes random interleavings of such frames, in one read or split.

The server connection is driven directly (``data_received`` on a transport that records
what is written), so an exception out of it fails the test where it is raised.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import hpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import grpcx
from grpcx.aio import Server
from grpcx.aio.server import _ServerConnection
from grpcx.http2 import frames as fr
from grpcx.http2.errors import ErrorCode
from grpcx.http2.hpack import Encoder

SERVICE = "grpcx.test.Race"


class _Transport(asyncio.Transport):
    """Records what the server writes; closing it ends the connection as a socket would."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.loop = loop
        self.written = bytearray()
        self.closed = False
        self.aborted = False
        self.protocol: _ServerConnection | None = None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default

    def write(self, data: Any) -> None:
        assert not self.closed, "write after close"
        self.written += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.protocol is not None:
                self.loop.call_soon(self.protocol.connection_lost, None)

    def abort(self) -> None:  # pragma: no cover - a failure: asyncio aborts on an error
        self.aborted = True
        self.close()

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


@dataclass
class Peer:
    """A raw HTTP/2 client's side: frames out, the server's frames decoded back."""

    encoder: Encoder = field(default_factory=Encoder)
    decoder: hpack.Decoder = field(default_factory=hpack.Decoder)
    reader: fr.FrameReader = field(default_factory=lambda: fr.FrameReader(max_frame_size=1 << 24))
    frames: list[fr.Frame] = field(default_factory=list)
    headers: dict[int, list[list[tuple[bytes, bytes]]]] = field(default_factory=dict)
    data: dict[int, bytes] = field(default_factory=dict)
    resets: dict[int, int] = field(default_factory=dict)
    goaway: fr.Frame | None = None
    _block: bytes = b""

    def request(
        self,
        stream_id: int,
        method: str = "Echo",
        *,
        end_stream: bool = False,
        http_method: bytes = b"POST",
        content_type: bytes = b"application/grpc",
        extra: tuple[tuple[bytes, bytes], ...] = (),
    ) -> bytes:
        headers = [
            (b":method", http_method),
            (b":scheme", b"http"),
            (b":path", f"/{SERVICE}/{method}".encode()),
            (b":authority", b"localhost"),
            (b"content-type", content_type),
            (b"te", b"trailers"),
            *extra,
        ]
        return fr.build_headers(stream_id, self.encoder.encode(headers), end_stream=end_stream)

    def feed(self, data: bytes) -> None:
        """Decode what the server wrote (an HPACK error here fails the test: it must not)."""
        self.reader.feed(data)
        for raw in self.reader.read_frames():
            frame = fr.decode_frame(*raw)
            self.frames.append(frame)
            sid = frame.stream_id
            if frame.type in (fr.HEADERS, fr.CONTINUATION):
                self._block += frame.data
                if frame.flags & fr.FLAG_END_HEADERS:
                    block, self._block = self._block, b""
                    decoded = self.decoder.decode(block, raw=True)
                    self.headers.setdefault(sid, []).append(decoded)
            elif frame.type == fr.DATA:
                self.data[sid] = self.data.get(sid, b"") + frame.data
            elif frame.type == fr.RST_STREAM:
                self.resets[sid] = frame.error_code
            elif frame.type == fr.GOAWAY:
                self.goaway = frame

    def status(self, stream_id: int) -> int | None:
        """The grpc-status the server sent on ``stream_id`` (trailers or Trailers-Only)."""
        for block in self.headers.get(stream_id, []):
            for name, value in block:
                if name == b"grpc-status":
                    return int(value)
        return None


def message(payload: bytes) -> bytes:
    return b"\x00" + len(payload).to_bytes(4, "big") + payload


def _service(handled: list[str]) -> grpcx.ServiceDefinition:
    async def echo(request: bytes, context: grpcx.aio.ServicerContext) -> bytes:
        return request

    async def metadata_first(request: bytes, context: grpcx.aio.ServicerContext) -> bytes:
        # Sends on the stream from inside the handler, on the same read's events.
        context.send_initial_metadata([("x-first", "1")])
        handled.append("metadata_first")
        return request

    async def echo_stream(requests: Any, context: grpcx.aio.ServicerContext) -> Any:
        async for request in requests:
            yield request

    async def count(request: bytes, context: grpcx.aio.ServicerContext) -> Any:
        for i in range(3):
            yield b"%d" % i

    def same(data: bytes) -> bytes:
        return data

    return grpcx.ServiceDefinition(
        SERVICE,
        [
            grpcx.unary_unary("Echo", echo, same, same),
            grpcx.unary_unary("MetadataFirst", metadata_first, same, same),
            grpcx.stream_stream("EchoStream", echo_stream, same, same),
            grpcx.unary_stream("Count", count, same, same),
        ],
    )


class Harness:
    """A server connection over a recording transport, and the peer talking to it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.handled: list[str] = []
        self.loop_errors: list[dict[str, Any]] = []
        loop.set_exception_handler(lambda _, context: self.loop_errors.append(context))
        server = Server()
        server.add_service(_service(self.handled))
        server._loop = loop
        self.server = server
        self.transport = _Transport(loop)
        self.connection = _ServerConnection(server)
        self.transport.protocol = self.connection
        self.connection.connection_made(self.transport)
        self.peer = Peer()
        self.sent = 0
        self.write(fr.CONNECTION_PREFACE + fr.build_settings() + fr.build_settings(ack=True))

    def write(self, data: bytes) -> None:
        """One read on the server, delivered from the event loop as a socket's is (outside
        any Task, so a unary handler's first step runs inline, as in production)."""
        self.loop.call_soon(self._deliver, data)

    def _deliver(self, data: bytes) -> None:
        if not self.transport.closed:
            self.connection.data_received(data)

    async def settle(self) -> None:
        """Let reads, handlers, flushes and connection_lost run; decode what was written.
        Anything raised out of the server into the loop fails the test."""
        for _ in range(20):
            await asyncio.sleep(0)
        assert self.loop_errors == []
        written = bytes(self.transport.written[self.sent :])
        self.sent += len(written)
        self.peer.feed(written)

    async def still_serves(self, stream_id: int) -> None:
        """A unary call on a new stream of the same connection gets its answer."""
        assert not self.transport.closed
        self.write(
            fr.build_settings([(fr.SETTINGS_INITIAL_WINDOW_SIZE, 65_535)])  # (if lowered)
            + self.peer.request(stream_id)
            + fr.build_data(stream_id, message(b"ok"), end_stream=True)
        )
        await self.settle()
        assert self.peer.data.get(stream_id) == message(b"ok")
        assert self.peer.status(stream_id) == 0


@pytest.fixture
def errors(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    caplog.set_level(logging.WARNING, logger="grpcx")
    return lambda: [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


# The requests the server rejects when their headers arrive, before any handler runs.
REJECTED: dict[str, dict[str, Any]] = {
    "unknown path": {"method": "Nope"},
    "GET": {"http_method": b"GET"},
    "text/plain": {"content_type": b"text/plain"},
    "bogus encoding": {"extra": ((b"grpc-encoding", b"bogus"),)},
}
# What closes the rejected stream within the same read.
CLOSERS: dict[str, Callable[[int], bytes]] = {
    "RST_STREAM": lambda sid: fr.build_rst_stream(sid, ErrorCode.CANCEL),
    # The stream window above 2^31-1: a stream error, so the core resets it itself.
    "WINDOW_UPDATE overflow": lambda sid: fr.build_window_update(sid, 2**31 - 1),
}


@pytest.mark.parametrize("end_stream", [False, True], ids=["open", "ended"])
@pytest.mark.parametrize("closer", list(CLOSERS))
@pytest.mark.parametrize("rejected", list(REJECTED))
async def test_rejected_request_and_reset_in_one_read(
    rejected: str, closer: str, end_stream: bool, errors: Callable[[], list[str]]
) -> None:
    h = Harness(asyncio.get_running_loop())
    peer = h.peer
    # A call in progress on the same connection: it must not be lost.
    h.write(peer.request(1, "EchoStream") + fr.build_data(1, message(b"before")))
    await h.settle()
    assert peer.data[1] == message(b"before")
    h.write(peer.request(3, end_stream=end_stream, **REJECTED[rejected]) + CLOSERS[closer](3))
    await h.settle()
    assert peer.goaway is None and not h.transport.closed
    # The open call goes on, and new calls are served.
    h.write(fr.build_data(1, message(b"after"), end_stream=True))
    await h.settle()
    assert peer.data[1] == message(b"before") + message(b"after")
    assert peer.status(1) == 0
    await h.still_serves(5)
    assert errors() == []


@pytest.mark.parametrize("rejected", list(REJECTED))
async def test_rejected_request_and_connection_error_in_one_read(
    rejected: str, errors: Callable[[], list[str]]
) -> None:
    """An orphan CONTINUATION after a rejected request: GOAWAY PROTOCOL_ERROR, as for the
    CONTINUATION alone, not a dropped connection."""
    h = Harness(asyncio.get_running_loop())
    peer = h.peer
    h.write(peer.request(1, **REJECTED[rejected]) + fr.build_continuation(1, b""))
    await h.settle()
    assert peer.goaway is not None and peer.goaway.error_code == ErrorCode.PROTOCOL_ERROR
    assert h.transport.closed and not h.transport.aborted
    assert errors() == []


@pytest.mark.parametrize("method", ["Echo", "MetadataFirst"])
@pytest.mark.parametrize(
    "after",
    [
        lambda: fr.build_rst_stream(1, ErrorCode.CANCEL),
        lambda: fr.build_continuation(1, b""),  # a connection error
        lambda: fr.build_goaway(0, ErrorCode.PROTOCOL_ERROR),  # the client leaves
    ],
    ids=["RST_STREAM", "orphan CONTINUATION", "GOAWAY"],
)
async def test_whole_unary_call_then_reset_in_one_read(
    method: str, after: Callable[[], bytes], errors: Callable[[], list[str]]
) -> None:
    """The handler runs on the read's first events and answers into a stream or connection
    that a later frame of the same read has ended: no error reaches it or the log."""
    h = Harness(asyncio.get_running_loop())
    peer = h.peer
    h.write(peer.request(1, method) + fr.build_data(1, message(b"x"), end_stream=True) + after())
    await h.settle()
    assert not h.transport.aborted
    if method == "MetadataFirst":
        assert h.handled == ["metadata_first"]  # it ran, and its send did not raise
    assert errors() == []
    if not h.transport.closed:
        await h.still_serves(3)


async def test_handler_sends_after_the_stream_was_reset(errors: Callable[[], list[str]]) -> None:
    """A streaming handler whose stream is reset while it runs ends quietly."""
    h = Harness(asyncio.get_running_loop())
    peer = h.peer
    h.write(
        peer.request(1, "Count")
        + fr.build_data(1, message(b"n"), end_stream=True)
        + fr.build_rst_stream(1, ErrorCode.CANCEL)
    )
    await h.settle()
    assert peer.status(1) is None and 1 not in h.connection.calls
    await h.still_serves(3)
    assert errors() == []


# ---------------------------------------------------------------------- the fuzz

# Frames a peer may send, each drawn as (kind, stream index, variant). Streams are the
# odd ids 1, 3, ...: a request opens the next one; other frames name one already opened,
# or the next (idle) one.
KINDS = (
    "request",
    "data",
    "data_end",
    "rst",
    "window",
    "window_overflow",
    "continuation",
    "ping",
    "settings_window",
    "priority_self",
    "unknown",
    "goaway",
)
REQUEST_SHAPES = (
    {"method": "Echo"},
    {"method": "Echo", "end_stream": True},
    {"method": "MetadataFirst"},
    {"method": "EchoStream"},
    {"method": "Count"},
    {"method": "Nope"},
    {"http_method": b"GET"},
    {"content_type": b"text/plain"},
    {"extra": ((b"grpc-encoding", b"bogus"),)},
    {"extra": ((b"grpc-timeout", b"1n"),)},  # already past its deadline
)
steps = st.lists(
    st.tuples(st.sampled_from(KINDS), st.integers(0, 5), st.integers(0, len(REQUEST_SHAPES) - 1)),
    min_size=1,
    max_size=14,
)


def _frames(peer: Peer, drawn: list[tuple[str, int, int]]) -> tuple[bytes, int]:
    out = []
    opened = 0
    for kind, index, variant in drawn:
        sid = 2 * min(index, opened) + 1  # an opened stream, or the next one (idle)
        if kind == "request":
            sid = 2 * opened + 1
            opened += 1
            out.append(peer.request(sid, **REQUEST_SHAPES[variant]))
        elif kind == "data":
            out.append(fr.build_data(sid, message(b"m%d" % variant)))
        elif kind == "data_end":
            out.append(fr.build_data(sid, message(b"e%d" % variant), end_stream=True))
        elif kind == "rst":
            out.append(fr.build_rst_stream(sid, variant))
        elif kind == "window":
            out.append(fr.build_window_update(sid if variant % 2 else 0, 1 + variant * 1000))
        elif kind == "window_overflow":
            out.append(fr.build_window_update(sid if variant % 2 else 0, 2**31 - 1))
        elif kind == "continuation":
            out.append(fr.build_continuation(sid, b""))
        elif kind == "ping":
            out.append(fr.build_ping(b"%08d" % variant))
        elif kind == "settings_window":
            out.append(fr.build_settings([(fr.SETTINGS_INITIAL_WINDOW_SIZE, variant * 3)]))
        elif kind == "priority_self":
            out.append(fr.build_priority(sid, fr.Priority(sid, 16, False)))
        elif kind == "unknown":
            out.append(fr.build_frame(0x20 + variant, 0, sid, b"?"))
        else:
            out.append(fr.build_goaway(2 * opened + 1, variant))
    return b"".join(out), opened


@settings(
    max_examples=1000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(drawn=steps, cuts=st.lists(st.integers(1, 400), max_size=3))
def test_random_interleavings_within_reads(
    drawn: list[tuple[str, int, int]], cuts: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    """Whatever the peer's frames and however they split into reads: no exception out of
    the server, nothing logged as an error, the server's output is valid HTTP/2 that an
    independent HPACK decoder follows, and unless the connection ended it still serves."""

    async def scenario() -> None:
        h = Harness(asyncio.get_running_loop())
        data, opened = _frames(h.peer, drawn)
        start = 0
        for cut in sorted(cuts):
            h.write(data[start:cut])
            start = max(start, cut)
        h.write(data[start:])
        await h.settle()
        assert not h.transport.aborted
        if not h.transport.closed:
            await h.still_serves(2 * opened + 1)
        h.transport.close()
        await h.settle()

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="grpcx"):
        asyncio.run(scenario())
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
