"""HTTP/2 conformance of a real grpcx server: one case per case of h2spec's ``generic``,
``http2`` and ``hpack`` groups (RFC 9113 and RFC 7541), written from the RFCs.

h2spec itself is not packaged for Debian or PyPI, so its case list is rebuilt here: each
case is named after h2spec's section and case number (``http2/6.9.1/2`` is the second case
of RFC 9113 §6.9.1 in h2spec's ``http2`` group) and its docstring states the requirement
it checks. Every case runs against a :class:`grpcx.aio.Server` on 127.0.0.1 with the
standard test service (tests/aio/conftest.py), over a socket that carries hand-built
frames (a 9-byte header and a payload: nothing here relies on grpcx's own framing);
what comes back is decoded by python-hyper's ``hyperframe`` and ``hpack``.

Where h2spec uses a plain GET, these cases send gRPC requests whose responses carry DATA
(``Echo``: the request's message back; ``Size``: a response of the asked size), so stream
and flow-control rules are exercised on real responses. Where the answer is deliberately
gRPC-specific (GET and HEAD), the case says so.

Expected answers: a connection error is a GOAWAY with the code, then the connection
closes; a stream error is a RST_STREAM with the code on that stream (and the connection
goes on: a PING is still answered); "ignored" means a PING sent afterwards is answered
(and nothing else went wrong). Every read is bounded (``WAIT``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import hpack
import pytest
from hpack.huffman import HuffmanEncoder
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
)

WAIT = 3.0  # seconds: the bound on every read

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SERVICE = "grpcx.test.Test"

# Frame types and flags (RFC 9113 §6), and error codes (§7): protocol constants.
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS = 0x0, 0x1, 0x2, 0x3, 0x4
PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0x5, 0x6, 0x7, 0x8, 0x9
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20
NO_ERROR, PROTOCOL_ERROR, FLOW_CONTROL_ERROR, STREAM_CLOSED = 0x0, 0x1, 0x3, 0x5
FRAME_SIZE_ERROR, REFUSED_STREAM, COMPRESSION_ERROR = 0x6, 0x7, 0x9
HEADER_TABLE_SIZE, ENABLE_PUSH, MAX_CONCURRENT_STREAMS = 0x1, 0x2, 0x3
INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE = 0x4, 0x5
MAX_WINDOW = 2**31 - 1


# ---------------------------------------------------------------------- frame building


def frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    """Any frame, valid or not: the 9-byte header of RFC 9113 §4.1, then the payload."""
    return (
        len(payload).to_bytes(3, "big")
        + bytes([kind, flags])
        + stream_id.to_bytes(4, "big")
        + payload
    )


def data(stream_id: int, payload: bytes, *, end: bool = False, pad: int | None = None) -> bytes:
    flags = END_STREAM if end else 0
    if pad is not None:
        return frame(DATA, flags | PADDED, stream_id, bytes([pad]) + payload + bytes(pad))
    return frame(DATA, flags, stream_id, payload)


def priority_fields(depends_on: int, weight: int = 16, exclusive: bool = False) -> bytes:
    return ((1 << 31 if exclusive else 0) | depends_on).to_bytes(4, "big") + bytes([weight - 1])


def headers(
    stream_id: int,
    block: bytes,
    *,
    end: bool = False,
    end_headers: bool = True,
    pad: int | None = None,
    priority: bytes | None = None,
) -> bytes:
    flags = (END_STREAM if end else 0) | (END_HEADERS if end_headers else 0)
    payload = block
    if priority is not None:
        flags |= PRIORITY_FLAG
        payload = priority + payload
    if pad is not None:
        flags |= PADDED
        payload = bytes([pad]) + payload + bytes(pad)
    return frame(HEADERS, flags, stream_id, payload)


def continuation(stream_id: int, block: bytes, *, end_headers: bool = True) -> bytes:
    return frame(CONTINUATION, END_HEADERS if end_headers else 0, stream_id, block)


def settings(*pairs: tuple[int, int]) -> bytes:
    return frame(
        SETTINGS, 0, 0, b"".join(i.to_bytes(2, "big") + v.to_bytes(4, "big") for i, v in pairs)
    )


def ping(opaque: bytes, *, ack: bool = False) -> bytes:
    return frame(PING, ACK if ack else 0, 0, opaque)


def window_update(stream_id: int, increment: int) -> bytes:
    return frame(WINDOW_UPDATE, 0, stream_id, increment.to_bytes(4, "big"))


def rst_stream(stream_id: int, code: int) -> bytes:
    return frame(RST_STREAM, 0, stream_id, code.to_bytes(4, "big"))


def priority(
    stream_id: int, depends_on: int = 0, weight: int = 16, exclusive: bool = False
) -> bytes:
    return frame(PRIORITY, 0, stream_id, priority_fields(depends_on, weight, exclusive))


def goaway(last_stream_id: int, code: int) -> bytes:
    return frame(GOAWAY, 0, 0, last_stream_id.to_bytes(4, "big") + code.to_bytes(4, "big"))


def message(payload: bytes) -> bytes:
    """A length-prefixed gRPC message."""
    return b"\x00" + len(payload).to_bytes(4, "big") + payload


# HPACK representations by hand (RFC 7541 §5 and §6), for the hpack cases.


def hpack_int(value: int, prefix: int, first: int) -> bytes:
    """An integer with an N-bit prefix (RFC 7541 §5.1), ``first`` holding the high bits."""
    limit = (1 << prefix) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    out.append(value)
    return bytes(out)


def hpack_str(value: bytes, *, huffman: bool = False) -> bytes:
    """A string literal (RFC 7541 §5.2)."""
    if huffman:
        value = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH).encode(value)
        return hpack_int(len(value), 7, 0x80) + value
    return hpack_int(len(value), 7, 0) + value


def hpack_huffman_raw(encoded: bytes) -> bytes:
    """A Huffman string literal of exactly these (possibly invalid) encoded bytes."""
    return hpack_int(len(encoded), 7, 0x80) + encoded


# ---------------------------------------------------------------------- the wire client


@dataclass
class Got:
    """A frame the server sent; a HEADERS frame's block decoded (with its CONTINUATIONs)."""

    frame: Frame
    fields: list[tuple[bytes, bytes]] | None = None


@dataclass
class Response:
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    data: bytes = b""
    trailers: list[tuple[bytes, bytes]] = field(default_factory=list)

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers + self.trailers:
            if key == name:
                return value
        return None


class Wire:
    """A client that writes raw bytes to the server and reads its frames back."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int):
        self.reader = reader
        self.writer = writer
        self.port = port
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.buffer = bytearray()
        self.block: list[bytes] = []  # a header block being reassembled
        self.server_settings: dict[int, int] = {}
        self.closed = False

    # -- writing

    def send(self, *chunks: bytes) -> None:
        self.writer.write(b"".join(chunks))

    def fields(self, method: str = "Echo", *, extra: list[tuple[bytes, bytes]] | None = None,
               http_method: bytes = b"POST") -> list[tuple[bytes, bytes]]:  # fmt: skip
        return [
            (b":method", http_method),
            (b":scheme", b"http"),
            (b":path", f"/{SERVICE}/{method}".encode()),
            (b":authority", b"127.0.0.1:%d" % self.port),
            (b"content-type", b"application/grpc"),
            (b"te", b"trailers"),
            *(extra or []),
        ]

    def encode(self, fields: list[tuple[bytes, bytes]]) -> bytes:
        return bytes(self.encoder.encode(fields))

    def request(
        self, stream_id: int, method: str = "Echo", *, end: bool = False, **kwargs: Any
    ) -> bytes:
        """A HEADERS frame opening a gRPC call of ``method``."""
        return headers(stream_id, self.encode(self.fields(method)), end=end, **kwargs)

    def call(self, stream_id: int, method: str = "Echo", payload: bytes = b"test") -> bytes:
        """A whole unary call: HEADERS, then one DATA frame with the message and END_STREAM."""
        return self.request(stream_id, method) + data(stream_id, message(payload), end=True)

    # -- reading

    async def next(self) -> Got | None:
        """The next frame the server sent, or None once the connection has closed."""
        while True:
            if len(self.buffer) >= 9:
                length = int.from_bytes(self.buffer[:3], "big")
                if len(self.buffer) >= 9 + length:
                    raw = bytes(self.buffer[: 9 + length])
                    del self.buffer[: 9 + length]
                    got, _ = Frame.parse_frame_header(memoryview(raw[:9]))
                    got.parse_body(memoryview(raw[9:]))
                    return self._decoded(got)
            if self.closed:
                return None
            try:
                chunk = await asyncio.wait_for(self.reader.read(65536), WAIT)
            except ConnectionError:
                chunk = b""
            except asyncio.TimeoutError:
                pytest.fail("the server sent nothing more and kept the connection open")
            if not chunk:
                self.closed = True
            self.buffer += chunk

    def _decoded(self, got: Frame) -> Got:
        if isinstance(got, SettingsFrame) and "ACK" not in got.flags:
            self.server_settings.update(got.settings)
        if isinstance(got, HeadersFrame | ContinuationFrame):
            self.block.append(bytes(got.data))
            if "END_HEADERS" in got.flags:
                block = b"".join(self.block)
                self.block = []
                fields = [(bytes(n), bytes(v)) for n, v in self.decoder.decode(block, raw=True)]
                return Got(got, fields)
        return Got(got)

    async def until(self, wanted: Callable[[Frame], bool], what: str) -> Got:
        """Read up to the first frame ``wanted``; fail on a GOAWAY or close before it."""
        while True:
            got = await self.next()
            if got is None:
                pytest.fail(f"the connection closed before {what}")
            if wanted(got.frame):
                return got
            if isinstance(got.frame, GoAwayFrame):
                pytest.fail(f"GOAWAY {got.frame.error_code} before {what}")

    async def handshake(self, *pairs: tuple[int, int]) -> None:
        """The preface and our SETTINGS; done when the server's SETTINGS arrived and ours
        were acknowledged (so they are in force)."""
        self.send(PREFACE, settings(*pairs))
        acked = seen = False
        while not (acked and seen):
            got = await self.until(lambda f: isinstance(f, SettingsFrame), "the server's SETTINGS")
            if "ACK" in got.frame.flags:
                acked = True
            else:
                seen = True
                self.send(frame(SETTINGS, ACK, 0))

    async def connection_error(self, code: int) -> None:
        """RFC 9113 §5.4.1: GOAWAY with ``code``, then the connection closes."""
        while True:
            got = await self.next()
            assert got is not None, "the connection closed without a GOAWAY"
            if isinstance(got.frame, GoAwayFrame):
                assert got.frame.error_code == code, got.frame
                break
        while await self.next() is not None:
            pass  # (anything after the GOAWAY is allowed; the close is not optional)
        assert self.closed

    async def stream_error(self, stream_id: int, *codes: int) -> None:
        """RFC 9113 §5.4.2: RST_STREAM on ``stream_id`` with one of ``codes``; the
        connection goes on."""
        got = await self.until(
            lambda f: isinstance(f, RstStreamFrame) and f.stream_id == stream_id,
            f"RST_STREAM on stream {stream_id}",
        )
        assert got.frame.error_code in codes, got.frame
        await self.alive()

    async def alive(self) -> None:
        """A PING is answered with the same payload (RFC 9113 §6.7): the connection is up."""
        opaque = os.urandom(8)
        self.send(ping(opaque))
        await self.until(
            lambda f: isinstance(f, PingFrame) and "ACK" in f.flags and f.opaque_data == opaque,
            "the PING ACK",
        )

    async def response(self, stream_id: int) -> Response:
        """Everything up to the end of ``stream_id``'s response; fails on its reset."""
        response = Response()
        ending = False
        while True:
            got = await self.until(lambda f: f.stream_id == stream_id, f"stream {stream_id}'s end")
            f = got.frame
            if isinstance(f, RstStreamFrame):
                pytest.fail(f"stream {stream_id} reset: {f.error_code}")
            if isinstance(f, DataFrame):
                response.data += bytes(f.data)
                if f.flow_controlled_length:  # keep the server's windows open
                    self.send(window_update(0, f.flow_controlled_length))
                    if "END_STREAM" not in f.flags:
                        self.send(window_update(stream_id, f.flow_controlled_length))
                if "END_STREAM" in f.flags:
                    return response
                continue
            if isinstance(f, HeadersFrame) and "END_STREAM" in f.flags:
                ending = True  # (the block may go on in CONTINUATION frames)
            if got.fields is not None:
                if response.headers:
                    response.trailers = got.fields
                else:
                    response.headers = got.fields
                if ending:
                    return response

    async def grpc_ok(self, stream_id: int, payload: bytes = b"test") -> Response:
        """A correct gRPC response: 200, the echoed message, grpc-status 0."""
        response = await self.response(stream_id)
        assert dict(response.headers)[b":status"] == b"200", response
        assert response.header(b"grpc-status") == b"0", response
        assert response.data == message(payload), response
        return response

    async def first_data(self, stream_id: int) -> DataFrame:
        got = await self.until(
            lambda f: isinstance(f, DataFrame | RstStreamFrame) and f.stream_id == stream_id,
            f"DATA on stream {stream_id}",
        )
        assert isinstance(got.frame, DataFrame), got.frame
        return got.frame

    async def nothing_on(self, stream_id: int) -> None:
        """Nothing but a PING ACK comes back for a while: the frame was ignored. (A PING
        round trip, not a timer, decides.)"""
        opaque = os.urandom(8)
        self.send(ping(opaque))
        while True:
            got = await self.next()
            assert got is not None, "the connection closed"
            f = got.frame
            assert not isinstance(f, GoAwayFrame), f
            assert not (isinstance(f, RstStreamFrame) and f.stream_id == stream_id), f
            if isinstance(f, PingFrame) and "ACK" in f.flags and f.opaque_data == opaque:
                return


Case = Callable[[Wire], Awaitable[None]]
CASES: dict[str, Case] = {}
RAW_START: set[str] = set()  # cases that begin before the handshake


def case(name: str, *, handshake: bool = True) -> Callable[[Case], Case]:
    """Register a case under h2spec's ``group/section/number``; it starts once the
    handshake is done, unless ``handshake`` is False."""

    def register(fn: Case) -> Case:
        assert fn.__doc__, f"{name}: a case states the requirement it checks"
        assert name not in CASES, name
        CASES[name] = fn
        if not handshake:
            RAW_START.add(name)
        return fn

    return register


@pytest.fixture
async def wire(echo: Any) -> Any:
    """A raw connection to the standard test server (tests/aio/conftest.py), handshake
    not done (each case starts as it needs)."""
    wires: list[Wire] = []

    async def connect() -> Wire:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", echo.port), WAIT
        )
        w = Wire(reader, writer, echo.port)
        wires.append(w)
        return w

    yield connect
    for w in wires:
        w.writer.close()
    # Whatever a case did, the server still serves new connections.
    assert await asyncio.wait_for(echo.unary("Echo")(b"alive"), WAIT) == b"alive"


async def ready(wire: Callable[[], Awaitable[Wire]], *pairs: tuple[int, int]) -> Wire:
    w = await wire()
    await w.handshake(*pairs)
    return w


# ====================================================================== generic
# h2spec's "generic" group: each frame type and HPACK representation, well formed, gets a
# normal answer.


@case("generic/1/1", handshake=False)
async def _(w: Wire) -> None:
    """Starting HTTP/2 (RFC 9113 §3.4): after the client preface the server's preface (a
    SETTINGS frame) comes, and a request is answered."""
    w.send(PREFACE, settings())
    first = await w.next()
    assert first is not None and isinstance(first.frame, SettingsFrame)
    assert "ACK" not in first.frame.flags
    w.send(frame(SETTINGS, ACK, 0), w.call(1))
    await w.grpc_ok(1)


@case("generic/2/1")
async def _(w: Wire) -> None:
    """Streams (RFC 9113 §5.1): PRIORITY on an idle stream is allowed."""
    w.send(priority(1, 0, 16))
    await w.alive()
    w.send(w.call(3))
    await w.grpc_ok(3)


@case("generic/2/2")
async def _(w: Wire) -> None:
    """Streams (RFC 9113 §5.1): WINDOW_UPDATE on a half-closed (remote) stream is allowed,
    and the response (DATA) follows."""
    w.send(w.call(1), window_update(1, 100))
    await w.grpc_ok(1)


@case("generic/2/3")
async def _(w: Wire) -> None:
    """Streams (RFC 9113 §5.1): PRIORITY on a half-closed (remote) stream is allowed."""
    w.send(w.call(1), priority(1, 0, 100))
    await w.grpc_ok(1)


@case("generic/2/4")
async def _(w: Wire) -> None:
    """Streams (RFC 9113 §5.1): RST_STREAM on a half-closed (remote) stream closes it; the
    connection goes on."""
    w.send(w.request(1, "Hang"), data(1, message(b"g24"), end=True), rst_stream(1, 0x8))
    await w.nothing_on(1)
    w.send(w.call(3))
    await w.grpc_ok(3)


@case("generic/2/5")
async def _(w: Wire) -> None:
    """Streams (RFC 9113 §5.1): PRIORITY on a closed stream is allowed."""
    w.send(w.call(1))
    await w.grpc_ok(1)
    w.send(priority(1, 0, 16))
    await w.alive()


@case("generic/3.1/1")
async def _(w: Wire) -> None:
    """DATA (RFC 9113 §6.1): a request body in one DATA frame is answered."""
    w.send(w.call(1, payload=b"one frame"))
    await w.grpc_ok(1, b"one frame")


@case("generic/3.1/2")
async def _(w: Wire) -> None:
    """DATA (RFC 9113 §6.1): a body over several DATA frames is one body (§8.1)."""
    body = message(b"several frames")
    w.send(w.request(1), data(1, body[:3]), data(1, body[3:9]), data(1, body[9:], end=True))
    await w.grpc_ok(1, b"several frames")


@case("generic/3.1/3")
async def _(w: Wire) -> None:
    """DATA (RFC 9113 §6.1): padding is removed from the payload."""
    w.send(w.request(1), data(1, message(b"padded"), end=True, pad=10))
    await w.grpc_ok(1, b"padded")


@case("generic/3.2/1")
async def _(w: Wire) -> None:
    """HEADERS (RFC 9113 §6.2): a plain HEADERS frame opens a stream."""
    w.send(w.call(1))
    await w.grpc_ok(1)


@case("generic/3.2/2")
async def _(w: Wire) -> None:
    """HEADERS (RFC 9113 §6.2): a padded HEADERS frame."""
    w.send(w.request(1, pad=8), data(1, message(b"test"), end=True))
    await w.grpc_ok(1)


@case("generic/3.2/3")
async def _(w: Wire) -> None:
    """HEADERS (RFC 9113 §6.2): a HEADERS frame with the PRIORITY flag (the fields are
    read and ignored, §5.3.2)."""
    w.send(w.request(1, priority=priority_fields(0, 255)), data(1, message(b"test"), end=True))
    await w.grpc_ok(1)


async def _priority_then_call(w: Wire, frames: bytes, stream_id: int = 1) -> None:
    w.send(frames, w.call(stream_id))
    await w.grpc_ok(stream_id)


@case("generic/3.3/1")
async def _(w: Wire) -> None:
    """PRIORITY (RFC 9113 §6.3): weight 1 is accepted (and ignored)."""
    await _priority_then_call(w, priority(1, 0, 1))


@case("generic/3.3/2")
async def _(w: Wire) -> None:
    """PRIORITY (RFC 9113 §6.3): weight 256 is accepted (and ignored)."""
    await _priority_then_call(w, priority(1, 0, 256))


@case("generic/3.3/3")
async def _(w: Wire) -> None:
    """PRIORITY (RFC 9113 §6.3): a dependency on another stream is accepted."""
    await _priority_then_call(w, priority(3, 0) + priority(1, 3))


@case("generic/3.3/4")
async def _(w: Wire) -> None:
    """PRIORITY (RFC 9113 §6.3): an exclusive dependency is accepted."""
    await _priority_then_call(w, priority(3, 0) + priority(1, 3, exclusive=True))


@case("generic/3.3/5")
async def _(w: Wire) -> None:
    """PRIORITY (RFC 9113 §5.1.1, §6.3): PRIORITY on idle stream 3 does not open it: a
    HEADERS frame for the lower stream 1 is still valid."""
    await _priority_then_call(w, priority(3, 0), 1)


@case("generic/3.4/1")
async def _(w: Wire) -> None:
    """RST_STREAM (RFC 9113 §6.4): resets an open stream; the connection goes on."""
    w.send(w.request(1), rst_stream(1, 0x8))
    await w.nothing_on(1)


@case("generic/3.5/1")
async def _(w: Wire) -> None:
    """SETTINGS (RFC 9113 §6.5.3): a SETTINGS frame is acknowledged."""
    w.send(settings((INITIAL_WINDOW_SIZE, 70_000)))
    await w.until(lambda f: isinstance(f, SettingsFrame) and "ACK" in f.flags, "SETTINGS ACK")


@case("generic/3.7/1")
async def _(w: Wire) -> None:
    """PING (RFC 9113 §6.7): answered with an ACK carrying the same payload."""
    await w.alive()


@case("generic/3.8/1")
async def _(w: Wire) -> None:
    """GOAWAY (RFC 9113 §6.8): the server may go on (PING answered) or close."""
    w.send(goaway(0, NO_ERROR), ping(b"g38-ping"))
    while (got := await w.next()) is not None:
        if isinstance(got.frame, PingFrame) and got.frame.opaque_data == b"g38-ping":
            break


@case("generic/3.9/1")
async def _(w: Wire) -> None:
    """WINDOW_UPDATE (RFC 9113 §6.9): on stream 0, accepted."""
    w.send(window_update(0, 1))
    await w.alive()


@case("generic/3.9/2")
async def _(w: Wire) -> None:
    """WINDOW_UPDATE (RFC 9113 §6.9): on an open stream, accepted; its response follows."""
    w.send(w.request(1), window_update(1, 1), data(1, message(b"test"), end=True))
    await w.grpc_ok(1)


@case("generic/3.10/1")
async def _(w: Wire) -> None:
    """CONTINUATION (RFC 9113 §6.10): a header block in HEADERS + one CONTINUATION."""
    block = w.encode(w.fields())
    w.send(headers(1, block[:5], end_headers=False), continuation(1, block[5:]))
    w.send(data(1, message(b"test"), end=True))
    await w.grpc_ok(1)


@case("generic/3.10/2")
async def _(w: Wire) -> None:
    """CONTINUATION (RFC 9113 §6.10): a header block over several CONTINUATIONs."""
    block = w.encode(w.fields())
    w.send(
        headers(1, block[:3], end_headers=False),
        continuation(1, block[3:6], end_headers=False),
        continuation(1, block[6:12], end_headers=False),
        continuation(1, block[12:]),
        data(1, message(b"test"), end=True),
    )
    await w.grpc_ok(1)


@case("generic/4/1")
async def _(w: Wire) -> None:
    """HTTP message exchange (RFC 9113 §8.1): a GET request gets a response. gRPC-specific
    answer: gRPC calls are POSTs, so GET is refused with :status 405 and a grpc-status
    (INTERNAL), as grpc-go does (PROTOCOL-HTTP2.md; grpcx.protocol.headers)."""
    w.send(headers(1, w.encode(w.fields(http_method=b"GET")), end=True))
    response = await w.response(1)
    assert dict(response.headers)[b":status"] == b"405"
    assert response.header(b"grpc-status") == b"13"
    assert response.data == b""


@case("generic/4/2")
async def _(w: Wire) -> None:
    """HTTP message exchange (RFC 9113 §8.1): a HEAD request gets a response, without
    content. gRPC-specific answer: 405 and a grpc-status, as for GET."""
    w.send(headers(1, w.encode(w.fields(http_method=b"HEAD")), end=True))
    response = await w.response(1)
    assert dict(response.headers)[b":status"] == b"405"
    assert response.header(b"grpc-status") == b"13"
    assert response.data == b""


@case("generic/4/3")
async def _(w: Wire) -> None:
    """HTTP message exchange (RFC 9113 §8.1): a POST request with a body is answered."""
    w.send(w.call(1, payload=b"post"))
    await w.grpc_ok(1, b"post")


@case("generic/4/4")
async def _(w: Wire) -> None:
    """HTTP message exchange (RFC 9113 §8.1): a POST whose body is followed by trailers
    (a HEADERS frame with END_STREAM) is answered."""
    trailers = headers(1, w.encode([(b"x-trailer", b"yes")]), end=True)
    w.send(w.request(1), data(1, message(b"test")), trailers)
    await w.grpc_ok(1)


# HPACK representations (RFC 7541 §6), each carrying an extra request field, which the
# Describe method echoes back as metadata. Static table entries (RFC 7541 Appendix A):
# 16 is accept-encoding: gzip, deflate; 37 is the name "from".
_NAME = b"x-conformance"
_VALUE = b"representation"
_REPRESENTATIONS = {
    "generic/5/1": ("indexed header field (§6.1)", lambda: hpack_int(16, 7, 0x80)),
    "generic/5/2": ("literal with incremental indexing, indexed name (§6.2.1)",
                    lambda: hpack_int(37, 6, 0x40) + hpack_str(_VALUE)),
    "generic/5/3": ("literal with incremental indexing, indexed name, Huffman (§6.2.1)",
                    lambda: hpack_int(37, 6, 0x40) + hpack_str(_VALUE, huffman=True)),
    "generic/5/4": ("literal with incremental indexing, new name (§6.2.1)",
                    lambda: b"\x40" + hpack_str(_NAME) + hpack_str(_VALUE)),
    "generic/5/5": ("literal with incremental indexing, new name, Huffman (§6.2.1)",
                    lambda: b"\x40" + hpack_str(_NAME, huffman=True)
                    + hpack_str(_VALUE, huffman=True)),
    "generic/5/6": ("literal without indexing, indexed name (§6.2.2)",
                    lambda: hpack_int(37, 4, 0x00) + hpack_str(_VALUE)),
    "generic/5/7": ("literal without indexing, indexed name, Huffman (§6.2.2)",
                    lambda: hpack_int(37, 4, 0x00) + hpack_str(_VALUE, huffman=True)),
    "generic/5/8": ("literal without indexing, new name (§6.2.2)",
                    lambda: b"\x00" + hpack_str(_NAME) + hpack_str(_VALUE)),
    "generic/5/9": ("literal without indexing, new name, Huffman (§6.2.2)",
                    lambda: b"\x00" + hpack_str(_NAME, huffman=True)
                    + hpack_str(_VALUE, huffman=True)),
    "generic/5/10": ("literal never indexed, indexed name (§6.2.3)",
                     lambda: hpack_int(37, 4, 0x10) + hpack_str(_VALUE)),
    "generic/5/11": ("literal never indexed, indexed name, Huffman (§6.2.3)",
                     lambda: hpack_int(37, 4, 0x10) + hpack_str(_VALUE, huffman=True)),
    "generic/5/12": ("literal never indexed, new name (§6.2.3)",
                     lambda: b"\x10" + hpack_str(_NAME) + hpack_str(_VALUE)),
    "generic/5/13": ("literal never indexed, new name, Huffman (§6.2.3)",
                     lambda: b"\x10" + hpack_str(_NAME, huffman=True)
                     + hpack_str(_VALUE, huffman=True)),
}  # fmt: skip


def _representation_case(name: str, what: str, build: Callable[[], bytes]) -> None:
    async def run(w: Wire) -> None:
        # The representation goes after the encoder's block: python-hyper's encoder never
        # learns of an entry it adds, so nothing more is encoded on this connection.
        block = w.encode(w.fields("Describe")) + build()
        w.send(headers(1, block), data(1, message(b""), end=True))
        response = await w.response(1)
        assert response.header(b"grpc-status") == b"0", response
        assert (b"gzip, deflate" if name == "generic/5/1" else _VALUE) in response.data

    run.__doc__ = f"HPACK (RFC 7541): a request using a {what} is decoded and answered."
    case(name)(run)


for _name, (_what, _build) in _REPRESENTATIONS.items():
    _representation_case(_name, _what, _build)


@case("generic/5/14")
async def _(w: Wire) -> None:
    """HPACK (RFC 7541 §6.3): a dynamic table size update at the start of a block."""
    w.send(headers(1, hpack_int(4000, 5, 0x20) + w.encode(w.fields())))
    w.send(data(1, message(b"test"), end=True))
    await w.grpc_ok(1)


@case("generic/5/15")
async def _(w: Wire) -> None:
    """HPACK (RFC 7541 §4.2, §6.3): several size updates at the start of a block (the
    smallest, then the final size)."""
    update = hpack_int(0, 5, 0x20) + hpack_int(4096, 5, 0x20)
    w.send(headers(1, update + w.encode(w.fields())), data(1, message(b"test"), end=True))
    await w.grpc_ok(1)


# ====================================================================== http2
# h2spec's "http2" group: one case per MUST of RFC 9113.


@case("http2/3.5/1", handshake=False)
async def _(w: Wire) -> None:
    """§3.4: the server connection preface (a SETTINGS frame) MUST be the first frame
    the server sends."""
    w.send(PREFACE, settings())
    first = await w.next()
    assert first is not None and isinstance(first.frame, SettingsFrame), first
    assert "ACK" not in first.frame.flags


@case("http2/3.5/2", handshake=False)
async def _(w: Wire) -> None:
    """§3.4: an invalid connection preface MUST be treated as a connection error
    (PROTOCOL_ERROR); the connection is closed."""
    w.send(b"INVALID CONNECTION PREFACE\r\n\r\n", settings())
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/4.1/1")
async def _(w: Wire) -> None:
    """§4.1, §5.5: a frame of unknown type MUST be ignored and discarded."""
    w.send(frame(0x16, 0, 0, b"unknown"))
    await w.alive()


@case("http2/4.1/2")
async def _(w: Wire) -> None:
    """§4.1: undefined flags MUST be ignored (a PING with flags 0x16 is still a PING)."""
    w.send(frame(PING, 0x16, 0, b"h2-4.1-2"))
    got = await w.until(lambda f: isinstance(f, PingFrame) and "ACK" in f.flags, "the PING ACK")
    assert got.frame.opaque_data == b"h2-4.1-2"


@case("http2/4.1/3")
async def _(w: Wire) -> None:
    """§4.1: the reserved bit of the stream identifier MUST be ignored on receipt (a
    PING on stream 0 with the bit set)."""
    w.send(frame(PING, 0, 1 << 31, b"h2-4.1-3"))
    got = await w.until(lambda f: isinstance(f, PingFrame) and "ACK" in f.flags, "the PING ACK")
    assert got.frame.opaque_data == b"h2-4.1-3"


@case("http2/4.2/1")
async def _(w: Wire) -> None:
    """§4.2: an endpoint MUST be capable of receiving frames up to 2^14 octets: a DATA
    frame of 16,384 octets, answered with the same message."""
    payload = bytes(16_384 - 5)
    w.send(w.request(1), data(1, message(payload), end=True))
    await w.grpc_ok(1, payload)


@case("http2/4.2/2")
async def _(w: Wire) -> None:
    """§4.2: a DATA frame larger than SETTINGS_MAX_FRAME_SIZE MUST be a FRAME_SIZE_ERROR
    (a frame that could alter connection state, so a connection error)."""
    limit = w.server_settings.get(MAX_FRAME_SIZE, 16_384)
    w.send(w.request(1), data(1, bytes(limit + 1), end=True))
    await w.connection_error(FRAME_SIZE_ERROR)


@case("http2/4.2/3")
async def _(w: Wire) -> None:
    """§4.2: a HEADERS frame larger than SETTINGS_MAX_FRAME_SIZE MUST be a connection
    error of type FRAME_SIZE_ERROR (it carries a header block)."""
    limit = w.server_settings.get(MAX_FRAME_SIZE, 16_384)
    # (A literal without Huffman coding, so that the block really is that large.)
    big = b"\x00" + hpack_str(b"x-big") + hpack_str(b"v" * limit)
    w.send(headers(1, w.encode(w.fields()) + big))
    await w.connection_error(FRAME_SIZE_ERROR)


@case("http2/4.3/1")
async def _(w: Wire) -> None:
    """§4.3: a header block that cannot be decompressed MUST be a connection error of type
    COMPRESSION_ERROR."""
    w.send(headers(1, b"\x40"))  # a literal with a new name, cut short (h2spec's block)
    await w.connection_error(COMPRESSION_ERROR)


@case("http2/4.3/2")
async def _(w: Wire) -> None:
    """§4.3, §6.10: a PRIORITY frame inside a header block (between HEADERS and its
    CONTINUATION) MUST be a connection error of type PROTOCOL_ERROR."""
    block = w.encode(w.fields())
    w.send(headers(1, block[:5], end_headers=False), priority(1, 0), continuation(1, block[5:]))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/4.3/3")
async def _(w: Wire) -> None:
    """§4.3: a HEADERS frame for another stream inside a header block MUST be a
    connection error of type PROTOCOL_ERROR."""
    block = w.encode(w.fields())
    w.send(headers(1, block[:5], end_headers=False), headers(3, block))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/5.1/1")
async def _(w: Wire) -> None:
    """§5.1: DATA on an idle stream MUST be a connection error of type PROTOCOL_ERROR."""
    w.send(data(1, message(b"test"), end=True))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/5.1/2")
async def _(w: Wire) -> None:
    """§5.1: RST_STREAM on an idle stream MUST be a connection error (PROTOCOL_ERROR)."""
    w.send(rst_stream(1, 0x8))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/5.1/3")
async def _(w: Wire) -> None:
    """§5.1: WINDOW_UPDATE on an idle stream MUST be a connection error (PROTOCOL_ERROR)."""
    w.send(window_update(1, 100))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/5.1/4")
async def _(w: Wire) -> None:
    """§5.1, §6.10: CONTINUATION on an idle stream (no HEADERS before it) MUST be a
    connection error of type PROTOCOL_ERROR."""
    w.send(continuation(1, w.encode(w.fields())))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/5.1/5")
async def _(w: Wire) -> None:
    """§5.1: DATA on a half-closed (remote) stream MUST be a stream error of type
    STREAM_CLOSED. (Hang keeps the stream half-closed until its response.)"""
    w.send(w.request(1, "Hang"), data(1, message(b"h2-5.1-5"), end=True))
    w.send(data(1, message(b"more")))
    await w.stream_error(1, STREAM_CLOSED)


@case("http2/5.1/6")
async def _(w: Wire) -> None:
    """§5.1: HEADERS on a half-closed (remote) stream MUST be a stream error of type
    STREAM_CLOSED."""
    w.send(w.request(1, "Hang"), data(1, message(b"h2-5.1-6"), end=True))
    w.send(headers(1, w.encode([(b"x-late", b"1")]), end=True))
    await w.stream_error(1, STREAM_CLOSED)


@case("http2/5.1/7")
async def _(w: Wire) -> None:
    """§5.1, §6.10: CONTINUATION on a half-closed (remote) stream, whose header block has
    ended, MUST be an error: here a connection error PROTOCOL_ERROR (no header block is
    open for it to continue), which h2spec accepts as well as STREAM_CLOSED."""
    w.send(w.request(1, "Hang"), data(1, message(b"h2-5.1-7"), end=True))
    w.send(continuation(1, w.encode([(b"x-late", b"1")])))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/5.1/8")
async def _(w: Wire) -> None:
    """§5.1: after receiving RST_STREAM, DATA on that stream MUST be a stream error of type
    STREAM_CLOSED."""
    w.send(w.request(1), rst_stream(1, 0x8), data(1, message(b"test"), end=True))
    await w.stream_error(1, STREAM_CLOSED)


@case("http2/5.1/9")
async def _(w: Wire) -> None:
    """§5.1: after receiving RST_STREAM, HEADERS on that stream MUST be a stream error of
    type STREAM_CLOSED."""
    w.send(w.request(1), rst_stream(1, 0x8))
    w.send(headers(1, w.encode([(b"x-late", b"1")]), end=True))
    await w.stream_error(1, STREAM_CLOSED)


@case("http2/5.1/10")
async def _(w: Wire) -> None:
    """§5.1, §6.10: after receiving RST_STREAM, a CONTINUATION on that stream MUST be an
    error: a connection error PROTOCOL_ERROR (no header block is open), which h2spec
    accepts as well as STREAM_CLOSED."""
    w.send(w.request(1), rst_stream(1, 0x8))
    w.send(continuation(1, w.encode([(b"x-late", b"1")])))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/5.1/11")
async def _(w: Wire) -> None:
    """§5.1: DATA on a stream closed by END_STREAM both ways MUST be treated as an error
    of type STREAM_CLOSED (here a connection error)."""
    w.send(w.call(1))
    await w.grpc_ok(1)
    w.send(data(1, message(b"late"), end=True))
    await w.connection_error(STREAM_CLOSED)


@case("http2/5.1/12")
async def _(w: Wire) -> None:
    """§5.1: HEADERS on a closed stream MUST be a connection error of type
    STREAM_CLOSED."""
    w.send(w.call(1))
    await w.grpc_ok(1)
    w.send(headers(1, w.encode([(b"x-late", b"1")]), end=True))
    await w.connection_error(STREAM_CLOSED)


@case("http2/5.1/13")
async def _(w: Wire) -> None:
    """§5.1, §6.10: CONTINUATION on a closed stream MUST be a connection error
    (PROTOCOL_ERROR here: no header block is open; h2spec accepts it or
    STREAM_CLOSED)."""
    w.send(w.call(1))
    await w.grpc_ok(1)
    w.send(continuation(1, w.encode([(b"x-late", b"1")])))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/5.1.1/1")
async def _(w: Wire) -> None:
    """§5.1.1: a client-initiated stream with an even identifier MUST be a connection
    error of type PROTOCOL_ERROR."""
    w.send(w.call(2))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/5.1.1/2")
async def _(w: Wire) -> None:
    """§5.1.1: a stream identifier smaller than one already opened MUST be a connection
    error of type PROTOCOL_ERROR."""
    w.send(w.call(5))
    await w.grpc_ok(5)
    w.send(w.call(3))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/5.1.2/1")
async def _(w: Wire) -> None:
    """§5.1.2: a stream over the advertised SETTINGS_MAX_CONCURRENT_STREAMS MUST be a
    stream error of type PROTOCOL_ERROR or REFUSED_STREAM."""
    limit = w.server_settings[MAX_CONCURRENT_STREAMS]
    assert limit <= 10_000
    w.send(*(w.request(2 * i + 1) for i in range(limit + 1)))
    await w.stream_error(2 * limit + 1, REFUSED_STREAM, PROTOCOL_ERROR)
    # The streams within the limit are live: one of them is answered.
    w.send(data(1, message(b"test"), end=True))
    await w.grpc_ok(1)


@case("http2/5.3.1/1")
async def _(w: Wire) -> None:
    """§5.3.1: a HEADERS frame whose stream depends on itself MUST be a stream error of
    type PROTOCOL_ERROR."""
    w.send(w.request(1, priority=priority_fields(1)))
    await w.stream_error(1, PROTOCOL_ERROR)


@case("http2/5.3.1/2")
async def _(w: Wire) -> None:
    """§5.3.1: a PRIORITY frame making a stream depend on itself MUST be a stream error of
    type PROTOCOL_ERROR."""
    w.send(w.request(1), priority(1, 1))
    await w.stream_error(1, PROTOCOL_ERROR)


@case("http2/5.4.1/1")
async def _(w: Wire) -> None:
    """§5.4.1: after a connection error the endpoint MUST close the TCP connection (a PING
    on stream 3 is one)."""
    w.send(frame(PING, 0, 3, b"h2-5.4.1"))
    while await w.next() is not None:
        pass
    assert w.closed


@case("http2/5.4.1/2")
async def _(w: Wire) -> None:
    """§5.4.1: a connection error SHOULD first send GOAWAY with the error code."""
    w.send(frame(PING, 0, 3, b"h2-5.4.1"))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/5.5/1")
async def _(w: Wire) -> None:
    """§5.5: unknown extension frames MUST be ignored (also on a stream)."""
    w.send(w.request(1), frame(0x77, 0xFF, 1, b"extension"), data(1, message(b"test"), end=True))
    await w.grpc_ok(1)


@case("http2/5.5/2")
async def _(w: Wire) -> None:
    """§5.5, §6.10: an extension frame in the middle of a header block MUST be a connection
    error of type PROTOCOL_ERROR."""
    block = w.encode(w.fields())
    w.send(headers(1, block[:5], end_headers=False), frame(0x77, 0, 1, b"x"))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/6.1/1")
async def _(w: Wire) -> None:
    """§6.1: DATA on stream 0 MUST be a connection error of type PROTOCOL_ERROR."""
    w.send(data(0, message(b"test"), end=True))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/6.1/2")
async def _(w: Wire) -> None:
    """§6.1: DATA on a stream not open or half-closed (local) MUST be a stream error of
    type STREAM_CLOSED (here half-closed (remote): the request ended with HEADERS)."""
    w.send(w.request(1, "Hang", end=True), data(1, message(b"test")))
    await w.stream_error(1, STREAM_CLOSED)


@case("http2/6.1/3")
async def _(w: Wire) -> None:
    """§6.1: a pad length not less than the payload MUST be a connection error of type
    PROTOCOL_ERROR."""
    w.send(w.request(1), frame(DATA, PADDED | END_STREAM, 1, b"\x06test"))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/6.2/1")
async def _(w: Wire) -> None:
    """§6.2, §6.10: HEADERS without END_HEADERS followed by a PRIORITY frame MUST be a
    connection error of type PROTOCOL_ERROR."""
    block = w.encode(w.fields())
    w.send(headers(1, block, end_headers=False), priority(1, 0))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/6.2/2")
async def _(w: Wire) -> None:
    """§6.2, §6.10: HEADERS without END_HEADERS followed by HEADERS on another stream MUST
    be a connection error of type PROTOCOL_ERROR."""
    block = w.encode(w.fields())
    w.send(headers(1, block, end_headers=False), headers(3, block))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/6.2/3")
async def _(w: Wire) -> None:
    """§6.2: HEADERS on stream 0 MUST be a connection error of type PROTOCOL_ERROR."""
    w.send(headers(0, w.encode(w.fields())))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/6.2/4")
async def _(w: Wire) -> None:
    """§6.2: a pad length not less than the payload MUST be a connection error of type
    PROTOCOL_ERROR."""
    block = w.encode(w.fields())
    w.send(frame(HEADERS, PADDED | END_HEADERS, 1, bytes([len(block) + 1]) + block))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/6.3/1")
async def _(w: Wire) -> None:
    """§6.3: PRIORITY on stream 0 MUST be a connection error of type PROTOCOL_ERROR."""
    w.send(priority(0, 1))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/6.3/2")
async def _(w: Wire) -> None:
    """§6.3: a PRIORITY frame of a length other than 5 MUST be a stream error of type
    FRAME_SIZE_ERROR."""
    w.send(w.request(1), frame(PRIORITY, 0, 1, priority_fields(0) + b"\x00"))
    await w.stream_error(1, FRAME_SIZE_ERROR)


@case("http2/6.4/1")
async def _(w: Wire) -> None:
    """§6.4: RST_STREAM on stream 0 MUST be a connection error of type PROTOCOL_ERROR."""
    w.send(rst_stream(0, 0x8))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/6.4/2")
async def _(w: Wire) -> None:
    """§6.4: RST_STREAM on an idle stream MUST be a connection error (PROTOCOL_ERROR)."""
    w.send(rst_stream(1, 0x8))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/6.4/3")
async def _(w: Wire) -> None:
    """§6.4: a RST_STREAM of a length other than 4 MUST be a connection error of type
    FRAME_SIZE_ERROR."""
    w.send(w.request(1), frame(RST_STREAM, 0, 1, b"\x00\x00\x00\x08\x00"))
    await w.connection_error(FRAME_SIZE_ERROR)


@case("http2/6.5/1")
async def _(w: Wire) -> None:
    """§6.5: a SETTINGS ACK with a payload MUST be a connection error of type
    FRAME_SIZE_ERROR."""
    w.send(frame(SETTINGS, ACK, 0, b"\x00\x04\x00\x00\xff\xff"))
    await w.connection_error(FRAME_SIZE_ERROR)


@case("http2/6.5/2")
async def _(w: Wire) -> None:
    """§6.5: SETTINGS on a stream other than 0 MUST be a connection error of type
    PROTOCOL_ERROR."""
    w.send(frame(SETTINGS, 0, 1, b"\x00\x04\x00\x00\xff\xff"))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/6.5/3")
async def _(w: Wire) -> None:
    """§6.5: a SETTINGS length that is not a multiple of 6 MUST be a connection error of
    type FRAME_SIZE_ERROR."""
    w.send(frame(SETTINGS, 0, 0, b"\x00\x04\x00"))
    await w.connection_error(FRAME_SIZE_ERROR)


@case("http2/6.5.2/1")
async def _(w: Wire) -> None:
    """§6.5.2: SETTINGS_ENABLE_PUSH other than 0 or 1 MUST be a connection error of type
    PROTOCOL_ERROR."""
    w.send(settings((ENABLE_PUSH, 2)))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/6.5.2/2")
async def _(w: Wire) -> None:
    """§6.5.2: SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1 MUST be a connection error of
    type FLOW_CONTROL_ERROR."""
    w.send(settings((INITIAL_WINDOW_SIZE, 2**31)))
    await w.connection_error(FLOW_CONTROL_ERROR)


@case("http2/6.5.2/3")
async def _(w: Wire) -> None:
    """§6.5.2: SETTINGS_MAX_FRAME_SIZE below 16,384 MUST be a connection error of type
    PROTOCOL_ERROR."""
    w.send(settings((MAX_FRAME_SIZE, 16_383)))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/6.5.2/4")
async def _(w: Wire) -> None:
    """§6.5.2: SETTINGS_MAX_FRAME_SIZE above 2^24-1 MUST be a connection error of type
    PROTOCOL_ERROR."""
    w.send(settings((MAX_FRAME_SIZE, 2**24)))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/6.5.2/5")
async def _(w: Wire) -> None:
    """§6.5.2: an unknown setting MUST be ignored."""
    w.send(settings((0xFF, 1)))
    await w.until(lambda f: isinstance(f, SettingsFrame) and "ACK" in f.flags, "SETTINGS ACK")
    await w.alive()


@case("http2/6.5.3/1")
async def _(w: Wire) -> None:
    """§6.5.3: the values in a SETTINGS frame MUST be processed in order: INITIAL_WINDOW_SIZE
    100 then 1 leaves a window of 1, so the response's first DATA frame has 1 octet."""
    w.send(settings((INITIAL_WINDOW_SIZE, 100), (INITIAL_WINDOW_SIZE, 1)))
    await w.until(lambda f: isinstance(f, SettingsFrame) and "ACK" in f.flags, "SETTINGS ACK")
    w.send(w.call(1))
    assert len((await w.first_data(1)).data) == 1


@case("http2/6.5.3/2")
async def _(w: Wire) -> None:
    """§6.5.3: a SETTINGS frame without ACK MUST be answered at once with a SETTINGS ACK."""
    w.send(settings((MAX_CONCURRENT_STREAMS, 100)))
    await w.until(lambda f: isinstance(f, SettingsFrame) and "ACK" in f.flags, "SETTINGS ACK")


@case("http2/6.7/1")
async def _(w: Wire) -> None:
    """§6.7: a PING MUST be answered by a PING with ACK and an identical payload."""
    w.send(ping(b"h2-6.7-1"))
    got = await w.until(lambda f: isinstance(f, PingFrame), "a PING")
    assert "ACK" in got.frame.flags and got.frame.opaque_data == b"h2-6.7-1"


@case("http2/6.7/2")
async def _(w: Wire) -> None:
    """§6.7: a PING with ACK MUST NOT be answered: only the second PING's ACK comes."""
    w.send(ping(b"unwanted", ack=True), ping(b"expected"))
    got = await w.until(lambda f: isinstance(f, PingFrame), "a PING")
    assert "ACK" in got.frame.flags and got.frame.opaque_data == b"expected"


@case("http2/6.7/3")
async def _(w: Wire) -> None:
    """§6.7: a PING on a stream other than 0 MUST be a connection error of type
    PROTOCOL_ERROR."""
    w.send(frame(PING, 0, 1, b"h2-6.7-3"))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/6.7/4")
async def _(w: Wire) -> None:
    """§6.7: a PING of a length other than 8 MUST be a connection error of type
    FRAME_SIZE_ERROR."""
    w.send(frame(PING, 0, 0, b"h2-6.7-4!"))
    await w.connection_error(FRAME_SIZE_ERROR)


@case("http2/6.8/1")
async def _(w: Wire) -> None:
    """§6.8: GOAWAY on a stream other than 0 MUST be a connection error of type
    PROTOCOL_ERROR."""
    w.send(frame(GOAWAY, 0, 1, bytes(8)))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/6.9/1")
async def _(w: Wire) -> None:
    """§6.9: a connection WINDOW_UPDATE of 0 MUST be a connection error of type
    PROTOCOL_ERROR."""
    w.send(window_update(0, 0))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/6.9/2")
async def _(w: Wire) -> None:
    """§6.9: a stream WINDOW_UPDATE of 0 MUST be a stream error of type PROTOCOL_ERROR."""
    w.send(w.request(1), window_update(1, 0))
    await w.stream_error(1, PROTOCOL_ERROR)


@case("http2/6.9/3")
async def _(w: Wire) -> None:
    """§6.9: a WINDOW_UPDATE of a length other than 4 MUST be a connection error of type
    FRAME_SIZE_ERROR."""
    w.send(frame(WINDOW_UPDATE, 0, 0, b"\x00\x00\x01"))
    await w.connection_error(FRAME_SIZE_ERROR)


@case("http2/6.9.1/1", handshake=False)
async def _(w: Wire) -> None:
    """§6.9.1: a sender MUST NOT send a flow-controlled frame longer than the space
    available: with SETTINGS_INITIAL_WINDOW_SIZE 1, the response's DATA frame has 1 octet."""
    await w.handshake((INITIAL_WINDOW_SIZE, 1))
    w.send(w.call(1))
    assert len((await w.first_data(1)).data) == 1


@case("http2/6.9.1/2")
async def _(w: Wire) -> None:
    """§6.9.1: a connection window above 2^31-1 MUST be a connection error of type
    FLOW_CONTROL_ERROR."""
    w.send(window_update(0, MAX_WINDOW), window_update(0, MAX_WINDOW))
    await w.connection_error(FLOW_CONTROL_ERROR)


@case("http2/6.9.1/3")
async def _(w: Wire) -> None:
    """§6.9.1: a stream window above 2^31-1 MUST be a stream error (RST_STREAM) of type
    FLOW_CONTROL_ERROR."""
    w.send(w.request(1), window_update(1, MAX_WINDOW), window_update(1, MAX_WINDOW))
    await w.stream_error(1, FLOW_CONTROL_ERROR)


@case("http2/6.9.2/1", handshake=False)
async def _(w: Wire) -> None:
    """§6.9.2: a change of SETTINGS_INITIAL_WINDOW_SIZE MUST adjust the windows of open
    streams: from 0, after the request, to 1: the response's first DATA has 1 octet."""
    await w.handshake((INITIAL_WINDOW_SIZE, 0))
    w.send(w.call(1))
    await w.until(lambda f: isinstance(f, HeadersFrame), "the response headers")
    w.send(settings((INITIAL_WINDOW_SIZE, 1)))
    assert len((await w.first_data(1)).data) == 1


@case("http2/6.9.2/2", handshake=False)
async def _(w: Wire) -> None:
    """§6.9.2: a window made negative by a smaller SETTINGS_INITIAL_WINDOW_SIZE MUST be
    tracked: 3 octets sent of a window of 3, the setting lowered to 2 (window -1), then a
    WINDOW_UPDATE of 2 allows exactly 1 more octet."""
    await w.handshake((INITIAL_WINDOW_SIZE, 3))
    w.send(w.call(1))
    assert len((await w.first_data(1)).data) == 3
    w.send(settings((INITIAL_WINDOW_SIZE, 2)))
    await w.until(lambda f: isinstance(f, SettingsFrame) and "ACK" in f.flags, "SETTINGS ACK")
    w.send(window_update(1, 2))
    assert len((await w.first_data(1)).data) == 1


@case("http2/6.9.2/3")
async def _(w: Wire) -> None:
    """§6.9.2: SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1 MUST be a connection error of
    type FLOW_CONTROL_ERROR."""
    w.send(settings((INITIAL_WINDOW_SIZE, 2**31)))
    await w.connection_error(FLOW_CONTROL_ERROR)


@case("http2/6.10/1")
async def _(w: Wire) -> None:
    """§6.10: several CONTINUATION frames after a HEADERS frame MUST be accepted."""
    block = w.encode(w.fields(extra=[(b"x-pad-%d" % i, b"p" * 100) for i in range(3)]))
    parts = [block[i : i + 40] for i in range(0, len(block), 40)]
    w.send(
        headers(1, parts[0], end_headers=False),
        *(continuation(1, p, end_headers=False) for p in parts[1:-1]),
        continuation(1, parts[-1]),
        data(1, message(b"test"), end=True),
    )
    await w.grpc_ok(1)


@case("http2/6.10/2")
async def _(w: Wire) -> None:
    """§6.10: a CONTINUATION without END_HEADERS followed by another frame type MUST be a
    connection error of type PROTOCOL_ERROR."""
    block = w.encode(w.fields())
    w.send(headers(1, block[:3], end_headers=False), continuation(1, block[3:8], end_headers=False))
    w.send(data(1, message(b"test"), end=True))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/6.10/3")
async def _(w: Wire) -> None:
    """§6.10: a CONTINUATION on stream 0 MUST be a connection error of type
    PROTOCOL_ERROR."""
    block = w.encode(w.fields())
    w.send(headers(1, block[:3], end_headers=False), continuation(0, block[3:]))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/6.10/4")
async def _(w: Wire) -> None:
    """§6.10: a CONTINUATION after a HEADERS frame with END_HEADERS MUST be a connection
    error of type PROTOCOL_ERROR."""
    w.send(w.request(1), continuation(1, w.encode([(b"x-more", b"1")])))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/6.10/5")
async def _(w: Wire) -> None:
    """§6.10: a CONTINUATION after a CONTINUATION with END_HEADERS MUST be a connection
    error of type PROTOCOL_ERROR."""
    block = w.encode(w.fields())
    w.send(headers(1, block[:3], end_headers=False), continuation(1, block[3:]))
    w.send(continuation(1, w.encode([(b"x-more", b"1")])))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/6.10/6")
async def _(w: Wire) -> None:
    """§6.10: a CONTINUATION after a DATA frame MUST be a connection error of type
    PROTOCOL_ERROR."""
    w.send(w.request(1), data(1, message(b"test")), continuation(1, w.encode([(b"x", b"1")])))
    await w.connection_error(PROTOCOL_ERROR)


@case("http2/7/1")
async def _(w: Wire) -> None:
    """§7: an unknown error code MUST NOT trigger any special behaviour (GOAWAY): the
    server may go on (PING answered) or close."""
    w.send(goaway(0, 0xFF), ping(b"h2-7-1!!"))
    while (got := await w.next()) is not None:
        if isinstance(got.frame, PingFrame) and got.frame.opaque_data == b"h2-7-1!!":
            break


@case("http2/7/2")
async def _(w: Wire) -> None:
    """§7: an unknown error code MUST NOT trigger any special behaviour (RST_STREAM):
    the stream is reset like any other, the connection goes on."""
    w.send(w.request(1), rst_stream(1, 0xFF))
    await w.nothing_on(1)
    w.send(w.call(3))
    await w.grpc_ok(3)


@case("http2/8.1/1")
async def _(w: Wire) -> None:
    """§8.1: a second HEADERS frame (trailers) without END_STREAM MUST be a stream error of
    type PROTOCOL_ERROR (malformed)."""
    w.send(w.request(1), data(1, message(b"test")), headers(1, w.encode([(b"x-trailer", b"1")])))
    await w.stream_error(1, PROTOCOL_ERROR)


def _malformed_request_case(
    name: str, what: str, edit: Callable[[Wire], list[tuple[bytes, bytes]]]
) -> None:
    async def run(w: Wire) -> None:
        w.send(headers(1, w.encode(edit(w))), data(1, message(b"test"), end=True))
        await w.stream_error(1, PROTOCOL_ERROR)
        w.send(w.call(3))  # the next request on the same connection is served
        await w.grpc_ok(3)

    run.__doc__ = f"{what} MUST be a stream error of type PROTOCOL_ERROR (malformed)."
    case(name)(run)


def _without(w: Wire, name: bytes) -> list[tuple[bytes, bytes]]:
    return [f for f in w.fields() if f[0] != name]


def _twice(w: Wire, name: bytes) -> list[tuple[bytes, bytes]]:
    fields = w.fields()
    return [f for f in fields if f[0] == name] + fields


for _case_name, _what, _edit in [
    ("http2/8.1.2/1", "§8.2.1: a field name with uppercase letters",
     lambda w: w.fields(extra=[(b"X-Upper", b"1")])),
    ("http2/8.1.2.1/1", "§8.3: an unknown pseudo-header field",
     lambda w: [(b":unknown", b"1"), *w.fields()]),
    ("http2/8.1.2.1/2", "§8.3: a response pseudo-header field in a request",
     lambda w: [(b":status", b"200"), *w.fields()]),
    ("http2/8.1.2.1/4", "§8.3: a pseudo-header field after a regular field",
     lambda w: [*w.fields(), (b":authority", b"late")]),
    ("http2/8.1.2.2/1", "§8.2.2: a connection-specific field (connection)",
     lambda w: w.fields(extra=[(b"connection", b"keep-alive")])),
    ("http2/8.1.2.2/2", "§8.2.2: a TE field with a value other than trailers",
     lambda w: [*_without(w, b"te"), (b"te", b"trailers, deflate")]),
    ("http2/8.1.2.3/1", "§8.3.1: an empty :path",
     lambda w: [(n, b"" if n == b":path" else v) for n, v in w.fields()]),
    ("http2/8.1.2.3/2", "§8.3.1: a request without :method", lambda w: _without(w, b":method")),
    ("http2/8.1.2.3/3", "§8.3.1: a request without :scheme", lambda w: _without(w, b":scheme")),
    ("http2/8.1.2.3/4", "§8.3.1: a request without :path", lambda w: _without(w, b":path")),
    ("http2/8.1.2.3/5", "§8.3.1: a duplicated :method", lambda w: _twice(w, b":method")),
    ("http2/8.1.2.3/6", "§8.3.1: a duplicated :scheme", lambda w: _twice(w, b":scheme")),
    ("http2/8.1.2.3/7", "§8.3.1: a duplicated :path", lambda w: _twice(w, b":path")),
]:  # fmt: skip
    _malformed_request_case(_case_name, _what, _edit)


@case("http2/8.1.2.1/3")
async def _(w: Wire) -> None:
    """§8.1, §8.3: a pseudo-header field in trailers MUST be a stream error of type
    PROTOCOL_ERROR (malformed)."""
    trailers = headers(1, w.encode([(b":method", b"POST")]), end=True)
    w.send(w.request(1), data(1, message(b"test")), trailers)
    await w.stream_error(1, PROTOCOL_ERROR)


@case("http2/8.1.2.6/1")
async def _(w: Wire) -> None:
    """§8.1.1: a content-length that differs from the DATA payload length MUST be a stream
    error of type PROTOCOL_ERROR (malformed)."""
    w.send(headers(1, w.encode(w.fields(extra=[(b"content-length", b"1")]))))
    w.send(data(1, message(b"test"), end=True))
    await w.stream_error(1, PROTOCOL_ERROR)


@case("http2/8.1.2.6/2")
async def _(w: Wire) -> None:
    """§8.1.1: a content-length that differs from the sum of several DATA payloads MUST be
    a stream error of type PROTOCOL_ERROR; here the issue's case, 1,000 declared and 111
    sent (in two frames) then END_STREAM."""
    w.send(headers(1, w.encode(w.fields(extra=[(b"content-length", b"1000")]))))
    body = message(b"m" * 106)
    w.send(data(1, body[:50]), data(1, body[50:], end=True))
    await w.stream_error(1, PROTOCOL_ERROR)


@case("http2/8.2/1")
async def _(w: Wire) -> None:
    """§8.4: a client cannot push: PUSH_PROMISE MUST be a connection error of type
    PROTOCOL_ERROR."""
    w.send(w.request(1))
    promised = (2).to_bytes(4, "big") + w.encode(w.fields())
    w.send(frame(PUSH_PROMISE, END_HEADERS, 1, promised))
    await w.connection_error(PROTOCOL_ERROR)


# ====================================================================== hpack
# h2spec's "hpack" group: decoding errors (RFC 7541) are connection errors of type
# COMPRESSION_ERROR (RFC 9113 §4.3).


def _decoding_error_case(name: str, what: str, build: Callable[[Wire], bytes]) -> None:
    async def run(w: Wire) -> None:
        w.send(headers(1, build(w), end=True))
        await w.connection_error(COMPRESSION_ERROR)

    run.__doc__ = f"RFC 7541 {what} MUST be treated as a decoding error: COMPRESSION_ERROR."
    case(name)(run)


_LITERAL = b"\x00" + hpack_str(b"x-name")  # a literal without indexing, new name, then a value
for _case_name, _what, _build in [
    ("hpack/2.3.3/1", "§2.3.3: an indexed field with an index past both tables",
     lambda w: w.encode(w.fields()) + hpack_int(2000, 7, 0x80)),
    ("hpack/2.3.3/2", "§2.3.3: a literal field whose name index is past both tables",
     lambda w: w.encode(w.fields()) + hpack_int(2000, 4, 0x00) + hpack_str(b"v")),
    ("hpack/4.2/1", "§4.2: a dynamic table size update after a field (not at the block start)",
     lambda w: w.encode(w.fields()) + hpack_int(0, 5, 0x20)),
    ("hpack/5.2/1", "§5.2: Huffman padding longer than 7 bits",
     lambda w: w.encode(w.fields()) + _LITERAL + hpack_huffman_raw(b"\x1f\xff")),
    ("hpack/5.2/2", "§5.2: Huffman padding that is not the EOS prefix (zeros)",
     lambda w: w.encode(w.fields()) + _LITERAL + hpack_huffman_raw(b"\x18\x00")),
    ("hpack/5.2/3", "§5.2: a Huffman string containing the EOS symbol",
     lambda w: w.encode(w.fields()) + _LITERAL + hpack_huffman_raw(b"\xff\xff\xff\xff")),
    ("hpack/6.1/1", "§6.1: an indexed field with index 0",
     lambda w: w.encode(w.fields()) + b"\x80"),
    ("hpack/6.3/1", "§6.3: a dynamic table size update above SETTINGS_HEADER_TABLE_SIZE",
     lambda w: hpack_int(w.server_settings.get(HEADER_TABLE_SIZE, 4096) + 1, 5, 0x20)
     + w.encode(w.fields())),
]:  # fmt: skip
    _decoding_error_case(_case_name, _what, _build)


# ====================================================================== the cases


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
async def test_h2spec(wire: Any, name: str) -> None:
    run = CASES[name]
    w = await wire()
    if name not in RAW_START:
        await w.handshake()
    await run(w)


def test_every_h2spec_case_is_here() -> None:
    """h2spec's case counts per section (generic, http2 and hpack groups, as of its
    v2.6.0 sources): none left out."""
    counts: dict[str, int] = {}
    for name in CASES:
        section = name.rsplit("/", 1)[0]
        counts[section] = counts.get(section, 0) + 1
    assert counts == H2SPEC_COUNTS


# Cases per section in h2spec v2.6.0 (generic/, http2/ and hpack/ sources).
H2SPEC_COUNTS = {
    "generic/1": 1, "generic/2": 5, "generic/3.1": 3, "generic/3.2": 3, "generic/3.3": 5,
    "generic/3.4": 1, "generic/3.5": 1, "generic/3.7": 1, "generic/3.8": 1,
    "generic/3.9": 2, "generic/3.10": 2, "generic/4": 4, "generic/5": 15,
    "http2/3.5": 2, "http2/4.1": 3, "http2/4.2": 3, "http2/4.3": 3, "http2/5.1": 13,
    "http2/5.1.1": 2, "http2/5.1.2": 1, "http2/5.3.1": 2, "http2/5.4.1": 2, "http2/5.5": 2,
    "http2/6.1": 3, "http2/6.2": 4, "http2/6.3": 2, "http2/6.4": 3, "http2/6.5": 3,
    "http2/6.5.2": 5, "http2/6.5.3": 2, "http2/6.7": 4, "http2/6.8": 1, "http2/6.9": 3,
    "http2/6.9.1": 3, "http2/6.9.2": 3, "http2/6.10": 6, "http2/7": 2, "http2/8.1": 1,
    "http2/8.1.2": 1, "http2/8.1.2.1": 4, "http2/8.1.2.2": 2, "http2/8.1.2.3": 7,
    "http2/8.1.2.6": 2, "http2/8.2": 1,
    "hpack/2.3.3": 2, "hpack/4.2": 1, "hpack/5.2": 3, "hpack/6.1": 1, "hpack/6.3": 1,
}  # fmt: skip
