"""The sans-IO HTTP/2 connection (RFC 9113), for either role.

Bytes in, events out::

    conn = H2Connection(client_side=True, config=H2Config())
    conn.initiate(now)                      # queues preface, SETTINGS, WINDOW_UPDATE
    transport.write(conn.data_to_send())
    for event in conn.receive_data(received, now): ...
    stream_id = conn.open_stream(headers)   # or send_headers(conn.get_next_stream_id(), ...)
    conn.send_data(stream_id, body, end_stream=True)
    transport.write(conn.data_to_send())    # one write per batch

Everything produced by one ``receive_data`` call or by a batch of send calls comes out of
one ``data_to_send()`` as one buffer.

Driver contract
---------------
* **Output.** Call ``data_to_send()`` and write the result only while the transport is
  writable; while it is paused, stop draining. Bytes the core produces *in reply to peer
  input* (SETTINGS/PING ACKs, RST_STREAMs, WINDOW_UPDATEs for discarded DATA) pile up in
  the core meanwhile; if they exceed ``H2Config.max_outbound_buffer`` the peer is not
  reading what it provokes and the connection ends with ENHANCE_YOUR_CALM.
* **Outbound flow control.** ``send_data`` always accepts the data: what the peer's
  windows allow is framed at once, the rest is queued per stream and released, fairly
  across streams, once per ``receive_data`` that granted window (many WINDOW_UPDATEs in
  one read cost one flush, CVE-2019-9511). A writer applies backpressure by waiting while
  ``outbound_queued(stream_id)`` is above its threshold; :class:`SendQueueDrained` tells
  the driver a stream's queue has emptied. A peer that never opens its windows makes the
  queues grow with whatever the application sends: ``outbound_queued_total`` is what the
  driver bounds (the server stops starting new calls on the connection past its limit).
* **Inbound flow control.** Each :class:`DataReceived` carries ``flow_controlled_length``;
  call ``acknowledge_received_data(stream_id, n)`` when the application has consumed it,
  even if the stream was reset meanwhile. Consecutive small DATA frames of one stream that
  arrive in one ``receive_data`` come as one event (their data joined, their lengths
  summed): frame boundaries carry no meaning (RFC 9113 §8.1). WINDOW_UPDATEs go out once
  half a window is unacknowledged, so a slow reader holds back a fast sender.
* **Errors.** Protocol violations by the peer never raise: a stream error resets the
  stream (RST_STREAM queued, :class:`StreamReset` with ``remote=False``); a connection
  error queues GOAWAY and returns :class:`ConnectionTerminated`, after which the
  connection takes no more input: flush and close. An application action that races the
  peer is a no-op that sends nothing: sending on, finishing or resetting a stream that was
  reset (by the peer, by us, or refused by a GOAWAY), or any of these on a live stream once
  the connection has ended. (The driver learns of the reset or the end only with the
  events of a read, possibly after acting on earlier events of the same read.) Misuse by
  the local application raises :class:`LocalProtocolError` (and subclasses) and sends
  nothing: an idle stream, sending after our own END_STREAM, or opening a stream, pinging
  or sending SETTINGS or GOAWAY once the connection has ended (ConnectionClosedError).
* **Time.** ``now`` is any monotonic clock in seconds. Optionally call ``handle_timer(now)``
  at ``get_timer()`` to enforce SETTINGS_TIMEOUT.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from struct import Struct
from typing import Any

from grpcx.http2.errors import (
    ErrorCode,
    H2ConnectionError,
    H2StreamError,
    HeaderListTooLargeError,
)
from grpcx.http2.events import (
    ConnectionTerminated,
    DataReceived,
    Event,
    GoAwayReceived,
    HeadersReceived,
    InformationalHeadersReceived,
    KeyedCache,
    PingAcked,
    PingReceived,
    SendQueueDrained,
    SettingsAcked,
    SettingsReceived,
    StreamReset,
    TrailersReceived,
)
from grpcx.http2.frames import (
    CONNECTION_PREFACE,
    DATA,
    DEFAULT_INITIAL_WINDOW_SIZE,
    FLAG_ACK,
    FLAG_END_HEADERS,
    FLAG_END_STREAM,
    FLAG_PADDED,
    FLAG_PRIORITY,
    HEADERS,
    MAX_WINDOW_SIZE,
    SETTINGS,
    SETTINGS_ENABLE_PUSH,
    SETTINGS_HEADER_TABLE_SIZE,
    SETTINGS_INITIAL_WINDOW_SIZE,
    SETTINGS_MAX_FRAME_SIZE,
    FrameReader,
    build_continuation,
    build_goaway,
    build_headers,
    build_ping,
    build_rst_stream,
    build_settings,
    build_window_update,
    parse_continuation,
    parse_data,
    parse_goaway,
    parse_headers,
    parse_ping,
    parse_priority,
    parse_rst_stream,
    parse_settings,
    parse_window_update,
)
from grpcx.http2.hpack import Decoder, Encoder
from grpcx.http2.settings import H2Config, LocalSettings, Settings
from grpcx.http2.stream_states import (
    LocalProtocolError,
    StreamInput,
    StreamState,
    StreamStateError,
    compose,
    next_state,
    reject,
)

__all__ = [
    "ConnectionClosedError",
    "H2Connection",
    "LocalProtocolError",
    "StreamIdsExhaustedError",
    "StreamStateError",
    "TooManyStreamsError",
]

Headers = list[tuple[bytes, bytes]]

_MAX_STREAM_ID = 2**31 - 1
_FRAME_HEADER = Struct(">HBBBL")  # 24-bit length as 16 + 8 bits, type, flags, stream id
_DATA_END = FLAG_END_STREAM
_HEADERS_END_STREAM = FLAG_END_HEADERS | FLAG_END_STREAM

# Plain ints for the hot path.
_IDLE = StreamState.IDLE
_OPEN = StreamState.OPEN
_CLOSED = StreamState.CLOSED
_RESET_SENT = StreamState.RESET_SENT
_RESET_RECEIVED = StreamState.RESET_RECEIVED
_SEND_HEADERS = StreamInput.SEND_HEADERS
_SEND_DATA = StreamInput.SEND_DATA
_SEND_END_STREAM = StreamInput.SEND_END_STREAM
_SEND_RST_STREAM = StreamInput.SEND_RST_STREAM
_RECV_HEADERS = StreamInput.RECV_HEADERS
_RECV_DATA = StreamInput.RECV_DATA
_RECV_END_STREAM = StreamInput.RECV_END_STREAM
_RECV_RST_STREAM = StreamInput.RECV_RST_STREAM
_RECV_WINDOW_UPDATE = StreamInput.RECV_WINDOW_UPDATE
_RECV_PRIORITY = StreamInput.RECV_PRIORITY
# Whole sequences of steps looked up at once (stream_states.compose); a miss falls back to
# next_state step by step, which raises the right error.
_DATA_STEPS = (_RECV_DATA,)
_DATA_END_STEPS = (_RECV_DATA, _RECV_END_STREAM)
_AFTER_DATA = compose(*_DATA_STEPS)
_AFTER_DATA_END = compose(*_DATA_END_STEPS)
_RESPONSE_STEPS = {  # send_response, by (headers included, data included)
    (True, True): (_SEND_HEADERS, _SEND_DATA, _SEND_HEADERS, _SEND_END_STREAM),
    (True, False): (_SEND_HEADERS, _SEND_HEADERS, _SEND_END_STREAM),
    (False, True): (_SEND_DATA, _SEND_HEADERS, _SEND_END_STREAM),
    (False, False): (_SEND_HEADERS, _SEND_END_STREAM),
}
_AFTER_RESPONSE = {steps: compose(*steps) for steps in _RESPONSE_STEPS.values()}
_OPENED = next_state(_IDLE, _RECV_HEADERS, 0)
_OPENED_END = next_state(_OPENED, _RECV_END_STREAM, 0)
_HEADERS_STEPS = (_RECV_HEADERS,)
_HEADERS_END_STEPS = (_RECV_HEADERS, _RECV_END_STREAM)
_AFTER_HEADERS = {steps: compose(*steps) for steps in (_HEADERS_STEPS, _HEADERS_END_STEPS)}
_OPENED_LOCAL = next_state(_IDLE, _SEND_HEADERS, 0)
_REQUEST_OPEN = compose(_SEND_HEADERS, _SEND_DATA)[_IDLE]  # send_request, by end_stream
_REQUEST_SENT = compose(_SEND_HEADERS, _SEND_DATA, _SEND_END_STREAM)[_IDLE]
# States in which sending DATA (without END_STREAM) leaves the state as it is.
_DATA_SENDABLE = frozenset(s for s, after in compose(_SEND_DATA).items() if after is s)

# Framing of a unary request or response in few C calls: a struct per header block length
# packing the HEADERS frame, its block and the next DATA frame's header, and one packing a
# HEADERS frame and its block (trailers). Few lengths recur; bounded anyway.
_Packer = Callable[..., bytes]
_HEADERS_DATA_PACKERS: dict[int, _Packer] = {}
_HEADERS_PACKERS: dict[int, _Packer] = {}


def _headers_data_packer(size: int) -> _Packer:
    return _new_packer(_HEADERS_DATA_PACKERS, size, f">HBBBL{size}sHBBBL")


def _headers_packer(size: int) -> _Packer:
    return _new_packer(_HEADERS_PACKERS, size, f">HBBBL{size}s")


def _new_packer(cache: dict[int, _Packer], size: int, layout: str) -> _Packer:
    if len(cache) >= 256:
        cache.clear()
    packer = cache[size] = Struct(layout).pack
    return packer


class ConnectionClosedError(LocalProtocolError):
    """The connection ended (we sent or received GOAWAY, or hit a protocol error)."""


class TooManyStreamsError(LocalProtocolError):
    """Opening a stream would exceed the peer's SETTINGS_MAX_CONCURRENT_STREAMS."""


class StreamIdsExhaustedError(LocalProtocolError):
    """No stream ids are left on this connection (RFC 9113 §5.1.1): open a new one."""


# ------------------------------------------------------------------ header validation
# RFC 9113 §8.2 and §8.3, checked cheaply: one C-level translate per name, three memchr
# per value.

_TOKEN_CHARS = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
_CONNECTION_SPECIFIC = frozenset(
    (b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade")
)
_REQUEST_PSEUDO = frozenset((b":method", b":scheme", b":authority", b":path", b":protocol"))


def _malformed(stream_id: int, why: str) -> H2StreamError:
    return H2StreamError(stream_id, ErrorCode.PROTOCOL_ERROR, f"malformed headers: {why}")


def _check_field(name: bytes, value: bytes, stream_id: int) -> None:
    if not name or name.translate(None, _TOKEN_CHARS):
        raise _malformed(stream_id, f"invalid field name {name!r}")
    if name in _CONNECTION_SPECIFIC:
        raise _malformed(stream_id, f"connection-specific field {name!r}")
    if name == b"te" and value != b"trailers":
        raise _malformed(stream_id, "te other than trailers")
    if value and (
        b"\r" in value
        or b"\n" in value
        or b"\x00" in value
        or value[0] in (0x20, 0x09)
        or value[-1] in (0x20, 0x09)
    ):
        raise _malformed(stream_id, f"invalid value for {name!r}")


# Regular fields that passed _check_field. A peer repeats the same fields call after call
# (HPACK even returns the same tuple objects), so a set lookup replaces the checks. Bounded:
# per-call values would otherwise grow it, so it is emptied when full.
_VALID_FIELDS: set[tuple[bytes, bytes]] = set()
_VALID_FIELDS_MAX = 4096
# Whole request, response and trailer lists found valid, per connection (see
# _on_header_block).
_VALID_REQUESTS_MAX = 64
# HEADERS flags that decide whether a frame is a whole block without padding or priority.
_HEADERS_PLAIN_MASK = FLAG_END_HEADERS | FLAG_PADDED | FLAG_PRIORITY
# DATA frames up to this size are coalesced into runs (see receive_data); larger ones gain
# nothing from it (their payload copy dwarfs the per-frame work) and joining would copy
# them once more.
_RUN_FRAME_MAX = 2048
# DATA flags that take a frame out of a coalesced run (see receive_data).
_PLAIN_DATA_EXCLUDED = FLAG_END_STREAM | FLAG_PADDED


def _check_fields(headers: Sequence[tuple[bytes, bytes]], stream_id: int) -> None:
    """_check_field for each regular (non-pseudo) field, skipping known-good ones."""
    valid = _VALID_FIELDS
    for field in headers:
        if field not in valid:
            _check_field(field[0], field[1], stream_id)
            if len(valid) >= _VALID_FIELDS_MAX:
                valid.clear()
            valid.add(field)


def _validate_request(headers: Headers, stream_id: int) -> int:
    """Validate a request header list; returns its content-length, -1 if it has none."""
    end = len(headers)
    for index, field in enumerate(headers):
        if field[0][:1] != b":":
            end = index
            break
    # The pseudo-headers are the part a client repeats exactly even when a per-call
    # value (grpc-timeout) makes the whole list new: they are checked once.
    pseudo_fields = tuple(headers[:end])
    if pseudo_fields not in _VALID_PSEUDO:
        _check_request_pseudo(pseudo_fields, stream_id)
        if len(_VALID_PSEUDO) >= _VALID_FIELDS_MAX:
            _VALID_PSEUDO.clear()
        _VALID_PSEUDO.add(pseudo_fields)
    length = -1
    if end < len(headers):
        regular = headers[end:]
        for name, value in regular:
            if name[:1] == b":":
                raise _malformed(stream_id, "pseudo-header after regular field")
            if name == b"content-length":
                length = _content_length(value, length, stream_id)
        _check_fields(regular, stream_id)
    return length


# Request pseudo-header sequences that passed _check_request_pseudo (bounded like
# _VALID_FIELDS).
_VALID_PSEUDO: set[tuple[tuple[bytes, bytes], ...]] = set()


def _check_request_pseudo(fields: tuple[tuple[bytes, bytes], ...], stream_id: int) -> None:
    pseudo: dict[bytes, bytes] = {}
    for name, value in fields:
        if name not in _REQUEST_PSEUDO or name in pseudo:
            raise _malformed(stream_id, f"unknown or repeated pseudo-header {name!r}")
        pseudo[name] = value
    method = pseudo.get(b":method")
    if method is None:
        raise _malformed(stream_id, "missing :method")
    if method == b"CONNECT" and b":protocol" not in pseudo:
        # RFC 9113 §8.5: plain CONNECT carries only :method and :authority.
        if b":scheme" in pseudo or b":path" in pseudo or b":authority" not in pseudo:
            raise _malformed(stream_id, "bad CONNECT request")
        return
    if b":protocol" in pseudo and method != b"CONNECT":
        raise _malformed(stream_id, ":protocol outside extended CONNECT")
    if not pseudo.get(b":scheme") or not pseudo.get(b":path"):
        raise _malformed(stream_id, "missing :scheme or :path")


def _validate_response(headers: Headers, stream_id: int) -> tuple[int, int]:
    """Validate a response header block; returns its status code and content-length (-1
    if it has none, or if the status says the response has no content whatever the
    field says: 304, RFC 9110 §15.4.5; 204 and 1xx carry none)."""
    status = -1
    length = -1
    regular = False
    for name, value in headers:
        if name[:1] == b":":
            if regular or name != b":status" or status >= 0:
                raise _malformed(stream_id, f"bad pseudo-header {name!r} in response")
            if len(value) != 3 or not value.isdigit():
                raise _malformed(stream_id, "bad :status")
            status = int(value)
        else:
            regular = True
            _check_fields(((name, value),), stream_id)
            if name == b"content-length":
                length = _content_length(value, length, stream_id)
    if status < 0:
        raise _malformed(stream_id, "missing :status")
    if status < 200 or status == 204 or status == 304:
        length = -1
    return status, length


def _content_length(value: bytes, previous: int, stream_id: int) -> int:
    """A ``content-length`` value (RFC 9110 §8.6) combined with the ones before it
    (``previous``, -1 for none): every value must be the same non-negative integer; a
    list of identical values counts as one value."""
    for part in value.split(b","):
        part = part.strip(b" \t")
        # (bytes.isdigit is ASCII digits only: no sign, no spaces, no other digits.)
        if not part.isdigit() or (previous >= 0 and int(part) != previous):
            raise _malformed(stream_id, f"invalid content-length {value!r}")
        previous = int(part)
    return previous


def _validate_trailers(headers: Headers, stream_id: int) -> None:
    for name, _ in headers:
        if name[:1] == b":":
            raise _malformed(stream_id, "pseudo-header in trailers")
    _check_fields(headers, stream_id)


# ------------------------------------------------------------------ helpers


class _TokenBucket:
    """A rate limit: ``rate`` tokens per second, at most ``burst`` saved up."""

    __slots__ = ("_burst", "_last", "_rate", "_tokens")

    def __init__(self, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._last: float | None = None

    def allow(self, now: float) -> bool:
        last = self._last
        if last is None:
            self._last = now
        elif now > last:
            self._tokens = min(self._burst, self._tokens + (now - last) * self._rate)
            self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class _Stream:
    """Per-stream state. Only live streams have one; closed streams are forgotten except
    for their final state in a bounded history."""

    __slots__ = (
        "content_left",
        "inbound",
        "local",
        "out_bytes",
        "out_chunks",
        "out_end",
        "out_trailers",
        "recv_unacked",
        "recv_window",
        "send_window",
        "state",
        "stream_id",
    )

    def __init__(self, stream_id: int, local: bool, send_window: int, recv_window: int) -> None:
        self.stream_id = stream_id
        self.local = local
        self.state: StreamState = _IDLE
        self.send_window = send_window
        self.recv_window = recv_window
        self.recv_unacked = 0
        # Outbound data waiting for flow-control window, then what ends the stream.
        self.out_chunks: deque[memoryview] | None = None
        self.out_bytes = 0
        self.out_end = False
        self.out_trailers: Headers | None = None
        # Inbound header blocks seen: 0 none (or only 1xx), 1 initial, 2 trailers.
        self.inbound = 0
        # The inbound content-length not yet received, or -1 if the peer declared none
        # (gRPC peers never do: the check costs them one comparison per DATA frame).
        self.content_left = -1


# What an HTTP/1 server's answer begins with, and how much of its status line is read.
_HTTP1_PREFIX = b"HTTP/1."
_HTTP1_STATUS_LINE_MAX = 256

# ------------------------------------------------------------------ the connection


class H2Connection:
    """One HTTP/2 connection, client or server side, without I/O. See the module docs."""

    def __init__(self, client_side: bool, config: H2Config | None = None) -> None:
        cfg = config if config is not None else H2Config()
        self.client_side = client_side
        self.config = cfg
        #: The peer's settings in force (RFC initial values until its SETTINGS arrive).
        self.remote_settings = Settings()
        #: Our advertised settings: ``acked`` in force, ``pending`` awaiting ACK.
        self.local_settings = LocalSettings()

        self._encoder = Encoder()
        # send_response's framing of the headers and trailers it last sent: (headers,
        # trailers, the encoder's generation, then the packers, blocks and sizes below).
        self._response_frames: tuple[Any, ...] = (None, None, -1)
        if cfg.max_encoder_table_size < 4096:
            self._encoder.header_table_size = cfg.max_encoder_table_size
        self._decoder = Decoder()
        self._decoder.max_header_list_size = cfg.max_header_list_size
        self._reader = FrameReader()

        self._out: list[bytes | memoryview] = []
        #: Bytes waiting in ``data_to_send()``. Read-only (a plain attribute: drivers read
        #: it per call).
        self.outbound_buffered = 0
        self._reactive = 0  # undrained bytes produced in reply to peer input
        self._events: list[Event] = []
        self._now = 0.0

        self._initiated = False
        self._terminated = False
        self._preface_pending = not client_side
        # Client: the server's first bytes are looked at before they are framed, to tell
        # an HTTP/1 or TLS server from a broken HTTP/2 one (_sniff_server_preface).
        self._sniff_pending = client_side
        self._preface_buf = b""
        self._peer_settings_seen = False

        self._streams: dict[int, _Stream] = {}
        # Closed streams' final states, for late frames: the newest in _closed; when it holds
        # half the history it becomes _closed_old (the older one is dropped), so between
        # half and all of closed_stream_history are remembered, at O(1) per stream.
        self._closed: dict[int, StreamState] = {}
        self._closed_old: dict[int, StreamState] = {}
        self._closed_half = (cfg.closed_stream_history + 1) // 2  # (at least 1)
        self._blocked: dict[int, None] = {}  # streams with queued data, in arrival order
        #: Bytes ``send_data`` accepted that wait for flow-control window, on all streams:
        #: what the peer has not yet let us send (a driver bounds it; see the module docs).
        #: Read-only (a plain attribute: drivers read it per call).
        self.outbound_queued_total = 0
        self._local_parity = 1 if client_side else 0
        self._next_stream_id = 1 if client_side else 2
        self._highest_peer_id = 0
        self._local_active = 0
        self._peer_active = 0

        # Flow control. Send windows are the peer's limits on us; receive windows are
        # what the peer may still send us; ``*_unacked`` is consumed but not yet announced.
        self._send_window = DEFAULT_INITIAL_WINDOW_SIZE
        self._recv_window = DEFAULT_INITIAL_WINDOW_SIZE
        self._recv_unacked = 0
        self._recv_initial = DEFAULT_INITIAL_WINDOW_SIZE  # for new streams, permissive

        # Header block being reassembled from HEADERS + CONTINUATION.
        self._hb_stream = 0
        self._hb_flags = 0
        self._hb_parts: list[bytes] = []
        self._hb_size = 0
        self._hb_frames = 0
        self._hb_error: H2StreamError | None = None

        self._pings: dict[bytes, float] = {}
        self._sent_since_ping = False  # HEADERS or DATA sent since the peer's last PING
        # Header lists found valid (a response's: with its status), by their block's key
        # (Decoder.last_key, the same object each time a peer repeats a block).
        # A request's: its content-length (-1: none); a response's: its status and that.
        self._valid_requests: KeyedCache[int] = KeyedCache(_VALID_REQUESTS_MAX)
        self._valid_responses: KeyedCache[tuple[int, int]] = KeyedCache(_VALID_REQUESTS_MAX)
        self._valid_trailers: KeyedCache[bool] = KeyedCache(_VALID_REQUESTS_MAX)
        self._goaway_sent_last: int | None = None
        self._goaway_received_last: int | None = None

        self._reset_bucket = _TokenBucket(cfg.max_peer_resets_per_second, cfg.peer_reset_burst)
        self._empty_bucket = _TokenBucket(cfg.max_empty_frames_per_second, cfg.empty_frame_burst)
        self._ping_bucket = _TokenBucket(cfg.max_pings_per_second, cfg.ping_burst)
        self._settings_bucket = _TokenBucket(cfg.max_settings_per_second, cfg.settings_burst)
        # Window granted while data waits for it: the waiting streams are flushed once, at
        # the end of receive_data, not per WINDOW_UPDATE (see _on_window_update).
        self._granted = False
        self._small_grant = cfg.small_window_increment
        self._small_grant_bucket = _TokenBucket(
            cfg.max_small_window_updates_per_second, cfg.small_window_update_burst
        )

    # ------------------------------------------------------------ queries

    @property
    def terminated(self) -> bool:
        """True once the connection ended itself (ConnectionTerminated was returned)."""
        return self._terminated

    @property
    def local_open_streams(self) -> int:
        """Live streams we opened (they count against the peer's concurrency limit)."""
        return self._local_active

    @property
    def remote_open_streams(self) -> int:
        """Live streams the peer opened (they count against our limit)."""
        return self._peer_active

    @property
    def open_streams(self) -> int:
        """All live streams."""
        return self._local_active + self._peer_active

    @property
    def peer_max_concurrent_streams(self) -> int:
        """The peer's SETTINGS_MAX_CONCURRENT_STREAMS (2^32-1 until it says otherwise)."""
        return self.remote_settings.max_concurrent_streams

    @property
    def can_open_stream(self) -> bool:
        """Whether ``open_stream`` would succeed now."""
        return (
            self.client_side
            and not self._terminated
            and self._goaway_received_last is None
            and self._goaway_sent_last is None
            and self._next_stream_id <= _MAX_STREAM_ID
            and self._local_active < self.remote_settings.max_concurrent_streams
        )

    def outbound_queued(self, stream_id: int) -> int:
        """Bytes ``send_data`` accepted for ``stream_id`` that wait for flow-control window."""
        stream = self._streams.get(stream_id)
        return 0 if stream is None else stream.out_bytes

    def local_window(self, stream_id: int = 0) -> int:
        """How many more bytes the peer may send us on ``stream_id`` (0: the connection)."""
        if stream_id == 0:
            return self._recv_window
        stream = self._streams.get(stream_id)
        return 0 if stream is None else stream.recv_window

    def unacknowledged(self, stream_id: int = 0) -> int:
        """Bytes acknowledged by the application not yet announced in a WINDOW_UPDATE."""
        if stream_id == 0:
            return self._recv_unacked
        stream = self._streams.get(stream_id)
        return 0 if stream is None else stream.recv_unacked

    def remote_window(self, stream_id: int = 0) -> int:
        """How many bytes we may still send on ``stream_id`` (0: the connection). A stream's
        window can be negative after the peer lowers SETTINGS_INITIAL_WINDOW_SIZE."""
        if stream_id == 0:
            return self._send_window
        stream = self._streams.get(stream_id)
        return 0 if stream is None else stream.send_window

    def stream_state(self, stream_id: int) -> StreamState:
        """The state of ``stream_id`` as this connection sees it."""
        stream = self._streams.get(stream_id)
        if stream is not None:
            return stream.state
        return self._unknown_stream_state(stream_id)

    def get_next_stream_id(self) -> int:
        """The id the next stream we open will get."""
        return self._next_stream_id

    def get_timer(self) -> float | None:
        """When ``handle_timer`` should next be called, or None."""
        if self._terminated:
            return None
        return self.local_settings.deadline(self.config.settings_timeout)

    # ------------------------------------------------------------ output

    def data_to_send(self) -> bytes:
        """Everything queued for the peer, as one buffer; the queue is emptied."""
        out = self._out
        if not out:
            return b""
        data = b"".join(out)
        out.clear()
        self.outbound_buffered = 0
        self._reactive = 0
        return data

    def _write(self, data: bytes | memoryview) -> None:
        self._out.append(data)
        self.outbound_buffered += len(data)

    def _write_reactive(self, data: bytes) -> None:
        """Queue bytes provoked by peer input, bounded by ``max_outbound_buffer``."""
        self._out.append(data)
        n = len(data)
        self.outbound_buffered += n
        self._reactive += n
        if self._reactive > self.config.max_outbound_buffer:
            raise H2ConnectionError(
                ErrorCode.ENHANCE_YOUR_CALM, "peer is not reading what it provokes"
            )

    # ------------------------------------------------------------ starting

    def initiate(self, now: float) -> None:
        """Queue our connection preface: (client) the magic, our SETTINGS, and a
        WINDOW_UPDATE that raises the connection window to ``connection_window_size``."""
        if self._initiated:
            return
        self._initiated = True
        self._now = now
        if self.client_side:
            self._write(CONNECTION_PREFACE)
        pairs = self.config.advertised(self.client_side)
        self._write(build_settings(pairs))
        self.local_settings.sent(pairs, now)
        self._apply_local_permissive()
        increase = self.config.connection_window_size - DEFAULT_INITIAL_WINDOW_SIZE
        if increase > 0:
            self._write(build_window_update(0, increase))
            self._recv_window += increase

    def update_settings(
        self, changes: Mapping[int, int] | Iterable[tuple[int, int]], now: float
    ) -> None:
        """Send new SETTINGS; they take effect for enforcement once the peer ACKs them
        (more permissive values are honoured at once, since the peer may use them)."""
        self._check_usable()
        pairs = list(changes.items()) if isinstance(changes, Mapping) else list(changes)
        if not self.client_side and any(
            ident == SETTINGS_ENABLE_PUSH and value for ident, value in pairs
        ):
            raise LocalProtocolError("a server cannot enable push")
        self.local_settings.sent(pairs, now)  # validates
        self._write(build_settings(pairs))
        self._apply_local_permissive()

    def _apply_local_permissive(self) -> None:
        local = self.local_settings
        self._reader.max_frame_size = local.permissive(SETTINGS_MAX_FRAME_SIZE)
        self._decoder.max_table_size = local.permissive(SETTINGS_HEADER_TABLE_SIZE)
        # Limits on the peer's requests are enforced as advertised at once, not only once
        # ACKed: until then the RFC value is "unlimited", and a peer that delays its ACK
        # could open any number of streams or make us decode any header list. Going over
        # either costs the peer one stream (REFUSED_STREAM or a reset), never the
        # connection, which is what nghttp2 and Go's http2 do as well.
        self._decoder.max_header_list_size = local.latest.max_header_list_size
        initial = local.permissive(SETTINGS_INITIAL_WINDOW_SIZE)
        delta = initial - self._recv_initial
        if delta:
            # RFC 9113 §6.9.2: the peer adjusts every stream's window by the difference.
            self._recv_initial = initial
            for stream in self._streams.values():
                stream.recv_window += delta

    # ------------------------------------------------------------ receiving

    def receive_data(self, data: bytes, now: float) -> list[Event]:
        """Process bytes received from the peer; returns the resulting events."""
        if self._terminated:
            return []
        if not self._initiated:
            self.initiate(now)
        self._now = now
        events: list[Event] = []
        self._events = events
        # Consecutive DATA frames on one stream are delivered as one DataReceived (frame
        # boundaries carry no meaning, RFC 9113 §8.1): a peer writing one small frame
        # per message (grpc-go does) would otherwise cost an event, a state-table step
        # and a driver callback per frame. The run's first frame goes through _on_data;
        # later ones only need what could make them differ from it (flags, windows).
        run_sid = 0
        run_stream: _Stream | None = None
        run_index = 0
        run_parts: list[bytes] = []
        run_flow = 0  # the flow-controlled length of the run's first frame
        run_extra = 0  # and of the frames after it, taken from both windows when it ends
        run_room = 0  # what both windows allowed after the first frame
        try:
            if self._preface_pending:
                rest = self._receive_preface(data)
                if rest is None:
                    return events
                data = rest
            elif self._sniff_pending:
                rest = self._sniff_server_preface(data)
                if rest is None:
                    return events
                data = rest
            reader = self._reader
            reader.feed(data)
            handlers = _FRAME_HANDLERS
            # All complete frames in one pass (FrameReader.read_frames). A frame too large
            # for our limit ends the connection before the batch is handled; any frames
            # before it are dropped with it, which the GOAWAY's last-stream-id reflects.
            for frame_type, flags, stream_id, payload in reader.read_frames():
                if run_sid:
                    if (
                        stream_id == run_sid
                        and frame_type == 0
                        and not flags & _PLAIN_DATA_EXCLUDED
                        and 0 < len(payload) <= _RUN_FRAME_MAX
                    ):
                        if not run_extra:
                            # A second frame: the run starts (set up only now, as most
                            # DATA frames are followed by something else).
                            run_stream = self._streams[stream_id]
                            run_index = len(events) - 1
                            first = events[run_index]
                            assert type(first) is DataReceived
                            run_parts = [first.data]
                            run_flow = first.flow_controlled_length
                            run_room = min(self._recv_window, run_stream.recv_window)
                            if run_stream.content_left >= 0:
                                # Each frame counts against a declared content-length
                                # in _on_data: no run (room for nothing).
                                run_room = -1
                        length = run_extra + len(payload)
                        if length <= run_room:
                            run_extra = length
                            run_parts.append(payload)
                            continue
                    if run_extra:
                        self._end_run(run_stream, run_index, run_parts, run_flow, run_extra)
                        run_extra = 0
                    run_sid = 0
                if self._terminated:
                    break
                if self._hb_stream:
                    # RFC 9113 §6.10: nothing may interleave with a header block.
                    if frame_type != 9 or stream_id != self._hb_stream:
                        raise H2ConnectionError(
                            ErrorCode.PROTOCOL_ERROR, "frame interleaved in a header block"
                        )
                elif not self._peer_settings_seen and frame_type != SETTINGS:
                    raise H2ConnectionError(
                        ErrorCode.PROTOCOL_ERROR, "the preface must start with SETTINGS"
                    )
                if frame_type > 9:
                    self._empty_frame()
                    continue  # unknown frame types are ignored (RFC 9113 §4.1)
                try:
                    handlers[frame_type](self, flags, stream_id, payload)
                except H2StreamError as exc:
                    self._stream_error(exc)
                    continue
                if frame_type == 0 and events:
                    last = events[-1]
                    if (
                        type(last) is DataReceived
                        and last.stream_id == stream_id
                        and not last.end_stream
                        and len(last.data) <= _RUN_FRAME_MAX
                    ):
                        run_sid = stream_id  # a run may start here (see above)
                        run_extra = 0
            if run_extra:
                self._end_run(run_stream, run_index, run_parts, run_flow, run_extra)
            if self._granted:
                self._granted = False
                if not self._terminated:
                    self._flush_blocked()
        except H2ConnectionError as exc:
            # (A run has always ended before anything that can raise.)
            self._terminate(exc.code, exc.message or str(exc))
        return events

    def _end_run(
        self, stream: _Stream | None, index: int, parts: list[bytes], flow: int, extra: int
    ) -> None:
        """Deliver a run of DATA frames (see receive_data) as its first frame's event."""
        assert stream is not None  # (set whenever a run has frames)
        self._recv_window -= extra
        stream.recv_window -= extra
        self._events[index] = DataReceived(stream.stream_id, b"".join(parts), flow + extra, False)

    def _receive_preface(self, data: bytes) -> bytes | None:
        buf = self._preface_buf + data
        size = len(CONNECTION_PREFACE)
        if not CONNECTION_PREFACE.startswith(buf[:size]):
            raise H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "invalid connection preface")
        if len(buf) < size:
            self._preface_buf = buf
            return None
        self._preface_pending = False
        self._preface_buf = b""
        return buf[size:]

    def _sniff_server_preface(self, data: bytes) -> bytes | None:
        """The server's first bytes (client side): returned when they may begin a SETTINGS
        frame, held (None) while too few to tell, or an H2ConnectionError that says what
        the server speaks instead.

        A server's preface begins with a SETTINGS frame no longer than 16384 bytes, so its
        first byte is 0. An HTTP/1 server answers our preface with a status line
        (``HTTP/1.1 400 Bad Request``), and a TLS server with a TLS record (an alert,
        type 0x15, or a handshake, 0x16, then version 0x03): read as a frame header,
        either is a frame of megabytes, whose error would say nothing useful.
        """
        buf = self._preface_buf + data
        if buf[:1] in (b"\x15", b"\x16"):
            if len(buf) < 2:
                self._preface_buf = buf
                return None
            if buf[1] == 3:
                raise H2ConnectionError(
                    ErrorCode.PROTOCOL_ERROR,
                    "the server answered with TLS: use a TLS channel (ssl=...)",
                )
        elif buf[:7] == _HTTP1_PREFIX[: len(buf[:7])]:
            end = buf.find(b"\n")
            if end < 0 and len(buf) < _HTTP1_STATUS_LINE_MAX:
                self._preface_buf = buf
                return None
            line = buf[: end if end >= 0 else _HTTP1_STATUS_LINE_MAX].rstrip(b"\r")
            if len(line) >= 7:
                parts = line.split(None, 2)
                version = parts[0].decode("ascii", "replace")
                status = (
                    f"status {parts[1].decode('ascii')}"
                    if len(parts) > 1 and parts[1].isdigit()
                    else "no status"
                )
                raise H2ConnectionError(
                    ErrorCode.PROTOCOL_ERROR,
                    f"the server answered with {version} ({status}): not a gRPC server,"
                    " or TLS/plaintext mismatch",
                )
        self._sniff_pending = False
        self._preface_buf = b""
        return buf

    def _terminate(self, code: int, reason: str) -> None:
        if self._terminated:
            return
        self._terminated = True
        self._hb_stream = 0
        self._write(build_goaway(self._highest_peer_id, code, reason.encode()[:256]))
        self._events.append(ConnectionTerminated(code, reason))

    def _unknown_stream_state(self, stream_id: int) -> StreamState:
        """The state of a stream with no live record.

        Recently closed streams are remembered. Ids below the high-water mark that are not
        remembered were closed long ago or skipped (§5.1.1, implicitly closed): frames on
        them are treated as if we had reset the stream, i.e. ignored, which is what a late
        frame after our RST_STREAM needs. (A HEADERS opening such a peer id is caught
        separately: stream ids must increase.)
        """
        state = self._closed_state(stream_id)
        if state is not None:
            return state
        if (stream_id & 1) == self._local_parity:
            return _RESET_SENT if stream_id < self._next_stream_id else _IDLE
        return _RESET_SENT if stream_id <= self._highest_peer_id else _IDLE

    def _credit_connection(self, length: int) -> None:
        """DATA that no application will consume still used connection window: give it
        back at once (batched like any acknowledgement), or the connection starves."""
        if length:
            self._ack_connection(length, reactive=True)

    def _on_data(self, flags: int, stream_id: int, payload: bytes) -> None:
        length = len(payload)
        if not length and not flags & FLAG_END_STREAM:
            self._empty_frame()
        window = self._recv_window - length
        if window < 0:
            raise H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "connection window exceeded")
        self._recv_window = window
        stream = self._streams.get(stream_id)
        if stream is None:
            parse_data(flags, stream_id, payload)  # stream 0 and padding checks
            self._credit_connection(length)
            next_state(self._unknown_stream_state(stream_id), _RECV_DATA, stream_id)
            return
        try:
            data = parse_data(flags, stream_id, payload) if flags & FLAG_PADDED else payload
            end = flags & FLAG_END_STREAM
            state = (_AFTER_DATA_END if end else _AFTER_DATA).get(stream.state)
            if state is None:
                reject(stream.state, _DATA_END_STEPS if end else _DATA_STEPS, stream_id)
            swindow = stream.recv_window - length
            if swindow < 0:
                raise H2StreamError(
                    stream_id, ErrorCode.FLOW_CONTROL_ERROR, "stream window exceeded"
                )
            if stream.content_left >= 0:
                self._count_content(stream, len(data), end)
        except H2StreamError:
            self._credit_connection(length)
            raise
        stream.recv_window = swindow
        stream.state = state
        self._events.append(DataReceived(stream_id, data, length, bool(end)))
        if state is _CLOSED:
            self._maybe_close(stream)

    def _count_content(self, stream: _Stream, size: int, end: int) -> None:
        """RFC 9113 §8.1.1: DATA payloads (without padding) must add up to the declared
        content-length, a stream error otherwise; checked as they come, so a stream that
        goes past it is reset without waiting for its end."""
        left = stream.content_left - size
        if left < 0 or (end and left):
            raise H2StreamError(
                stream.stream_id,
                ErrorCode.PROTOCOL_ERROR,
                "malformed: content-length disagrees with the DATA received",
            )
        stream.content_left = left

    def _on_headers(self, flags: int, stream_id: int, payload: bytes) -> None:
        if stream_id and flags & _HEADERS_PLAIN_MASK == FLAG_END_HEADERS:
            # The usual HEADERS: a whole block, no padding or priority (parse_headers'
            # checks, inlined).
            self._on_header_block(stream_id, flags, payload, None)
            return
        error: H2StreamError | None = None
        block, priority = parse_headers(flags, stream_id, payload)
        if priority is not None and priority.depends_on == stream_id:
            # RFC 9113 §5.3.1; the block is still decoded to keep HPACK in step (§4.3).
            error = H2StreamError(stream_id, ErrorCode.PROTOCOL_ERROR, "stream depends on itself")
        if not flags & FLAG_END_HEADERS:
            if len(block) > self.config.max_header_block_size:
                raise H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "header block too large")
            self._hb_stream = stream_id
            self._hb_flags = flags
            self._hb_parts = [block]
            self._hb_size = len(block)
            self._hb_frames = 0
            self._hb_error = error
            return
        self._on_header_block(stream_id, flags, block, error)

    def _on_continuation(self, flags: int, stream_id: int, payload: bytes) -> None:
        if not self._hb_stream:
            raise H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "CONTINUATION without HEADERS")
        fragment = parse_continuation(stream_id, payload)
        self._hb_frames += 1
        self._hb_size += len(fragment)
        if self._hb_frames > self.config.max_continuation_frames:
            raise H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "too many CONTINUATION frames")
        if self._hb_size > self.config.max_header_block_size:
            raise H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "header block too large")
        self._hb_parts.append(fragment)
        if flags & FLAG_END_HEADERS:
            block = b"".join(self._hb_parts)
            self._hb_stream = 0
            self._hb_parts = []
            self._on_header_block(stream_id, self._hb_flags, block, self._hb_error)

    def _on_header_block(
        self, stream_id: int, flags: int, block: bytes, error: H2StreamError | None
    ) -> None:
        # Decode before anything else: every block changes the HPACK state (RFC 9113 §4.3),
        # including blocks for streams that are then refused or ignored.
        headers: Headers | None
        key: tuple[tuple[bytes, bytes], ...] | None = None
        try:
            headers = self._decoder.decode(block)
            key = self._decoder.last_key
        except HeaderListTooLargeError as exc:
            headers = None
            if error is None:
                error = H2StreamError(stream_id, exc.code, str(exc))
        end_stream = bool(flags & FLAG_END_STREAM)
        stream = self._streams.get(stream_id)
        if stream is None:
            if (stream_id & 1) == self._local_parity:
                if stream_id >= self._next_stream_id:
                    raise H2ConnectionError(
                        ErrorCode.PROTOCOL_ERROR, f"peer opened stream {stream_id} of our parity"
                    )
                next_state(self._unknown_stream_state(stream_id), _RECV_HEADERS, stream_id)
                return
            if self.client_side:
                raise H2ConnectionError(
                    ErrorCode.PROTOCOL_ERROR, f"server opened stream {stream_id} (push is off)"
                )
            if stream_id <= self._highest_peer_id:
                closed = self._closed_state(stream_id)
                if closed is None:
                    raise H2ConnectionError(
                        ErrorCode.PROTOCOL_ERROR, f"stream id {stream_id} did not increase"
                    )
                next_state(closed, _RECV_HEADERS, stream_id)
                return
            self._highest_peer_id = stream_id
            if self._goaway_sent_last is not None and stream_id > self._goaway_sent_last:
                return  # RFC 9113 §6.8: streams after our GOAWAY are ignored
            if error is not None:
                raise error
            if self._peer_active >= self.local_settings.latest.max_concurrent_streams:
                raise H2StreamError(
                    stream_id, ErrorCode.REFUSED_STREAM, "too many concurrent streams"
                )
            assert headers is not None
            # Validate before the application hears of it. Clients repeat their header
            # blocks exactly, call after call, so lists already found valid are kept
            # (bounded; a block with a per-call value has no key and is checked each time).
            known_request = self._valid_requests.get(id(key))
            if known_request is None:
                length = _validate_request(headers, stream_id)
                self._valid_requests.put(key, length)
            else:
                length = known_request[1]
            if end_stream and length > 0:
                # RFC 9113 §8.1.1: the content ends here, short of its declared length.
                raise _malformed(stream_id, "content-length disagrees with the content")
            stream = self._new_stream(stream_id, local=False)
            stream.state = _OPENED_END if end_stream else _OPENED
            stream.content_left = length
        else:
            steps = _HEADERS_END_STEPS if end_stream else _HEADERS_STEPS
            state = _AFTER_HEADERS[steps].get(stream.state)
            if state is None:
                reject(stream.state, steps, stream_id)
            if error is not None:
                raise error
            assert headers is not None
            if stream.inbound == 0 and self.client_side:
                # As for requests: servers repeat their response header blocks exactly.
                known = self._valid_responses.get(id(key))
                if known is not None:
                    status, length = known[1]
                else:
                    status, length = _validate_response(headers, stream_id)
                    self._valid_responses.put(key, (status, length))
                if length >= 0:
                    if end_stream and length:
                        # RFC 9113 §8.1.1, as for requests.
                        raise _malformed(stream_id, "content-length disagrees with the content")
                    stream.content_left = length
                if 100 <= status < 200:
                    if end_stream:
                        raise _malformed(stream_id, "informational response ends stream")
                    stream.state = state
                    self._events.append(InformationalHeadersReceived(stream_id, headers))
                    return
            elif stream.inbound == 0:  # pragma: no cover - a request always opens a stream
                _validate_request(headers, stream_id)
            else:
                if not end_stream:
                    raise _malformed(stream_id, "trailers without END_STREAM")
                if stream.content_left > 0:
                    # RFC 9113 §8.1.1: trailers end the content short of its length.
                    raise _malformed(stream_id, "content-length disagrees with the content")
                if self._valid_trailers.get(id(key)) is None:
                    _validate_trailers(headers, stream_id)
                    self._valid_trailers.put(key, True)
                stream.inbound = 2
                stream.state = state
                self._events.append(TrailersReceived(stream_id, headers, key))
                self._maybe_close(stream)
                return
            stream.state = state
        stream.inbound = 1
        self._events.append(HeadersReceived(stream_id, headers, end_stream, key))
        if end_stream:
            self._maybe_close(stream)

    def _empty_frame(self) -> None:
        """A frame that made us work for nothing: too many end the connection."""
        if not self._empty_bucket.allow(self._now):
            raise H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "flood of empty frames")

    def _on_priority(self, flags: int, stream_id: int, payload: bytes) -> None:
        self._empty_frame()
        parse_priority(stream_id, payload)  # validated, then ignored (RFC 9113 §5.3.2)

    def _on_rst_stream(self, flags: int, stream_id: int, payload: bytes) -> None:
        code = parse_rst_stream(stream_id, payload)
        if not self._reset_bucket.allow(self._now):
            # CVE-2023-44487 ("rapid reset").
            raise H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "too many stream resets")
        stream = self._streams.get(stream_id)
        if stream is None:
            next_state(self._unknown_stream_state(stream_id), _RECV_RST_STREAM, stream_id)
            return
        next_state(stream.state, _RECV_RST_STREAM, stream_id)
        self._remove_stream(stream, _RESET_RECEIVED)
        self._events.append(StreamReset(stream_id, code, True))

    def _on_settings(self, flags: int, stream_id: int, payload: bytes) -> None:
        if not self._settings_bucket.allow(self._now):
            raise H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "too many SETTINGS")
        pairs = parse_settings(flags, stream_id, payload)
        self._peer_settings_seen = True
        if flags & FLAG_ACK:
            applied = self.local_settings.ack_received()
            if applied is not None:
                self._apply_local_permissive()
                self._events.append(SettingsAcked(applied))
            return
        if self.client_side and (SETTINGS_ENABLE_PUSH, 1) in pairs:
            raise H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "server enabled push")
        remote = self.remote_settings
        old_initial = remote.initial_window_size
        changed = remote.apply(pairs)
        if SETTINGS_HEADER_TABLE_SIZE in changed:
            self._encoder.header_table_size = min(
                remote.header_table_size, self.config.max_encoder_table_size
            )
        delta = remote.initial_window_size - old_initial
        if delta:
            # RFC 9113 §6.9.2: windows may go negative, but not past 2^31-1.
            for stream in self._streams.values():
                window = stream.send_window + delta
                if window > MAX_WINDOW_SIZE:
                    raise H2ConnectionError(
                        ErrorCode.FLOW_CONTROL_ERROR, "INITIAL_WINDOW_SIZE overflows a window"
                    )
                stream.send_window = window
        self._write_reactive(build_settings(ack=True))
        self._events.append(SettingsReceived(changed))
        if delta > 0 and self._blocked:
            self._granted = True  # flushed at the end of receive_data

    def _on_push_promise(self, flags: int, stream_id: int, payload: bytes) -> None:
        # We never enable push (a client advertises ENABLE_PUSH=0; a server cannot
        # receive it at all): RFC 9113 §6.6 and §8.4.
        raise H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "PUSH_PROMISE is not allowed")

    def _on_ping(self, flags: int, stream_id: int, payload: bytes) -> None:
        opaque = parse_ping(stream_id, payload)
        if flags & FLAG_ACK:
            sent = self._pings.pop(opaque, None)
            if sent is not None:
                self._events.append(PingAcked(opaque, self._now - sent))
            return
        # Only PINGs while we send nothing count towards the flood limit, as in grpc's C
        # core and grpc-go: those peers PING once per round trip of data they receive
        # (BDP estimation), which a plain rate limit would punish on any busy connection.
        if self._sent_since_ping:
            self._sent_since_ping = False
        elif not self._ping_bucket.allow(self._now):
            raise H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "too many PINGs")
        self._write_reactive(build_ping(opaque, ack=True))
        self._events.append(PingReceived(opaque))

    def _on_goaway(self, flags: int, stream_id: int, payload: bytes) -> None:
        last, code, debug = parse_goaway(stream_id, payload)
        if self._goaway_received_last is not None:
            last = min(last, self._goaway_received_last)
        self._goaway_received_last = last
        # Streams we opened above ``last`` were not and will not be processed: report
        # them refused so the caller can retry them elsewhere (RFC 9113 §6.8).
        refused = [s for s in self._streams.values() if s.local and s.stream_id > last]
        for stream in refused:
            self._remove_stream(stream, _RESET_SENT)
            self._events.append(StreamReset(stream.stream_id, ErrorCode.REFUSED_STREAM, True))
        self._events.append(GoAwayReceived(last, code, debug))

    def _on_window_update(self, flags: int, stream_id: int, payload: bytes) -> None:
        increment = parse_window_update(stream_id, payload)
        if stream_id == 0:
            if increment == 0:
                raise H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE of 0")
            window = self._send_window + increment
            if window > MAX_WINDOW_SIZE:
                raise H2ConnectionError(
                    ErrorCode.FLOW_CONTROL_ERROR, "connection window above 2^31-1"
                )
            self._send_window = window
            if self._blocked:
                # (As for streams, below.) A small grant counts while the connection
                # window is what the data waits for: it was (nearly) used up.
                if increment < self._small_grant and window - increment < self._small_grant:
                    self._small_window_update()
                self._granted = True
            return
        stream = self._streams.get(stream_id)
        if stream is None:
            next_state(self._unknown_stream_state(stream_id), _RECV_WINDOW_UPDATE, stream_id)
            return
        next_state(stream.state, _RECV_WINDOW_UPDATE, stream_id)
        if increment == 0:
            raise H2StreamError(stream_id, ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE of 0")
        window = stream.send_window + increment
        if window > MAX_WINDOW_SIZE:
            raise H2StreamError(stream_id, ErrorCode.FLOW_CONTROL_ERROR, "window above 2^31-1")
        stream.send_window = window
        if stream.out_bytes:
            # CVE-2019-9511 ("data dribble"): a peer granting a few bytes at a time would
            # have us frame a few bytes at a time. Grants are added up and the stream is
            # flushed once per read, so many grants in one read cost one frame; a steady
            # flow of tiny grants for data that waits is rate-limited like other floods.
            # Only grants to a (nearly) used-up window count: with window to spare, the
            # data waits for the connection window, and a grant covering all that waits
            # is the end of a transfer, not a dribble.
            small = self._small_grant
            if increment < small and window - increment < small and increment < stream.out_bytes:
                self._small_window_update()
            if window > 0:
                self._granted = True

    def _small_window_update(self) -> None:
        """A WINDOW_UPDATE granting a few bytes while data waits for window."""
        if not self._small_grant_bucket.allow(self._now):
            raise H2ConnectionError(
                ErrorCode.ENHANCE_YOUR_CALM, "flood of small WINDOW_UPDATEs (data dribble)"
            )

    def _stream_error(self, exc: H2StreamError) -> None:
        stream_id = exc.stream_id
        if not self._reset_bucket.allow(self._now):
            # Resets the peer provokes count like resets it sends ("MadeYouReset",
            # CVE-2025-8671): either way streams churn without bound.
            raise H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "too many stream errors")
        self._write_reactive(build_rst_stream(stream_id, exc.code))
        stream = self._streams.get(stream_id)
        if stream is not None:
            self._remove_stream(stream, _RESET_SENT)
            self._events.append(StreamReset(stream_id, exc.code, False, exc.message))
        else:
            self._remember_closed(stream_id, _RESET_SENT)

    # ------------------------------------------------------------ stream bookkeeping

    def _new_stream(self, stream_id: int, local: bool) -> _Stream:
        stream = _Stream(
            stream_id, local, self.remote_settings.initial_window_size, self._recv_initial
        )
        self._streams[stream_id] = stream
        if local:
            self._local_active += 1
        else:
            self._peer_active += 1
        return stream

    def _remove_stream(self, stream: _Stream, final: StreamState) -> None:
        stream_id = stream.stream_id
        del self._streams[stream_id]
        self._blocked.pop(stream_id, None)
        if stream.local:
            self._local_active -= 1
        else:
            self._peer_active -= 1
        stream.state = final
        stream.out_chunks = None
        self.outbound_queued_total -= stream.out_bytes
        stream.out_bytes = 0
        self._remember_closed(stream_id, final)

    def _remember_closed(self, stream_id: int, state: StreamState) -> None:
        closed = self._closed
        closed[stream_id] = state  # (shadows an older entry in _closed_old, if any)
        if len(closed) >= self._closed_half:
            self._closed_old = closed
            self._closed = {}

    def _closed_state(self, stream_id: int) -> StreamState | None:
        state = self._closed.get(stream_id)
        return state if state is not None else self._closed_old.get(stream_id)

    def _maybe_close(self, stream: _Stream) -> None:
        """Forget a stream once both sides ended it and its queued output is out."""
        if stream.state is _CLOSED and not stream.out_bytes and not stream.out_end:
            self._remove_stream(stream, _CLOSED)

    # ------------------------------------------------------------ sending

    def _was_reset(self, stream_id: int) -> bool:
        """For a stream with no live record: True if it was reset (by either side, or
        refused by a GOAWAY), so that sending on it is a no-op; False if it is idle.
        Raises StreamStateError if it closed normally: a stream closes only once both
        sides sent END_STREAM, ours included, so sending again is a mistake of the
        application, not a race with the peer. So is acting on one of our ids with no
        record: skipped when a later stream was opened (§5.1.1), or closed so long ago
        that the application cannot still be racing the peer over it. (A peer's stream
        with no record left is taken as reset: closed or reset, it is gone either way.)"""
        local = (stream_id & 1) == self._local_parity
        if local and stream_id >= self._next_stream_id:
            # Never opened by us (a peer's frame on such an id may have left a record of a
            # reset): opening it is for _open_local to judge.
            return False
        state = self._closed_state(stream_id)
        if state is None:
            state = self._unknown_stream_state(stream_id)
            if state is not _IDLE and local:
                state = _CLOSED
        if state is _CLOSED:
            raise StreamStateError(f"stream {stream_id} is closed or was never opened")
        return state is not _IDLE

    def _check_usable(self) -> None:
        if self._terminated:
            raise ConnectionClosedError("the connection has ended")

    def _open_local(self, stream_id: int) -> _Stream:
        if not self.client_side:
            raise LocalProtocolError("a server cannot open streams (push is not supported)")
        if (stream_id & 1) != self._local_parity or stream_id < self._next_stream_id:
            raise StreamStateError(f"stream {stream_id} is closed or not ours to open")
        if stream_id > _MAX_STREAM_ID:
            raise StreamIdsExhaustedError("stream ids exhausted")
        if self._goaway_received_last is not None or self._goaway_sent_last is not None:
            raise ConnectionClosedError("GOAWAY: no new streams on this connection")
        if self._local_active >= self.remote_settings.max_concurrent_streams:
            raise TooManyStreamsError(
                f"peer allows {self.remote_settings.max_concurrent_streams} concurrent streams"
            )
        self._next_stream_id = stream_id + 2
        return self._new_stream(stream_id, local=True)

    def open_stream(
        self, headers: Iterable[tuple[bytes, bytes]], *, end_stream: bool = False
    ) -> int:
        """Open a new stream (client side) with its request headers; returns its id."""
        stream_id = self._next_stream_id
        self.send_headers(stream_id, headers, end_stream=end_stream)
        return stream_id

    def send_request(
        self,
        headers: Iterable[tuple[bytes, bytes]],
        data: bytes | None = None,
        *,
        end_stream: bool = True,
    ) -> int:
        """Open a new stream (client side) with its request headers and, if given, one
        ``data`` payload, ending our side with ``end_stream``; returns the stream id.

        The same as ``open_stream`` + ``send_data``, and it falls back to exactly that
        unless ``data`` fits the windows and one frame; then the HEADERS and DATA frames
        are framed together. This is a unary gRPC request, the hottest send on a client.
        """
        stream_id = self._next_stream_id
        if not data:
            self.send_headers(stream_id, headers, end_stream=end_stream)
            return stream_id
        size = len(data)
        remote = self.remote_settings
        max_frame = remote.max_frame_size
        if (
            self._terminated
            or size > remote.initial_window_size
            or size > self._send_window
            or size > max_frame
        ):
            self.send_headers(stream_id, headers)
            self.send_data(stream_id, data, end_stream=end_stream)
            return stream_id
        stream = self._open_local(stream_id)
        block = self._encoder.encode(headers)
        hsize = len(block)
        if hsize > max_frame:  # CONTINUATION frames: the general way
            stream.state = _OPENED_LOCAL
            self._write_block(stream_id, block, False)
            self.send_data(stream_id, data, end_stream=end_stream)
            return stream_id
        pack = _HEADERS_DATA_PACKERS.get(hsize) or _headers_data_packer(hsize)
        flags = FLAG_END_STREAM if end_stream else 0
        self._out.append(
            pack(hsize >> 8, hsize & 0xFF, HEADERS, FLAG_END_HEADERS, stream_id,
                 block, size >> 8, size & 0xFF, DATA, flags, stream_id)
        )  # fmt: skip
        self._out.append(data)
        self.outbound_buffered += hsize + size + 18
        self._sent_since_ping = True
        stream.send_window -= size
        self._send_window -= size
        stream.state = _REQUEST_SENT if end_stream else _REQUEST_OPEN
        return stream_id

    def send_headers(
        self,
        stream_id: int,
        headers: Iterable[tuple[bytes, bytes]],
        *,
        end_stream: bool = False,
    ) -> None:
        """Send a header block: request headers (opening ``stream_id`` if it is new),
        response headers, or trailers (with ``end_stream``). Trailers sent while data is
        still queued for flow control go out after that data."""
        stream = self._streams.get(stream_id)
        if stream is None:
            if self._was_reset(stream_id):
                return  # the application raced the peer (see "Errors" above)
            self._check_usable()
            stream = self._open_local(stream_id)
        elif self._terminated:
            return
        state = next_state(stream.state, _SEND_HEADERS, stream_id)
        if end_stream:
            state = next_state(state, _SEND_END_STREAM, stream_id)
        if stream.out_bytes:
            if not end_stream:
                raise StreamStateError("only trailers (end_stream=True) may follow queued data")
            stream.state = state
            stream.out_trailers = list(headers)
            stream.out_end = True
            return
        stream.state = state
        self._write_headers(stream_id, headers, end_stream)
        if state is _CLOSED:
            self._maybe_close(stream)

    def send_response(
        self,
        stream_id: int,
        headers: Iterable[tuple[bytes, bytes]] | None,
        data: bytes,
        trailers: Iterable[tuple[bytes, bytes]],
    ) -> None:
        """Send the rest of a response at once: ``headers`` (None if already sent), one
        ``data`` payload (may be empty) and ``trailers``, which end the stream.

        The same as ``send_headers`` + ``send_data`` + ``send_trailers``, and it falls back
        to exactly that unless everything fits the windows and one DATA frame; then it walks
        the stream state once and appends the frames together. This is a unary gRPC
        response, the hottest send on a server.
        """
        stream = self._streams.get(stream_id)
        size = len(data)
        if (
            stream is None
            or self._terminated
            or stream.out_bytes
            or size > stream.send_window
            or size > self._send_window
            or size > self.remote_settings.max_frame_size
        ):
            if headers is not None:
                self.send_headers(stream_id, headers)
            if size:
                self.send_data(stream_id, data)
            self.send_headers(stream_id, trailers, end_stream=True)
            return
        steps = _RESPONSE_STEPS[headers is not None, size > 0]
        state = _AFTER_RESPONSE[steps].get(stream.state)
        if state is None:
            reject(stream.state, steps, stream_id)
        encoder = self._encoder
        frames = self._response_frames
        if (
            frames[0] is headers
            and frames[1] is trailers
            and frames[2] == encoder.generation
            and size
        ):
            # The same constant headers and trailers as last time, and the HPACK table
            # unchanged: their blocks, sizes and packers are as they were.
            _, _, _, pack_head, head, hhi, hlo, pack_tail, tail, thi, tlo, extra = frames
        else:
            # Encoded in order, once each: encoding changes the HPACK table.
            head = encoder.encode(headers) if headers is not None else None
            tail = encoder.encode(trailers)
            found = (
                self._frame_blocks(headers, trailers, head, tail)
                if head is not None and size
                else None
            )
            if found is None:
                # (No data, or a header block larger than a frame; the data fits.)
                if head is not None:
                    self._write_block(stream_id, head, False)
                if size:
                    self._write_data(stream, memoryview(data), False)
                stream.state = state
                self._write_block(stream_id, tail, True)
                if state is _CLOSED:
                    self._maybe_close(stream)
                return
            pack_head, head, hhi, hlo, pack_tail, tail, thi, tlo, extra = found
        # The usual unary response: HEADERS, DATA and trailers framed by two C calls (a
        # struct per block length: the headers frame with its block and the DATA frame
        # header; the trailers frame with its block).
        stream.send_window -= size
        self._send_window -= size
        out = self._out
        out.append(
            pack_head(hhi, hlo, HEADERS, FLAG_END_HEADERS, stream_id,
                      head, size >> 8, size & 0xFF, DATA, 0, stream_id)
        )  # fmt: skip
        out.append(data)
        out.append(pack_tail(thi, tlo, HEADERS, _HEADERS_END_STREAM, stream_id, tail))
        self.outbound_buffered += size + extra
        self._sent_since_ping = True
        stream.state = state
        if state is _CLOSED and not stream.out_end:  # (_maybe_close, inlined)
            self._remove_stream(stream, _CLOSED)

    def _frame_blocks(
        self,
        headers: Iterable[tuple[bytes, bytes]] | None,
        trailers: Iterable[tuple[bytes, bytes]],
        head: bytes,
        tail: bytes,
    ) -> tuple[Any, ...] | None:
        """send_response's two-call framing of these encoded blocks: packers, blocks and
        sizes; None if a block needs more than one frame. Kept for the next response if
        encoding the same headers and trailers again will give the same blocks."""
        max_frame = self.remote_settings.max_frame_size
        hsize = len(head)
        tsize = len(tail)
        if hsize > max_frame or tsize > max_frame:
            return None
        found = (
            _HEADERS_DATA_PACKERS.get(hsize) or _headers_data_packer(hsize),
            head,
            hsize >> 8,
            hsize & 0xFF,
            _HEADERS_PACKERS.get(tsize) or _headers_packer(tsize),
            tail,
            tsize >> 8,
            tsize & 0xFF,
            hsize + tsize + 27,
        )
        encoder = self._encoder
        if (
            type(headers) is tuple  # (a list could change under the same identity)
            and type(trailers) is tuple
            and hsize <= 16384  # (the smallest SETTINGS_MAX_FRAME_SIZE there is)
            and tsize <= 16384
            and encoder.cached_block(headers) is head
            and encoder.cached_block(trailers) is tail
        ):
            self._response_frames = (headers, trailers, encoder.generation, *found)
        return found

    def send_trailers(self, stream_id: int, headers: Iterable[tuple[bytes, bytes]]) -> None:
        """Send trailers, ending our side of the stream."""
        self.send_headers(stream_id, headers, end_stream=True)

    def _write_headers(
        self, stream_id: int, headers: Iterable[tuple[bytes, bytes]], end_stream: bool
    ) -> None:
        self._write_block(stream_id, self._encoder.encode(headers), end_stream)

    def _write_block(self, stream_id: int, block: bytes, end_stream: bool) -> None:
        """Frame an encoded header block: HEADERS, then CONTINUATIONs if it is large."""
        self._sent_since_ping = True
        max_frame = self.remote_settings.max_frame_size
        size = len(block)
        if size <= max_frame:
            # The common case, framed inline: the 9-byte header, then the block as it is.
            flags = _HEADERS_END_STREAM if end_stream else FLAG_END_HEADERS
            out = self._out
            out.append(_FRAME_HEADER.pack(size >> 8, size & 0xFF, HEADERS, flags, stream_id))
            out.append(block)
            self.outbound_buffered += size + 9
            return
        self._write(
            build_headers(stream_id, block[:max_frame], end_stream=end_stream, end_headers=False)
        )
        size = len(block)
        for start in range(max_frame, size, max_frame):
            end = start + max_frame
            self._write(build_continuation(stream_id, block[start:end], end_headers=end >= size))

    def send_data(self, stream_id: int, data: bytes, *, end_stream: bool = False) -> None:
        """Send ``data`` on a stream: framed now as far as the flow-control windows and the
        peer's MAX_FRAME_SIZE allow, the rest queued (END_STREAM waits for it). ``data``
        must not be mutated afterwards (it is referenced, not copied, until written)."""
        stream = self._streams.get(stream_id)
        size = len(data)
        if (
            stream is not None
            and type(data) is bytes  # (others take the checks and the copy-free view below)
            and not end_stream
            and not stream.out_bytes
            and stream.state in _DATA_SENDABLE
            and 0 < size <= stream.send_window
            and size <= self._send_window
            and size <= self.remote_settings.max_frame_size
            and not self._terminated
        ):
            # The common case (a streamed message): one frame, within both windows.
            stream.send_window -= size
            self._send_window -= size
            out = self._out
            out.append(_FRAME_HEADER.pack(size >> 8, size & 0xFF, DATA, 0, stream_id))
            out.append(data)
            self.outbound_buffered += size + 9
            self._sent_since_ping = True
            return
        if stream is None:
            if self._was_reset(stream_id):
                return  # the application raced the peer (see "Errors" above)
            raise StreamStateError(f"stream {stream_id} is not open")
        if self._terminated:
            return
        state = next_state(stream.state, _SEND_DATA, stream_id)
        if end_stream:
            state = next_state(state, _SEND_END_STREAM, stream_id)
        stream.state = state
        size = len(data)
        if not size and not end_stream:
            return
        if stream.out_bytes:
            if size:
                assert stream.out_chunks is not None
                stream.out_chunks.append(memoryview(data))
                stream.out_bytes += size
                self.outbound_queued_total += size
            stream.out_end = end_stream
            return
        allowed = min(stream.send_window, self._send_window, size)
        if allowed >= size:
            self._write_data(stream, memoryview(data), end_stream)
        else:
            view = memoryview(data)
            if allowed > 0:
                self._write_data(stream, view[:allowed], False)
                view = view[allowed:]
            stream.out_chunks = deque((view,))
            stream.out_bytes = len(view)
            self.outbound_queued_total += len(view)
            stream.out_end = end_stream
            self._blocked[stream_id] = None
            return
        if state is _CLOSED:
            self._maybe_close(stream)

    def _write_data(self, stream: _Stream, view: memoryview, end_stream: bool) -> None:
        """Frame ``view`` (which fits the windows) as DATA, chunked by MAX_FRAME_SIZE."""
        self._sent_since_ping = True
        size = len(view)
        stream.send_window -= size
        self._send_window -= size
        stream_id = stream.stream_id
        max_frame = self.remote_settings.max_frame_size
        out = self._out
        pack = _FRAME_HEADER.pack
        start = 0
        frames = 0
        while True:
            end = start + max_frame
            flags = 0
            if end >= size:
                end = size
                if end_stream:
                    flags = _DATA_END
            length = end - start
            out.append(pack(length >> 8, length & 0xFF, DATA, flags, stream_id))
            out.append(view[start:end])
            frames += 1
            start = end
            if start >= size:
                break
        self.outbound_buffered += size + 9 * frames

    def _send_queued(self, stream: _Stream, budget: int) -> None:
        """Write up to ``budget`` queued bytes of ``stream`` (budget fits the windows),
        then its deferred END_STREAM or trailers if the queue emptied."""
        chunks = stream.out_chunks
        assert chunks is not None
        parts: list[memoryview] = []
        taken = 0
        while chunks and taken < budget:
            chunk = chunks[0]
            room = budget - taken
            if len(chunk) <= room:
                chunks.popleft()
                parts.append(chunk)
                taken += len(chunk)
            else:
                parts.append(chunk[:room])
                chunks[0] = chunk[room:]
                taken += room
        stream.out_bytes -= taken
        self.outbound_queued_total -= taken
        drained = not stream.out_bytes
        end_with_data = drained and stream.out_end and stream.out_trailers is None
        view = parts[0] if len(parts) == 1 else memoryview(b"".join(parts))
        self._write_data(stream, view, end_with_data)
        if drained:
            stream.out_chunks = None
            trailers = stream.out_trailers
            if trailers is not None:
                stream.out_trailers = None
                self._write_headers(stream.stream_id, trailers, True)
            stream.out_end = False
            self._blocked.pop(stream.stream_id, None)
            self._events.append(SendQueueDrained(stream.stream_id))
            self._maybe_close(stream)

    def _flush_blocked(self) -> None:
        """Release queued data after windows opened: round-robin across the waiting
        streams, one frame's worth each per round, so no stream starves another. Each
        round visits only the streams that still have data and window."""
        streams = self._streams
        max_frame = self.remote_settings.max_frame_size
        candidates = list(self._blocked)
        while candidates and self._send_window > 0:
            remaining = []
            for stream_id in candidates:
                stream = streams[stream_id]
                budget = min(stream.send_window, self._send_window, max_frame)
                if budget <= 0:
                    continue
                self._send_queued(stream, budget)
                if self._send_window <= 0:
                    return
                if stream.out_bytes and stream.send_window > 0:
                    remaining.append(stream_id)
            candidates = remaining

    def reset_stream(self, stream_id: int, error_code: int = ErrorCode.CANCEL) -> None:
        """Reset a stream (RST_STREAM), dropping its queued output. A no-op on a stream
        that has already closed or been reset, and once the connection has ended."""
        stream = self._streams.get(stream_id)
        if stream is None:
            if self._unknown_stream_state(stream_id) is _IDLE:
                raise StreamStateError(f"stream {stream_id} is idle")
            return
        if self._terminated:
            return
        next_state(stream.state, _SEND_RST_STREAM, stream_id)
        self._write(build_rst_stream(stream_id, error_code))
        self._remove_stream(stream, _RESET_SENT)

    def ping(self, opaque: bytes, now: float) -> None:
        """Send a PING with 8 bytes of ``opaque`` data; PingAcked reports the round trip."""
        self._check_usable()
        self._write(build_ping(opaque))
        self._pings[opaque] = now

    def send_goaway(
        self,
        error_code: int = ErrorCode.NO_ERROR,
        last_stream_id: int | None = None,
        debug_data: bytes = b"",
    ) -> None:
        """Send GOAWAY: no new peer streams are accepted (those above ``last_stream_id``,
        by default the highest the peer opened, are ignored); streams in flight go on.
        May be sent again with a lower ``last_stream_id``."""
        self._check_usable()
        last = self._highest_peer_id if last_stream_id is None else last_stream_id
        if self._goaway_sent_last is not None:
            last = min(last, self._goaway_sent_last)
        self._goaway_sent_last = last
        self._write(build_goaway(last, error_code, debug_data))

    def acknowledge_received_data(self, stream_id: int, nbytes: int) -> None:
        """The application consumed ``nbytes`` of flow-controlled DATA on ``stream_id``.
        WINDOW_UPDATEs go out once half of a window is unacknowledged. Stream 0 credits
        the connection alone (for streams the peer can send no more on)."""
        if nbytes < 0:
            raise ValueError("nbytes must not be negative")
        if self._terminated or not nbytes:
            return
        self._ack_connection(nbytes, reactive=False)
        stream = self._streams.get(stream_id)
        if stream is None or stream.inbound == 2 or stream.state not in _RECEIVING:
            return  # the peer will send no more on it: no stream WINDOW_UPDATE needed
        target = self._recv_initial
        unacked = min(stream.recv_unacked + nbytes, target - stream.recv_window)
        if unacked >= target >> 1 and unacked > 0:
            stream.recv_unacked = 0
            stream.recv_window += unacked
            self._write(build_window_update(stream_id, unacked))
        else:
            stream.recv_unacked = max(unacked, 0)

    def _ack_connection(self, nbytes: int, reactive: bool) -> None:
        target = self.config.connection_window_size
        unacked = min(self._recv_unacked + nbytes, target - self._recv_window)
        if unacked >= target >> 1 and unacked > 0:
            self._recv_unacked = 0
            self._recv_window += unacked
            frame = build_window_update(0, unacked)
            if reactive:
                self._write_reactive(frame)
            else:
                self._write(frame)
        else:
            self._recv_unacked = max(unacked, 0)

    # ------------------------------------------------------------ timers

    def handle_timer(self, now: float) -> list[Event]:
        """Enforce SETTINGS_TIMEOUT (RFC 9113 §6.5.3); returns events like receive_data."""
        events: list[Event] = []
        deadline = self.get_timer()
        if deadline is not None and now >= deadline:
            self._events = events
            self._terminate(ErrorCode.SETTINGS_TIMEOUT, "SETTINGS not acknowledged in time")
        return events


_RECEIVING = frozenset((StreamState.OPEN, StreamState.HALF_CLOSED_LOCAL))
# The handler of each frame type, by type. Functions, not bound methods kept on the
# connection: those would make each connection a reference cycle, so that everything it
# holds (queued response data above all) outlived it until the cyclic collector ran.
_FRAME_HANDLERS: tuple[Callable[[H2Connection, int, int, bytes], None], ...] = (
    H2Connection._on_data,
    H2Connection._on_headers,
    H2Connection._on_priority,
    H2Connection._on_rst_stream,
    H2Connection._on_settings,
    H2Connection._on_push_promise,
    H2Connection._on_ping,
    H2Connection._on_goaway,
    H2Connection._on_window_update,
    H2Connection._on_continuation,
)
