"""Fuzzing the receive path of the HTTP/2 core: frame parsing, HPACK decoding and the
connection, with hypothesis, for a bounded number of examples per test.

The invariant is STYLE.md habit 10: whatever a peer sends either parses into events or ends
in a defined protocol error (for the connection: a :class:`ConnectionTerminated` event with
a GOAWAY queued in ``data_to_send()``), never another exception, and memory stays bounded by
the configured limits.

Four targets:

(a) raw bytes after a valid handshake, delivered in random chunkings, to a server and to a
    client connection;
(b) structured sequences of frames built with the ``frames.py`` builders (random types,
    flags, stream ids, lengths, payloads), carrying real HPACK blocks from two encoders
    (ours and python-hyper's), some of them mutated (bit flips, truncation, splices) and
    split across CONTINUATION frames: this reaches the stream-state, validation and HPACK
    branches that random bytes cannot;
(c) the HPACK decoder alone on sequences of mutated valid blocks, cross-checked against
    python-hyper's decoder where both accept the input;
(d) bounded memory, checked after every ``receive_data`` (see :meth:`Harness.check_bounds`).

Crashes found this way are kept as explicit regression tests at the end of the file.
"""

from __future__ import annotations

import contextlib
import itertools
import os

import hpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grpcx.http2 import frames as fr
from grpcx.http2.connection import ConnectionClosedError, H2Connection, LocalProtocolError
from grpcx.http2.errors import (
    ErrorCode,
    H2ConnectionError,
    H2Error,
    HeaderListTooLargeError,
    HPACKDecodingError,
)
from grpcx.http2.events import (
    ConnectionTerminated,
    DataReceived,
    Event,
    HeadersReceived,
)
from grpcx.http2.hpack import Decoder, Encoder
from grpcx.http2.settings import H2Config

Headers = list[tuple[bytes, bytes]]

# Bounded runs (the whole file takes about 30 s); GRPCX_FUZZ_EXAMPLES=n scales every test
# to n examples for a longer local session.
_EXAMPLES = os.environ.get("GRPCX_FUZZ_EXAMPLES")


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=int(_EXAMPLES) if _EXAMPLES else examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )


FUZZ = fuzz_settings(2000)
FUZZ_DEEP = fuzz_settings(1500)  # the costly targets: long frame sequences, HPACK sequences

REQUEST = [
    (b":method", b"POST"),
    (b":scheme", b"http"),
    (b":path", b"/pkg.Service/Method"),
    (b":authority", b"localhost"),
    (b"content-type", b"application/grpc"),
    (b"te", b"trailers"),
]
RESPONSE = [(b":status", b"200"), (b"content-type", b"application/grpc")]
TRAILERS = [(b"grpc-status", b"0"), (b"grpc-message", b"")]

# Small limits, so that a short fuzz input can reach every one of them.
TIGHT = H2Config(
    max_concurrent_streams=3,
    initial_window_size=65_535,
    connection_window_size=65_535,
    max_header_list_size=600,
    max_continuation_frames=3,
    max_header_block_size=400,
    max_peer_resets_per_second=5.0,
    peer_reset_burst=6,
    max_pings_per_second=5.0,
    ping_burst=4,
    max_settings_per_second=5.0,
    settings_burst=4,
    max_outbound_buffer=200,
    max_encoder_table_size=256,
    closed_stream_history=4,
)
CONFIGS = st.sampled_from([H2Config(), TIGHT])

# The largest frame the core writes in reply to peer input (PING ACK), and its GOAWAY
# (debug data is capped at 256 bytes).
MAX_REACTIVE_FRAME = fr.FRAME_HEADER_SIZE + 8
MAX_GOAWAY = fr.FRAME_HEADER_SIZE + 8 + 256
# A byte queued for flow control may go out in a DATA frame of its own (a peer can open a
# window one byte at a time): 9 bytes of frame header plus itself, at most.
QUEUED_BYTE_COST = fr.FRAME_HEADER_SIZE + 1
TRAILERS_SIZE = 64  # a generous bound on the trailers' HEADERS frame


# ===================================================================== the harness


class Harness:
    """One connection under test, its application, and the checks run after each input.

    ``drain``: the driver empties ``data_to_send()`` after each input (else the peer never
    reads, and only ``max_outbound_buffer`` bounds what piles up). ``respond``: a server
    application answers each request with headers, a body and trailers, so that outbound
    flow control and queued data meet the fuzzed WINDOW_UPDATEs and SETTINGS.
    """

    def __init__(
        self, client_side: bool, config: H2Config, *, drain: bool = True, respond: bool = True
    ) -> None:
        self.conn = conn = H2Connection(client_side=client_side, config=config)
        self.config = config
        self.drain = drain
        self.respond = respond
        self.now = 0.0
        self.responded: set[int] = set()
        self.ended: ConnectionTerminated | None = None
        self.reader = fr.FrameReader(max_frame_size=fr.MAX_FRAME_SIZE_LIMIT)
        self.sent: list[fr.Frame] = []
        conn.initiate(0.0)
        conn.ping(OUR_PING, 0.0)
        out = conn.data_to_send()
        if client_side:
            out = out[len(fr.CONNECTION_PREFACE) :]
            # Streams in every local state the peer's frames can meet.
            conn.send_headers(1, REQUEST, end_stream=True)  # half-closed (local)
            conn.send_headers(3, REQUEST)  # open
            conn.send_data(3, b"\x00\x00\x00\x00\x02hi")
            conn.send_headers(5, REQUEST)
            conn.send_data(5, b"x" * 70_000)  # more than the initial window: queued
            out += conn.data_to_send()
        self.check_output(out)
        # Output the application caused since the last drain (see check_bounds).
        self.app_bytes = QUEUED_BYTE_COST * conn.outbound_queued(5)

    # -- driving

    def handshake(self, ack: bool = True) -> None:
        """The peer's side of a valid handshake: preface (to a server), SETTINGS, and the
        ACK of ours unless ``ack`` is false (the limits we advertised are then not yet in
        force, RFC 9113 §6.5.3)."""
        if not self.conn.client_side:
            self.feed(fr.CONNECTION_PREFACE)
        self.feed(fr.build_settings() + (fr.build_settings(ack=True) if ack else b""))
        assert not self.conn.terminated

    def feed(self, data: bytes) -> list[Event]:
        conn = self.conn
        self.now += 0.001
        events = conn.receive_data(data, self.now)
        assert type(events) is list
        if self.ended is not None:
            # After ConnectionTerminated, further input is ignored.
            assert events == []
            return events
        for index, event in enumerate(events):
            assert isinstance(event, Event)
            if isinstance(event, ConnectionTerminated):
                assert index == len(events) - 1, "events after ConnectionTerminated"
                self.ended = event
            else:
                self.application(event)
        self.check_bounds()
        if self.ended is not None:
            self.check_terminated()
        elif self.drain:
            self.check_output(conn.data_to_send())
            self.app_bytes = sum(
                QUEUED_BYTE_COST * conn.outbound_queued(s) + TRAILERS_SIZE
                for s in {1, 3, 5} | self.responded
            )
        return events

    def application(self, event: Event) -> None:
        """What a gRPC application does with each event; it must never raise."""
        conn = self.conn
        before = conn.outbound_buffered
        if isinstance(event, DataReceived):
            conn.acknowledge_received_data(event.stream_id, event.flow_controlled_length)
        elif isinstance(event, HeadersReceived) and self.respond and not conn.client_side:
            stream_id = event.stream_id
            # As a driver does: it answers each request as its event comes, although the
            # same read may have reset the stream later, or ended the whole connection
            # (ConnectionTerminated comes last). Those sends are no-ops, never errors.
            if stream_id not in self.responded:
                self.responded.add(stream_id)
                conn.send_headers(stream_id, RESPONSE)
                # Odd streams get more than a window's worth: queued for flow control.
                size = 70_000 if stream_id % 4 == 1 else 100
                conn.send_data(stream_id, b"\x00" * size)
                conn.send_headers(stream_id, TRAILERS, end_stream=True)
                # The queued part goes out later, as the peer opens the windows.
                self.app_bytes += QUEUED_BYTE_COST * conn.outbound_queued(stream_id)
                self.app_bytes += TRAILERS_SIZE  # trailers deferred behind queued data
        self.app_bytes += conn.outbound_buffered - before

    # -- checks

    def check_output(self, data: bytes) -> None:
        """Everything the connection sends is well-formed HTTP/2."""
        self.reader.feed(data)
        for raw in self.reader.read_frames():
            self.sent.append(fr.decode_frame(*raw))

    def check_terminated(self) -> None:
        """ConnectionTerminated: GOAWAY with its code queued; the connection takes no more."""
        conn = self.conn
        ended = self.ended
        assert ended is not None and conn.terminated
        self.check_output(conn.data_to_send())
        assert self.reader.buffered == 0
        last = self.sent[-1]
        assert last.type == fr.GOAWAY and last.error_code == ended.error_code
        assert conn.get_timer() is None
        assert conn.receive_data(fr.build_ping(b"12345678"), self.now) == []
        assert conn.data_to_send() == b""
        for call in (
            lambda: conn.send_headers(conn.get_next_stream_id(), REQUEST),
            lambda: conn.ping(b"abcdefgh", self.now),
            lambda: conn.send_goaway(),
            lambda: conn.update_settings({fr.SETTINGS_MAX_CONCURRENT_STREAMS: 1}, self.now),
        ):
            try:
                call()
            except ConnectionClosedError:
                pass
            else:  # pragma: no cover - a failure
                raise AssertionError("a local call on an ended connection did not raise")
        conn.acknowledge_received_data(1, 10)  # documented as a no-op once ended
        assert conn.data_to_send() == b""

    def check_bounds(self) -> None:
        """(d) Memory stays within the configured limits.

        Public queries where they exist; private attributes otherwise, each named here:
        ``_reader`` (the FrameReader: its public ``buffered``), ``_hb_parts`` (the header
        block being reassembled), ``_reactive`` (undrained bytes provoked by the peer),
        ``_closed`` and ``_closed_old`` (closed-stream history), ``_decoder._table_size`` (HPACK
        table), ``_streams`` (live streams).
        """
        conn = self.conn
        config = self.config
        if not conn.terminated:
            # Every complete frame was consumed: at most one partial frame is buffered.
            reader = conn._reader
            assert reader.buffered < fr.FRAME_HEADER_SIZE + reader.max_frame_size
            assert len(conn._preface_buf) < len(fr.CONNECTION_PREFACE)
            assert conn._reactive <= config.max_outbound_buffer
        parts = conn._hb_parts if conn._hb_stream else []
        assert sum(map(len, parts)) <= config.max_header_block_size
        assert len(parts) <= config.max_continuation_frames + 1
        # What the peer provoked and did not read: the limit, plus the frame that crossed
        # it, plus the GOAWAY.
        provoked = conn.outbound_buffered - self.app_bytes
        assert provoked <= config.max_outbound_buffer + MAX_REACTIVE_FRAME + MAX_GOAWAY
        assert len(conn._closed) + len(conn._closed_old) <= config.closed_stream_history
        # Streams the peer opened: the limit we advertised, even before the peer ACKs it.
        assert conn.remote_open_streams <= config.max_concurrent_streams
        decoder = conn._decoder
        assert decoder._table_size <= decoder.header_table_size <= config.header_table_size
        # The total a driver bounds is the sum of the streams' queues (``_streams``: every
        # live stream's record), through queueing, drains and resets.
        assert conn.outbound_queued_total == sum(conn.outbound_queued(sid) for sid in conn._streams)


# ===================================================================== (a) raw bytes


@st.composite
def frame_shaped_bytes(draw: st.DrawFn) -> bytes:
    """Bytes that look like frames: a 9-byte header with a small length, and a payload
    whose real size may not match it. Pure random bytes rarely get past the first frame
    header (its length is almost always above MAX_FRAME_SIZE)."""
    out = bytearray()
    for _ in range(draw(st.integers(1, 8))):
        length = draw(st.integers(0, 40) | st.sampled_from([16_384, 16_385, 2**24 - 1]))
        out += length.to_bytes(3, "big")
        out.append(draw(st.integers(0, 12) | st.integers(0, 255)))
        out.append(draw(st.integers(0, 255)))
        out += draw(st.integers(0, 9) | st.integers(0, 2**32 - 1)).to_bytes(4, "big")
        out += draw(st.binary(max_size=48))
    return bytes(out)


WIRE = st.binary(max_size=600) | frame_shaped_bytes()


def chunked(data: bytes, sizes: list[int]) -> list[bytes]:
    """``data`` cut into pieces of the given sizes, cycled; a size of 0 is an empty
    delivery (``receive_data(b"")``) before the next piece."""
    if not any(sizes):
        return [*([b""] * len(sizes)), data]
    pieces = []
    pos = 0
    i = 0
    while pos < len(data):
        size = sizes[i % len(sizes)]
        pieces.append(data[pos : pos + size])
        pos += size
        i += 1
    return pieces


CHUNKS = st.lists(st.integers(0, 64), max_size=8)


@FUZZ
@given(
    client_side=st.booleans(),
    config=CONFIGS,
    drain=st.booleans(),
    data=WIRE,
    sizes=CHUNKS,
)
def test_raw_bytes_after_handshake(
    client_side: bool, config: H2Config, drain: bool, data: bytes, sizes: list[int]
) -> None:
    harness = Harness(client_side, config, drain=drain)
    harness.handshake()
    for piece in chunked(data, sizes):
        harness.feed(piece)


@FUZZ
@given(client_side=st.booleans(), data=st.binary(max_size=200), sizes=CHUNKS)
def test_raw_bytes_instead_of_handshake(client_side: bool, data: bytes, sizes: list[int]) -> None:
    """Garbage in place of (or right after part of) the preface."""
    harness = Harness(client_side, H2Config())
    prefix = b"" if client_side else fr.CONNECTION_PREFACE[: len(data) % 30]
    for piece in chunked(prefix + data, sizes):
        harness.feed(piece)


# ===================================================================== (b) structured frames

STATUS_VALUES = [b"200", b"204", b"404", b"103"]
BAD_STATUS_VALUES = [b"20", b"2000", b"abc", b"099", b"-20"]
FIELD_NAMES = [b"x-meta", b"x-bin-bin", b"grpc-timeout", b"user-agent", b"cookie", b"authorization"]
BAD_FIELD_NAMES = [
    b"te",  # only "trailers" is allowed
    b"connection",  # connection-specific
    b"X-Upper",  # uppercase
    b":path",  # a pseudo-header after regular fields
    b":status",
    b":bogus",
    b"",
]
FIELD_VALUES = st.sampled_from([b"", b"1S", b"trailers", b"a b", b"x" * 40])
BAD_FIELD_VALUES = st.sampled_from([b" lead", b"trail\t", b"v\r\n", b"nul\x00"]) | st.binary(
    max_size=24
)
BAD_PSEUDO = [
    # CONNECT (plain or extended), a repeated or unknown pseudo-header, or one missing
    # (RFC 9113 §8.3.1, §8.5).
    [(b":method", b"CONNECT"), (b":authority", b"h:1")],
    [(b":method", b"CONNECT"), (b":path", b"/")],
    [(b":method", b"CONNECT"), (b":protocol", b"ws"), *REQUEST[1:4]],
    [(b":method", b"POST"), (b":protocol", b"ws"), *REQUEST[1:4]],
    [*REQUEST[:4], (b":path", b"/again")],
    [*REQUEST[:4], (b":status", b"200")],
    REQUEST[:1] + REQUEST[2:4],
    REQUEST[:2] + REQUEST[3:4],
    [(b":method", b"POST"), (b":scheme", b""), (b":path", b"/")],
]


def _valid_pool(client_side: bool) -> list[Headers]:
    """Valid header lists, built once: drawing one is a single choice, which keeps
    generation cheap (most header blocks of a sequence are valid)."""
    extras: list[Headers] = [
        [],
        [(b"user-agent", b"grpcx-fuzz/1.0")],
        [(b"grpc-timeout", b"1S"), (b"x-meta", b"a b")],
        [(b"x-bin-bin", b"x" * 40), (b"cookie", b"c=1"), (b"authorization", b"Bearer t")],
        [(b"x-big", b"b" * 300)],  # over TIGHT's list and block limits
        [(b"x-big", b"~" * 300)],  # Huffman-coded at 13 bits a byte: a long literal
    ]
    if client_side:
        heads = [[(b":status", status), *RESPONSE[1:]] for status in (b"200", b"404", b"100")]
    else:
        heads = [
            [*REQUEST[:2], (b":path", b"/pkg.Service/M%d" % i), *REQUEST[3:]] for i in range(3)
        ]
        heads.append([(b":method", b"CONNECT"), (b":protocol", b"websocket"), *REQUEST[1:]])
    heads.append(list(TRAILERS))
    return [head + extra for head in heads for extra in extras]


VALID_HEADERS = {side: st.sampled_from(_valid_pool(side)) for side in (False, True)}


@st.composite
def header_list(draw: st.DrawFn, client_side: bool, broken: bool) -> Headers:
    """A header list the peer of a client (responses, trailers) or of a server (requests,
    trailers) would send: valid, or if ``broken`` possibly malformed (RFC 9113 §8.2-8.3)."""
    kind = draw(st.integers(0, 9))
    if kind <= 1:
        base = list(TRAILERS)
    elif client_side:
        statuses = STATUS_VALUES + BAD_STATUS_VALUES if broken else STATUS_VALUES
        status = b"100" if kind == 2 else draw(st.sampled_from(statuses))
        base = [(b":status", status), (b"content-type", b"application/grpc")]
    else:
        path = b"/pkg.Service/M%d" % draw(st.integers(0, 3))
        base = [*REQUEST[:2], (b":path", path), *REQUEST[3:]]
        if broken and kind == 2:
            base = draw(st.sampled_from(BAD_PSEUDO)) + base[4:]
        elif kind == 3 and draw(st.integers(0, 3)) == 0:
            # Valid but unusual: extended CONNECT (RFC 8441), checked like any request.
            base = [(b":method", b"CONNECT"), (b":protocol", b"websocket"), *base[1:]]
    names = FIELD_NAMES + BAD_FIELD_NAMES if broken else FIELD_NAMES
    values = FIELD_VALUES | BAD_FIELD_VALUES if broken else FIELD_VALUES
    headers = base + draw(st.lists(st.tuples(st.sampled_from(names), values), max_size=4))
    if draw(st.integers(0, 9)) == 0:
        # Big enough to cross max_header_list_size and max_header_block_size (TIGHT).
        headers.append((b"x-big", draw(st.sampled_from([b"b" * 300, b"~" * 300]))))
    if broken and draw(st.integers(0, 3)) == 0:
        headers = draw(st.permutations(headers))
    return headers


@st.composite
def mutated(draw: st.DrawFn, block: bytes) -> bytes:
    """``block`` with one to three mutations: bit flips, byte swaps, truncation, splices."""
    data = bytearray(block)
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.integers(0, 5))
        pos = draw(st.integers(0, len(data)))
        if how == 0 and data:
            i = min(pos, len(data) - 1)
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif how == 1 and data:
            i = min(pos, len(data) - 1)
            # Bytes that start each HPACK instruction, and its integer-continuation forms.
            data[i] = draw(st.sampled_from([0x00, 0x10, 0x20, 0x3F, 0x40, 0x7F, 0x80, 0xFF]))
        elif how == 2:
            del data[pos:]
        elif how == 3:
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif how == 4 and data:
            # Splice: repeat a slice of the block elsewhere in it.
            start = draw(st.integers(0, len(data) - 1))
            stop = draw(st.integers(start, len(data)))
            data[pos:pos] = data[start:stop]
        else:
            data[pos:pos] = b"\xff\xff\xff\xff\x0f"  # an integer beyond 32 bits
    return bytes(data)


class PeerEncoder:
    """The fuzzed peer's HPACK encoder: ours or python-hyper's (which indexes everything
    and so exercises the dynamic table more)."""

    def __init__(self, ours: bool) -> None:
        self.ours = ours
        self.encoder: Encoder | hpack.Encoder = Encoder() if ours else hpack.Encoder()

    def encode(self, headers: Headers) -> bytes:
        if isinstance(self.encoder, Encoder):
            return self.encoder.encode(headers)
        return bytes(self.encoder.encode(headers))


ERROR_CODES = st.sampled_from([0, 1, 2, 5, 7, 8, 0xB, 0xFF, 2**32 - 1])
SETTING_IDS = st.integers(0, 9) | st.integers(0, 0xFFFF)
SETTING_VALUES = st.sampled_from(
    [0, 1, 2, 100, 4096, 16_383, 16_384, 65_535, 2**24 - 1, 2**24, 2**31 - 1, 2**31, 2**32 - 1]
) | st.integers(0, 2**32 - 1)
INCREMENTS = st.sampled_from([1, 100, 65_535, 2**30, 2**31 - 1]) | st.integers(1, 2**31 - 1)
PADDING = st.none() | st.none() | st.integers(0, 255)
# Settings that are individually interesting, for either side.
SETTING_PAIRS = st.sampled_from(
    [
        (fr.SETTINGS_ENABLE_PUSH, 1),
        (fr.SETTINGS_INITIAL_WINDOW_SIZE, 2**31 - 1),
        (fr.SETTINGS_INITIAL_WINDOW_SIZE, 0),
        (fr.SETTINGS_INITIAL_WINDOW_SIZE, 1_000_000),
        (fr.SETTINGS_HEADER_TABLE_SIZE, 0),
        (fr.SETTINGS_MAX_FRAME_SIZE, 16_384),
        (fr.SETTINGS_MAX_CONCURRENT_STREAMS, 0),
        (fr.SETTINGS_MAX_CONCURRENT_STREAMS, 1),
        (0x10, 7),  # unknown: ignored
    ]
)
WINDOW_UPDATE_ODDITIES = st.sampled_from([b"\x00\x00\x00\x00", b"\x80\x00\x00\x00", b"\xff" * 4])


def split_block(draw: st.DrawFn, block: bytes, max_cuts: int) -> list[bytes]:
    """``block`` cut into fragments (HEADERS then CONTINUATIONs)."""
    cuts = sorted(draw(st.lists(st.integers(0, len(block)), max_size=max_cuts)))
    bounds = [0, *cuts, len(block)]
    return [block[a:b] for a, b in itertools.pairwise(bounds)]


# Our PING, to be acknowledged by the fuzzed peer (see Harness).
OUR_PING = b"fuzzping"


# Frame kinds, weighted: header blocks matter most, then DATA and flow control.
KINDS = st.sampled_from(
    ["headers"] * 5
    + ["data"] * 4
    + ["window_update"] * 2
    + ["rst_stream", "settings", "ping", "priority", "goaway", "burst", "odd", "raw"]
)


@st.composite
def frame_sequence(draw: st.DrawFn, client_side: bool) -> list[bytes]:
    """A peer's frames after the handshake: header blocks encoded in delivery order (so the
    HPACK tables stay in step until a mutation breaks them) among every other frame type.

    Most sequences are "tame": mostly valid frames on streams that exist, with a rare
    broken one, so that they live long enough to reach the stream states, flow control
    and limits deep in the connection. "Wild" ones break something at every turn.
    """
    encoder = PeerEncoder(draw(st.booleans()))
    odds = draw(st.sampled_from([3, 20, 20, 20]))  # one broken choice in this many

    def rare() -> bool:
        return draw(st.integers(1, odds)) == 1

    frames: list[bytes] = []
    # Peer-initiated stream ids go up by two; the client under test opened 1, 3 and 5.
    next_id = 1
    used: list[int] = [1, 3, 5] if client_side else []
    ended: set[int] = set()  # streams the peer ended or reset

    def stream_id(fresh: bool = False, sending: bool = False) -> int:
        """A stream id: usually one that a header block opened and, for frames that need
        it (``sending``), that the peer has not ended; or a new one for a header block;
        rarely any other."""
        nonlocal next_id
        if rare():
            return draw(st.sampled_from([0, 2, 4, 7, 9, 2**31 - 1]) | st.integers(0, 2**31 - 1))
        live = [sid for sid in used if sid not in ended] if sending else used
        if client_side or (live and not fresh):
            return draw(st.sampled_from(live or used))
        if not fresh:
            return next_id  # only header blocks open streams: this one is idle
        sid = next_id
        next_id += 2
        used.append(sid)
        return sid

    def mark_end(sid: int, end_stream: bool) -> bool:
        if end_stream:
            ended.add(sid)
        return end_stream

    def headers_frames() -> list[bytes]:
        sid = stream_id(fresh=not used or draw(st.booleans()), sending=True)
        lists = header_list(client_side, broken=True) if rare() else VALID_HEADERS[client_side]
        block = encoder.encode(draw(lists))
        if rare():
            block = draw(mutated(block))
        fragments = (
            split_block(draw, block, 5 if rare() else 2)
            if draw(st.integers(0, 3)) == 0
            else [block]
        )
        priority = None
        if draw(st.integers(0, 4)) == 0:
            dep = draw(st.sampled_from([0, sid, 1]) | st.integers(0, 2**31 - 1))
            priority = fr.Priority(dep, draw(st.integers(1, 256)), draw(st.booleans()))
        out = [
            fr.build_headers(
                sid,
                fragments[0],
                end_stream=mark_end(sid, draw(st.booleans())),
                end_headers=len(fragments) == 1,
                pad_length=draw(PADDING),
                priority=priority,
            )
        ]
        for i, fragment in enumerate(fragments[1:], 2):
            if rare():  # an intruder, or a wrong stream id
                out.append(fr.build_ping(b"intruder"))
            cont_sid = stream_id() if rare() else sid
            end = i == len(fragments)
            out.append(fr.build_continuation(cont_sid, fragment, end_headers=end))
        return out

    def one_frame(kind: str | None = None) -> list[bytes]:
        if kind is None:
            kind = draw(KINDS)
        if not client_side and not set(used) - ended and not rare():
            kind = "headers"  # frames for a stream need one, or they end the connection
        if kind == "headers":
            return headers_frames()
        if kind == "data":  # small, or big enough to exhaust the windows
            payload = draw(st.binary(max_size=64) | st.sampled_from([b"\x00" * 16_000]))
            sid = stream_id(sending=True)
            end_stream = mark_end(sid, draw(st.integers(0, 3)) == 0)
            pad = draw(PADDING)
            return [fr.build_data(sid, payload, end_stream=end_stream, pad_length=pad)]
        if kind == "rst_stream":
            sid = stream_id(sending=True)
            ended.add(sid)
            return [fr.build_rst_stream(sid, draw(ERROR_CODES))]
        if kind == "window_update":
            sid = 0 if draw(st.booleans()) else stream_id()
            if rare():  # increment 0, or the reserved bit set
                return [fr.build_frame(fr.WINDOW_UPDATE, 0, sid, draw(WINDOW_UPDATE_ODDITIES))]
            increment = draw(INCREMENTS if rare() else st.integers(1, 70_000))
            return [fr.build_window_update(sid, increment)]
        if kind == "settings":
            if draw(st.integers(0, 3)) == 0:
                return [fr.build_settings(ack=True)]
            pair = st.tuples(SETTING_IDS, SETTING_VALUES) if rare() else SETTING_PAIRS
            return [fr.build_settings(draw(st.lists(pair, max_size=3)))]
        if kind == "ping":
            opaque = draw(st.just(OUR_PING) | st.binary(min_size=8, max_size=8))
            return [fr.build_ping(opaque, ack=draw(st.booleans()))]
        if kind == "goaway":
            last = draw(st.sampled_from([0, 1, 3, 2**31 - 1]))
            code = draw(ERROR_CODES)
            return [fr.build_goaway(last, code, draw(st.binary(max_size=16)))]
        if kind == "priority":
            dep = draw(st.integers(0, 9))
            return [fr.build_priority(stream_id(), fr.Priority(dep, 16, draw(st.booleans())))]
        if kind == "burst":
            # Frames of one kind in a row: many streams, resets, pings, SETTINGS, DATA...
            # to reach the rate limits, the concurrency limit and the ends of the windows.
            kind = draw(KINDS.filter(lambda k: k != "burst"))
            return [frame for _ in range(draw(st.integers(2, 12))) for frame in one_frame(kind)]
        if not rare():
            return []
        if kind == "odd":
            # PUSH_PROMISE and CONTINUATION out of place.
            block = encoder.encode(REQUEST)
            if draw(st.booleans()):
                return [fr.build_push_promise(stream_id(), 2, block)]
            end = draw(st.booleans())
            return [fr.build_continuation(stream_id(), block, end_headers=end)]
        # Any type (unknown ones included) with any flags and payload: wrong lengths for
        # the fixed-size frames, padding flags without padding, and so on.
        frame_type = draw(st.integers(0, 15))
        flags = draw(st.integers(0, 255))
        return [fr.build_frame(frame_type, flags, stream_id(), draw(st.binary(max_size=12)))]

    if odds > 3:
        frames += headers_frames()
    for _ in range(draw(st.integers(1, 20))):
        frames += one_frame()
    return frames


@FUZZ_DEEP
@given(
    client_side=st.booleans(),
    config=CONFIGS,
    drain=st.booleans(),
    ack=st.booleans(),
    data=st.data(),
)
def test_structured_frames(
    client_side: bool, config: H2Config, drain: bool, ack: bool, data: st.DataObject
) -> None:
    harness = Harness(client_side, config, drain=drain)
    harness.handshake(ack)
    if data.draw(st.integers(0, 4)) == 0:
        # Our graceful GOAWAY: later peer streams are ignored, earlier ones go on.
        harness.conn.send_goaway(last_stream_id=data.draw(st.sampled_from([0, 1, 3])))
    frames = data.draw(frame_sequence(client_side))
    # Deliver frames one by one, all at once, or in arbitrary pieces.
    how = data.draw(st.integers(0, 2))
    if how == 0:
        for frame in frames:
            harness.feed(frame)
    elif how == 1:
        harness.feed(b"".join(frames))
    else:
        for piece in chunked(b"".join(frames), data.draw(CHUNKS)):
            harness.feed(piece)


# ===================================================================== (c) HPACK alone


@FUZZ_DEEP
@given(
    ours=st.booleans(),
    lists=st.lists(
        VALID_HEADERS[False]
        | VALID_HEADERS[True]
        | st.tuples(st.booleans(), st.booleans()).flatmap(lambda args: header_list(*args)),
        min_size=1,
        max_size=6,
    ),
    data=st.data(),
    shrink_table=st.none() | st.sampled_from([0, 64, 1000]),
    list_limit=st.sampled_from([200, 65_536]),
)
def test_hpack_decoder_on_mutated_blocks(
    ours: bool,
    lists: list[Headers],
    data: st.DataObject,
    shrink_table: int | None,
    list_limit: int,
) -> None:
    encoder = PeerEncoder(ours)
    decoder = Decoder(max_header_list_size=list_limit)
    oracle = hpack.Decoder()
    oracle.max_header_list_size = list_limit
    in_step = True  # both decoders accepted every block so far
    valid_so_far = True  # no mutation so far: decoding must give back the input
    if shrink_table is not None:
        # The next block must open with a size update (RFC 7541 §4.2).
        decoder.max_table_size = shrink_table
        oracle.header_table_size = shrink_table
        encoder.encoder.header_table_size = shrink_table
    for headers in lists:
        block = encoder.encode(headers)
        if data.draw(st.integers(0, 2)) == 0:
            block = data.draw(mutated(block))
            valid_so_far = False
        try:
            decoded = decoder.decode(block)
        except HeaderListTooLargeError:
            # The block was still decoded: the table is in step, decoding goes on.
            decoded = None
        except HPACKDecodingError:
            assert not valid_so_far, "a valid block was rejected"
            return
        finally:
            assert decoder._table_size <= decoder.header_table_size
        # Once a block was accepted, any size update we required has been applied.
        assert decoder.header_table_size <= decoder.max_table_size
        if valid_so_far and decoded is not None:
            assert decoded == headers
        if in_step and decoded is not None:
            try:
                expected = [(bytes(n), bytes(v)) for n, v in oracle.decode(block, raw=True)]
            except hpack.HPACKError:
                in_step = False
            else:
                assert decoded == expected
        elif in_step:
            in_step = False


@FUZZ
@given(st.binary(max_size=300))
def test_hpack_decoder_on_random_bytes(block: bytes) -> None:
    decoder = Decoder()
    with contextlib.suppress(HPACKDecodingError, HeaderListTooLargeError):
        decoder.decode(block)


# ===================================================================== frame reader alone


@FUZZ
@given(data=WIRE, sizes=CHUNKS, limit=st.sampled_from([16_384, 40]))
def test_frame_reader_chunking_is_invisible(data: bytes, sizes: list[int], limit: int) -> None:
    """Frames read in pieces, one at a time or in batches, equal frames read at once; each
    either decodes or raises a protocol error (connection or stream)."""
    one = fr.FrameReader(limit)
    one.feed(data)
    expected: list[tuple[int, int, int, bytes]] = []
    whole_error = None
    try:
        while (frame := one.read_frame()) is not None:
            expected.append(frame)
    except H2ConnectionError as exc:
        whole_error = exc
    whole = fr.FrameReader(limit)
    whole.feed(data)
    if whole_error is None:
        assert whole.read_frames() == expected
        assert whole.buffered == one.buffered
    pieces = fr.FrameReader(limit)
    got: list[tuple[int, int, int, bytes]] = []
    error = None
    for i, piece in enumerate(chunked(data, sizes)):
        pieces.feed(piece)
        try:
            if i % 2:
                got += pieces.read_frames()
            else:
                while (frame := pieces.read_frame()) is not None:
                    got.append(frame)
        except H2ConnectionError as exc:
            error = exc
            break
    # read_frames drops the frames of its batch that precede an oversized one: the error
    # ends the connection anyway.
    assert got == (expected if error is None else expected[: len(got)])
    assert (error is None) == (whole_error is None)
    for frame in got:
        with contextlib.suppress(H2Error):
            fr.decode_frame(*frame)


# ===================================================================== regressions
# Found by test_structured_frames (the memory bounds of Harness.check_bounds): until the
# peer ACKed our SETTINGS, the connection enforced the RFC's initial values, "unlimited",
# for the limits on the peer's requests. A peer that never ACKed (or ACKed late) could open
# any number of streams and make us decode header lists of any size. Fixed in
# connection.py: both limits apply as advertised from the start (as in nghttp2 and Go);
# exceeding them costs the peer a stream, never the connection.

PEER_SETTINGS = bytes.fromhex("000000040000000000")  # SETTINGS, empty, no ACK of ours
# REQUEST on streams 1, 3, 5, 7: the first block literal, then all indexed (8386c1c0bfbe).
HEADERS_1 = bytes.fromhex(
    "0000320104000000018386448e62beb32fb8b677310ac682a673c94186a0e41d139d095f8b1d75d062"
    "0d263d4c4d656440027465864d833505b11f"
)
HEADERS_3 = bytes.fromhex("0000060104000000038386c1c0bfbe")
HEADERS_5 = bytes.fromhex("0000060104000000058386c1c0bfbe")
HEADERS_7 = bytes.fromhex("0000060104000000078386c1c0bfbe")


def regression_server(config: H2Config) -> H2Connection:
    conn = H2Connection(client_side=False, config=config)
    conn.initiate(0.0)
    conn.data_to_send()
    return conn


def sent_frames(conn: H2Connection) -> list[fr.Frame]:
    reader = fr.FrameReader()
    reader.feed(conn.data_to_send())
    return [fr.decode_frame(*raw) for raw in reader.read_frames()]


def test_regression_concurrency_limit_before_settings_ack() -> None:
    conn = regression_server(H2Config(max_concurrent_streams=3))
    wire = fr.CONNECTION_PREFACE + PEER_SETTINGS + HEADERS_1 + HEADERS_3 + HEADERS_5 + HEADERS_7
    events = conn.receive_data(wire, 0.0)
    assert [type(e).__name__ for e in events] == ["SettingsReceived"] + ["HeadersReceived"] * 3
    assert conn.remote_open_streams == 3
    resets = [(f.stream_id, f.error_code) for f in sent_frames(conn) if f.type == fr.RST_STREAM]
    assert resets == [(7, ErrorCode.REFUSED_STREAM)]


def test_regression_header_list_limit_before_settings_ack() -> None:
    conn = regression_server(H2Config(max_header_list_size=600))
    # REQUEST (indexed, as on stream 3 above) plus a literal x-big of 1,000 bytes, not
    # indexed: 00 05 "x-big" 7f e9 06 (length 1000) "b" * 1000.
    block = bytes.fromhex("8386c1c0bfbe") + bytes.fromhex("0005782d6269677fe906") + b"b" * 1000
    big = bytes.fromhex("0003f8010400000003") + block
    events = conn.receive_data(fr.CONNECTION_PREFACE + PEER_SETTINGS + HEADERS_1 + big, 0.0)
    assert [type(e).__name__ for e in events] == ["SettingsReceived", "HeadersReceived"]
    resets = [(f.stream_id, f.error_code) for f in sent_frames(conn) if f.type == fr.RST_STREAM]
    assert resets == [(3, ErrorCode.PROTOCOL_ERROR)]
    assert not conn.terminated


# Found by test_raw_bytes_after_handshake: a PRIORITY frame of the wrong size on stream 2,
# an id of the server's own parity that it never opened, is a stream error that leaves a
# record of a reset stream 2; sending on "the next stream" of that server then took the
# record for a stream the peer had reset, and was silently a no-op instead of refused.
# Fixed in connection.py (_was_reset): our ids we never opened are never "reset".


def test_regression_our_unopened_id_reset_by_the_peer_is_not_a_race() -> None:
    conn = regression_server(H2Config())
    wire = fr.CONNECTION_PREFACE + PEER_SETTINGS + fr.build_frame(fr.PRIORITY, 0, 2, b"")
    conn.receive_data(wire, 0.0)
    resets = [(f.stream_id, f.error_code) for f in sent_frames(conn) if f.type == fr.RST_STREAM]
    assert resets == [(2, ErrorCode.FRAME_SIZE_ERROR)]
    with pytest.raises(LocalProtocolError, match="cannot open"):
        conn.send_headers(2, REQUEST)
    conn.receive_data(fr.build_data(0, b""), 0.0)  # a connection error
    assert conn.terminated
    with pytest.raises(ConnectionClosedError):
        conn.send_headers(2, REQUEST)
