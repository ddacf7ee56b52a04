"""The gRPC client on asyncio: a :class:`Channel` multiplexes every call on one HTTP/2
connection, made lazily and remade after a failure with gRPC's connection backoff.

Calls mirror ``grpc.aio``: ``channel.unary_unary(path, ...)`` returns a method object;
calling it returns a call that is awaitable (unary responses) or async-iterable
(streamed responses), with ``initial_metadata()``, ``trailing_metadata()``, ``code()``,
``details()`` and ``cancel()``. A failed call raises :class:`grpcx.RpcError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import heapq
import math
import random
import ssl as _ssl
from collections import deque
from collections.abc import AsyncIterable, Awaitable, Callable, Generator, Iterable
from typing import Any, Final, Generic, Literal, TypeVar

from grpcx.aio._protocol import H2Protocol
from grpcx.http2.connection import H2Connection, LocalProtocolError
from grpcx.http2.errors import ErrorCode
from grpcx.http2.events import (
    ConnectionTerminated,
    DataReceived,
    GoAwayReceived,
    HeadersReceived,
    KeyedCache,
    SendQueueDrained,
    SettingsReceived,
    StreamReset,
    TrailersReceived,
)
from grpcx.http2.settings import H2Config
from grpcx.metadata import Metadata, MetadataError
from grpcx.protocol.compression import Codec, accept_encoding_header, get_codec
from grpcx.protocol.errors import ProtocolStatusError
from grpcx.protocol.headers import (
    CallStatus,
    ResponseHead,
    build_request_headers,
    parse_response_headers,
    parse_trailers,
)
from grpcx.protocol.messages import (
    DEFAULT_MAX_MESSAGE_SIZE,
    MessageDeframer,
    encode_message,
    whole_message,
)
from grpcx.protocol.target import Target, parse_target
from grpcx.protocol.timeout import encode_timeout
from grpcx.status import RpcError, StatusCode, status_from_http2_error

__all__ = [
    "EOF",
    "Call",
    "Channel",
    "StreamStreamCall",
    "StreamStreamMethod",
    "StreamUnaryCall",
    "StreamUnaryMethod",
    "UnaryStreamCall",
    "UnaryStreamMethod",
    "UnaryUnaryCall",
    "UnaryUnaryMethod",
]

_T = TypeVar("_T")
RequestT = TypeVar("RequestT")
ResponseT = TypeVar("ResponseT")

_ACCEPT_ENCODING = accept_encoding_header()
_RECEIVE_BUFFER = 256 << 10  # streamed responses waiting for the reader, before pushback
_SEND_BUFFER = 256 << 10  # request bytes queued behind flow control before write() waits
_PARSE_CACHE_SIZE = 64  # parsed response heads / statuses kept per connection

# doc/connection-backoff.md
_BACKOFF_INITIAL = 1.0
_BACKOFF_MULTIPLIER = 1.6
_BACKOFF_JITTER = 0.2
_BACKOFF_MAX = 120.0
DEFAULT_CONNECT_TIMEOUT = 20.0  # grpcio's too (doc/connection-backoff.md's MIN_CONNECT_TIMEOUT)


class _EOFType(enum.Enum):
    """The type of :data:`EOF`: an enum of one member, so that ``is EOF`` narrows.

    mypy treats a one-member enum as a literal type, so after ``if reply is EOF: break``
    it knows ``reply`` is the response type (a plain singleton object would not narrow).
    """

    EOF = "EOF"

    def __repr__(self) -> str:
        return "grpcx.aio.EOF"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return False


EOF: Final = _EOFType.EOF
"""The marker [`UnaryStreamCall.read()`][grpcx.aio.UnaryStreamCall.read] returns after the last
response.

Test it with ``is``, which narrows the type of what ``read()`` returned::

    while True:
        reply = await call.read()
        if reply is grpcx.aio.EOF:
            break
        print(reply.message)  # reply: the response type here
"""

MetadataLike = Metadata | Iterable[tuple[str, str | bytes]] | None
_Headers = tuple[tuple[bytes, bytes], ...]
_RequestShape = tuple[_Headers, _Headers, _Headers]  # see Channel._request_shape


# ---------------------------------------------------------------------- the connection


class _Deadlines:
    """The deadlines of one connection's calls, kept on one loop timer.

    A loop timer per call costs about 2 us (a TimerHandle, a heap ordered through its
    Python ``__lt__``, cancelled handles purged by the loop). Here a heap of ``(deadline,
    seq, state)`` tuples compares in C, and the entries of calls that ended first are
    dropped lazily: when popped, or all at once when they outnumber the live ones.
    A state is queued while its ``deadline`` is set.
    """

    __slots__ = ("_armed", "_ended", "_heap", "_loop", "_seq", "_timer")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._heap: list[tuple[float, int, _CallState]] = []
        self._seq = 0  # ties broken by order of arrival; states are never compared
        self._ended = 0  # entries in the heap whose call has ended
        self._timer: asyncio.TimerHandle | None = None
        self._armed = math.inf  # when the timer fires

    def add(self, state: _CallState, deadline: float) -> None:
        state.deadline = deadline
        self._seq += 1
        heapq.heappush(self._heap, (deadline, self._seq, state))
        if deadline < self._armed:
            self._arm(deadline)

    def ended(self, state: _CallState) -> None:
        """``state`` ended before its deadline."""
        state.deadline = None
        self._ended += 1
        heap = self._heap
        if self._ended > 64 and self._ended * 2 > len(heap):
            heap[:] = [entry for entry in heap if entry[2].deadline is not None]
            heapq.heapify(heap)
            self._ended = 0

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._armed = math.inf
        self._heap.clear()
        self._ended = 0

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(when, self._fire)
        self._armed = when

    def _fire(self) -> None:
        # The loop runs a timer a clock tick early at most: what it was armed for is due.
        limit = max(self._loop.time(), self._armed)
        self._timer = None
        self._armed = math.inf
        heap = self._heap
        while heap and heap[0][0] <= limit:
            state = heapq.heappop(heap)[2]
            if state.deadline is None:
                self._ended -= 1
            else:
                state.deadline = None
                state.fail(StatusCode.DEADLINE_EXCEEDED, "deadline exceeded")
        if heap:
            self._arm(heap[0][0])


class _ClientConnection(H2Protocol):
    """One HTTP/2 connection of a channel."""

    def __init__(self, channel: Channel) -> None:
        super().__init__(channel._loop, H2Connection(client_side=True, config=channel._h2_config))
        self.channel = channel
        self.calls: dict[int, _CallState] = {}
        self.draining = False  # GOAWAY received: no new calls here
        self.error: str = ""
        self._slot_waiters: deque[asyncio.Future[None]] = deque()
        # Parsed response heads and statuses, by their block's key (HeadersReceived.key; see
        # _CallState).
        self.heads: KeyedCache[ResponseHead] = KeyedCache(_PARSE_CACHE_SIZE)
        self.statuses: KeyedCache[CallStatus] = KeyedCache(_PARSE_CACHE_SIZE)
        self._write_waiters: list[asyncio.Future[None]] = []
        self.acks: dict[int, int] = {}  # flow-control credit to give back, by stream
        self.deadlines = _Deadlines(self.loop)
        # Done when the server's first SETTINGS arrived, or the connection ended before:
        # Channel._connect waits for it.
        self.ready: asyncio.Future[None] = self.loop.create_future()
        self.lost: Exception | None = None  # why the transport ended, if it said

    @property
    def usable(self) -> bool:
        return not self.closed and not self.draining and not self.h2.terminated

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.lost = exc
        if not self.ready.done():
            self.ready.set_result(None)
        target = self.channel._target.describe()
        reason = self.error or (
            f"connection to {target} lost: {exc}" if exc else f"connection to {target} closed"
        )
        for state in list(self.calls.values()):
            state.fail(StatusCode.UNAVAILABLE, reason)
        self.calls.clear()
        self.deadlines.close()
        self._wake_all()
        self.channel._connection_lost(self)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self._wake_writers()

    def _wake_writers(self) -> None:
        waiters, self._write_waiters = self._write_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _wake_all(self) -> None:
        self._wake_writers()
        self._wake_slot_waiters()

    def _wake_slot_waiters(self) -> None:
        while self._slot_waiters:
            waiter = self._slot_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    async def wait_for_slot(self) -> None:
        while self.usable and not self.h2.can_open_stream:
            waiter = self.loop.create_future()
            self._slot_waiters.append(waiter)
            await waiter

    async def wait_writable(self, stream_id: int) -> None:
        while (
            not self.closed
            and stream_id in self.calls
            and (self.paused or self.h2.outbound_queued(stream_id) > _SEND_BUFFER)
        ):
            waiter = self.loop.create_future()
            self._write_waiters.append(waiter)
            await waiter

    def forget(self, state: _CallState) -> None:
        if self.calls.get(state.stream_id) is state:
            del self.calls[state.stream_id]
            if self._write_waiters:
                # A write() waiting for window on the ended stream must wake to see it end.
                self._wake_writers()
            while self._slot_waiters:
                waiter = self._slot_waiters.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    break
            if self.draining and not self.calls and self.transport is not None:
                self.transport.close()

    def data_received(self, data: bytes) -> None:
        h2 = self.h2
        calls = self.calls
        for event in h2.receive_data(data, self.loop.time()):
            # Events are final classes: an exact type test, the common three first.
            if type(event) is DataReceived:
                state = calls.get(event.stream_id)
                if state is None:
                    acks = self.acks
                    sid = event.stream_id
                    acks[sid] = acks.get(sid, 0) + event.flow_controlled_length
                else:
                    state.on_data(event.data, event.flow_controlled_length)
                    if event.end_stream:
                        state.on_end(None)
            elif type(event) is HeadersReceived:
                state = calls.get(event.stream_id)
                if state is not None:
                    state.on_headers(event.headers, event.end_stream, event.key)
            elif type(event) is TrailersReceived:
                state = calls.get(event.stream_id)
                if state is not None:
                    state.on_end(event.headers, event.key)
            elif type(event) is StreamReset:
                state = calls.get(event.stream_id)
                if state is not None:
                    state.on_reset(event)
            elif type(event) is SendQueueDrained:
                self._wake_writers()
            elif type(event) is SettingsReceived:
                if not self.ready.done():
                    self.ready.set_result(None)
                # A larger SETTINGS_MAX_CONCURRENT_STREAMS frees slots: let waiters look.
                self._wake_slot_waiters()
            elif type(event) is GoAwayReceived:
                self.draining = True
                self.channel._connection_draining(self)
                if not calls and self.transport is not None:
                    self.transport.close()
            elif type(event) is ConnectionTerminated:
                if self.ready.done():
                    target = self.channel._target.describe()
                    self.error = f"HTTP/2 connection error with {target}: {event.reason}"
                else:
                    # Before the server's SETTINGS: what the core says of the server's
                    # first bytes (an HTTP/1 answer, TLS, ...); Channel._connect names
                    # the target.
                    self.error = event.reason
                self.acks.clear()
                self.flush()
                if self.transport is not None:
                    self.transport.close()
                return
        acks = self.acks
        if acks:
            # Streams whose call has ended are closed in the core too: their credit is
            # the connection's alone, handed back in one sum (stream 0: the connection).
            ended = 0
            for stream_id, nbytes in acks.items():
                if stream_id in calls:
                    h2.acknowledge_received_data(stream_id, nbytes)
                else:
                    ended += nbytes
            if ended:
                h2.acknowledge_received_data(0, ended)
            acks.clear()
        out = h2.data_to_send()
        if out and self.transport is not None:
            self.transport.write(out)


class _CallState:
    """The receiving side of one call: headers, messages, status."""

    __slots__ = (
        "codec",
        "connection",
        "deadline",
        "deframer",
        "done",
        "end_waiter",
        "headers_seen",
        "held",
        "initial_metadata",
        "max_receive",
        "messages",
        "more_waiters",
        "queued",
        "refused",
        "status",
        "stream_id",
        "waiter",
    )

    def __init__(self, connection: _ClientConnection, stream_id: int, max_receive: int) -> None:
        self.connection = connection
        self.stream_id = stream_id
        # Made at the first DATA that is not exactly one whole message (see on_data).
        self.deframer: MessageDeframer | None = None
        self.max_receive = max_receive
        self.codec: Codec | None = None
        self.messages: deque[tuple[bool, bytes]] = deque()
        self.queued = 0
        self.held = 0
        self.initial_metadata: Metadata | None = None
        self.headers_seen = False
        self.status: CallStatus | None = None
        self.refused = False
        self.done = False
        self.waiter: asyncio.Future[None] | None = None
        self.more_waiters: list[asyncio.Future[None]] | None = None
        self.end_waiter: asyncio.Future[None] | None = None  # woken only by the end
        self.deadline: float | None = None  # while queued in the connection's deadlines

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if self.more_waiters:
            for waiter in self.more_waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def on_headers(
        self,
        headers: list[tuple[bytes, bytes]],
        end_stream: bool,
        key: tuple[tuple[bytes, bytes], ...] | None = None,
    ) -> None:
        if end_stream:  # Trailers-Only
            self.headers_seen = True
            self.initial_metadata = Metadata()
            self._end(parse_trailers(headers, trailers_only=True))
            return
        # Servers send the same response headers call after call: parsed heads are cached
        # per connection by their block's key (their metadata is copied when handed out).
        known = self.connection.heads.get(id(key))
        if known is not None:
            head = known[1]
        else:
            try:
                head = parse_response_headers(headers)
            except ProtocolStatusError as exc:
                self.fail(exc.code, exc.message)
                return
            self.connection.heads.put(key, head)
        self.headers_seen = True
        self.initial_metadata = head.metadata
        if head.encoding is not None and head.encoding != "identity":
            self.codec = get_codec(head.encoding)
            if self.codec is None:
                self.fail(StatusCode.INTERNAL, f"unsupported response encoding {head.encoding}")
                return
        if self.waiter is not None or self.more_waiters:
            self._wake()

    def on_data(self, data: bytes, flow_length: int) -> None:
        connection = self.connection
        # Credit is handed to the core once per stream per data_received (see there).
        acks = connection.acks
        if self.done or not self.headers_seen:
            acks[self.stream_id] = acks.get(self.stream_id, 0) + flow_length
            if not self.done:
                self.fail(StatusCode.INTERNAL, "DATA before response headers")
            return
        deframer = self.deframer
        if deframer is None:
            # A unary response's DATA is almost always one whole message: take it as it
            # is. Anything else (a partial message, several, a bad prefix: the deframer
            # reports it) goes through a deframer from here on.
            message = whole_message(data, self.max_receive)
            if message is not None:
                self.messages.append(message)
                self.queued += len(data)
                if self.waiter is not None or self.more_waiters:
                    self._wake()
                if self.queued <= _RECEIVE_BUFFER:
                    acks[self.stream_id] = acks.get(self.stream_id, 0) + flow_length
                else:
                    self.held += flow_length
                return
            deframer = self.deframer = MessageDeframer(self.max_receive)
        try:
            messages = deframer.feed(data)
        except ProtocolStatusError as exc:
            acks[self.stream_id] = acks.get(self.stream_id, 0) + flow_length
            self.fail(exc.code, exc.message)
            return
        if messages:
            self.messages.extend(messages)
            queued = self.queued
            for _, payload in messages:
                queued += len(payload) + 5
            self.queued = queued
            if self.waiter is not None or self.more_waiters:
                self._wake()
        if self.queued <= _RECEIVE_BUFFER:
            acks[self.stream_id] = acks.get(self.stream_id, 0) + flow_length
        else:
            self.held += flow_length

    def consumed(self, nbytes: int) -> None:
        self.queued -= nbytes
        if self.held and self.queued <= _RECEIVE_BUFFER:
            held, self.held = self.held, 0
            with contextlib.suppress(LocalProtocolError):
                self.connection.h2.acknowledge_received_data(self.stream_id, held)
            self.connection.schedule_flush()

    def on_end(
        self,
        trailers: list[tuple[bytes, bytes]] | None,
        key: tuple[tuple[bytes, bytes], ...] | None = None,
    ) -> None:
        if self.done:
            return
        if trailers is None:
            self.fail(StatusCode.INTERNAL, "stream ended without trailers")
            return
        if self.deframer is not None:
            try:
                self.deframer.end_of_stream()
            except ProtocolStatusError as exc:
                self.fail(exc.code, exc.message)
                return
        # Trailers repeat too (grpc-status: 0 above all); statuses carrying rich details
        # are not cached, as their google.rpc.Status message is mutable.
        known_status = self.connection.statuses.get(id(key))
        if known_status is not None:
            status = known_status[1]
        else:
            status = parse_trailers(trailers)
            if status.status_details is None:
                self.connection.statuses.put(key, status)
        self._end(status)

    def on_reset(self, event: StreamReset) -> None:
        if self.done:
            return
        error_code = event.error_code
        # Refused before any response: the server never processed it (RFC 9113 §8.7).
        self.refused = error_code == ErrorCode.REFUSED_STREAM and not self.headers_seen
        code = status_from_http2_error(error_code)
        try:
            name = ErrorCode(error_code).name
        except ValueError:
            name = "an unknown error code"
        if event.remote:
            self.fail(code, f"stream reset by the server with {name} (HTTP/2 error {error_code})")
        else:
            # Our own core reset it: the server broke HTTP/2's rules on this stream.
            self.fail(code, f"invalid response from the server: {event.reason}")

    def fail(self, code: StatusCode, message: str) -> None:
        if self.done:
            return
        self._end(self.status or CallStatus(code, message, None, Metadata()))
        with contextlib.suppress(LocalProtocolError):
            self.connection.h2.reset_stream(self.stream_id, ErrorCode.CANCEL)
        self.connection.schedule_flush()

    def _end(self, status: CallStatus) -> None:
        self.status = status
        self.done = True
        if self.deadline is not None:
            self.connection.deadlines.ended(self)
        if self.held:
            # Credit what was held back from a reader that will never read it: the
            # connection window is shared, and enough such calls would stall it.
            held, self.held = self.held, 0
            with contextlib.suppress(LocalProtocolError):
                self.connection.h2.acknowledge_received_data(self.stream_id, held)
            self.connection.schedule_flush()
        if self.initial_metadata is None:
            self.initial_metadata = Metadata()
        if self.waiter is not None or self.more_waiters:
            self._wake()
        waiter = self.end_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        self.connection.forget(self)

    async def wait(self) -> None:
        """Wait for the next change (headers, a message, the end).

        Several coroutines may wait at once (``await call`` alongside
        ``call.initial_metadata()``): the first uses ``waiter``, any others
        ``more_waiters``, so the common single waiter costs no list.
        """
        waiter = self.connection.loop.create_future()
        if self.waiter is None:
            self.waiter = waiter
        elif self.more_waiters is None:
            self.more_waiters = [waiter]
        else:
            self.more_waiters.append(waiter)
        try:
            await waiter
        finally:
            if self.waiter is waiter:
                self.waiter = None
            elif self.more_waiters is not None and waiter in self.more_waiters:
                self.more_waiters.remove(waiter)

    def take_message(self) -> tuple[bool, bytes] | None:
        if not self.messages:
            return None
        compressed, payload = self.messages.popleft()
        self.consumed(len(payload) + 5)
        return compressed, payload


# ---------------------------------------------------------------------- calls


class Call(Generic[RequestT, ResponseT]):
    """What every call offers: metadata, status, cancellation."""

    # Defaults as class attributes: most calls never change them, and an attribute that
    # is never set costs nothing per call.
    _state: _CallState | None = None
    _cancelled = False
    _started: asyncio.Future[None] | None = None
    _start_error: RpcError | None = None
    _response_compressed = False

    def __init__(
        self,
        method: _Method[RequestT, ResponseT],
        timeout: float | None,
        metadata: MetadataLike,
        compression: str | None,
    ) -> None:
        channel = method._channel
        self._channel = channel
        self._path = method._path
        self._serializer = method._serializer
        self._deserializer = method._deserializer
        # Every metadata error is raised here, where the call is made: invalid names and
        # values (Metadata), and names reserved for HTTP/2 and gRPC.
        coerced = Metadata.coerce(metadata) if metadata is not None else None
        if coerced is not None:
            coerced.check_sendable()
        self._metadata = coerced
        if compression is None:
            compression = channel._compression
        if compression is None or compression == "identity":
            self._codec: Codec | None = None
        else:
            self._codec = get_codec(compression)
            if self._codec is None:
                raise ValueError(f"unknown compression {compression!r}")
        self._deadline = channel._loop.time() + timeout if timeout is not None else None

    # -- opening the stream

    # True while one coroutine opens the stream; others wait on ``_started``, made only
    # when there is such another (``await call`` racing ``write()``), not per call.
    _opening = False

    async def _start(self, end_stream: bool, first: bytes | None = None) -> _CallState:
        """Open the stream and send headers (and ``first``, a framed message)."""
        if self._state is not None:
            return self._state
        if self._start_error is not None:  # awaited again after a failed start
            raise self._start_error
        if self._opening:
            # Another coroutine of this call is opening the stream: opening a second one
            # would split the call in two.
            if self._started is None:
                self._started = self._channel._loop.create_future()
            await asyncio.shield(self._started)
            if self._state is None:
                raise self._start_error or RpcError(StatusCode.CANCELLED, "call not started")
            return self._state
        if self._cancelled:
            raise RpcError(StatusCode.CANCELLED, "call cancelled")
        self._opening = True
        try:
            connection = await self._channel._connection_for_call(self._deadline)
            if self._cancelled:  # cancel() while this call waited for its connection
                raise RpcError(StatusCode.CANCELLED, "call cancelled")
            return self._open(connection, end_stream, first)
        except RpcError as exc:
            self._start_error = exc
            raise
        finally:
            self._opening = False
            if self._started is not None and not self._started.done():
                self._started.set_result(None)

    def _open(
        self, connection: _ClientConnection, end_stream: bool, first: bytes | None
    ) -> _CallState:
        """Open the stream on ``connection`` (which has a free slot): headers, ``first``."""
        channel = self._channel
        timeout = None
        if self._deadline is not None:
            timeout = self._deadline - channel._loop.time()
            if timeout <= 0:
                raise RpcError(StatusCode.DEADLINE_EXCEEDED, "deadline exceeded")
        if self._metadata is None:
            # Without metadata a request's headers depend only on the method, the codec
            # and the timeout: built once, then the same tuple (HPACK encodes it from its
            # block cache), or with a per-call grpc-timeout put in after the pseudo-headers.
            codec = self._codec
            key = self._path if codec is None else (self._path, codec.name)
            shape = channel._request_headers.get(key)
            if shape is None:
                shape = channel._request_shape(self._path, codec)
                if len(channel._request_headers) < _PARSE_CACHE_SIZE * 4:
                    channel._request_headers[key] = shape
            if timeout is None:
                headers = shape[0]
            else:
                headers = (*shape[1], (b"grpc-timeout", encode_timeout(timeout)), *shape[2])
        else:
            try:
                headers = tuple(
                    build_request_headers(
                        self._path,
                        channel._authority,
                        scheme=channel._scheme,
                        timeout=timeout,
                        encoding=self._codec.name if self._codec is not None else None,
                        accept_encoding=_ACCEPT_ENCODING,
                        metadata=self._metadata,
                    )
                )
            except MetadataError as exc:
                raise RpcError(StatusCode.INTERNAL, f"invalid metadata: {exc}") from None
        h2 = connection.h2
        try:
            if first is None:
                stream_id = h2.get_next_stream_id()
                h2.send_headers(stream_id, headers, end_stream=end_stream)
            else:
                stream_id = h2.send_request(headers, first, end_stream=end_stream)
        except LocalProtocolError as exc:
            raise RpcError(
                StatusCode.UNAVAILABLE,
                f"could not start the call on the connection to"
                f" {channel._target.describe()}: {exc}",
            ) from None
        state = _CallState(connection, stream_id, channel._max_receive)
        connection.calls[stream_id] = state
        self._state = state
        if self._deadline is not None:
            connection.deadlines.add(state, self._deadline)
        connection.schedule_flush()
        return state

    # Transparent retry (gRFC A6): a call whose stream the server refused unprocessed is
    # sent again once, on whatever connection the channel has then. Only calls whose
    # request can be sent again (one request message) qualify.
    _replayable = False
    _retried = False

    def _retry_refused(self) -> bool:
        """Prepare a transparent retry if the last attempt was refused unprocessed."""
        state = self._state
        if (
            state is None
            or not state.refused
            or not self._replayable
            or self._retried
            or self._cancelled
        ):
            return False
        self._retried = True
        self._state = None
        return True

    def _encode(self, request: RequestT, compress: bool = True) -> bytes:
        payload = self._serializer(request)
        channel = self._channel
        if channel._max_send is not None and len(payload) > channel._max_send:
            raise RpcError(
                StatusCode.RESOURCE_EXHAUSTED,
                f"request message of {len(payload)} bytes exceeds the limit {channel._max_send}",
            )
        if self._codec is not None and compress:
            return encode_message(self._codec.compress(payload), compressed=True)
        return encode_message(payload)

    def _decode(self, compressed: bool, payload: bytes) -> ResponseT:
        state = self._state
        assert state is not None
        self._response_compressed = compressed
        if compressed:
            if state.codec is None:
                raise RpcError(StatusCode.INTERNAL, "compressed message without grpc-encoding")
            try:
                payload = state.codec.decompress(payload, state.max_receive)
            except ProtocolStatusError as exc:
                raise RpcError(exc.code, exc.message) from None
        try:
            return self._deserializer(payload)
        except Exception:
            raise RpcError(
                StatusCode.INTERNAL, "could not deserialize the response message"
            ) from None

    def _fail_locally(self, code: StatusCode, message: str) -> None:
        state = self._state
        if state is not None:
            state.fail(code, message)

    # -- what callers can ask

    def cancel(self) -> bool:
        """Cancel the call; False if it had already ended."""
        state = self._state
        if state is not None and state.done:
            return False
        self._cancelled = True
        if state is not None:
            state.fail(StatusCode.CANCELLED, "call cancelled by the client")
        return True

    def response_compressed(self) -> bool:
        """Whether the last response message received had its compressed flag set.

        False before any response was read. The client-side twin of
        [`ServicerContext.request_compressed()`][grpcx.aio.ServicerContext.request_compressed];
        compressed messages are decompressed transparently, this only tells how one arrived.
        """
        return self._response_compressed

    def cancelled(self) -> bool:
        """Whether the call was cancelled by this client."""
        return self._cancelled

    def done(self) -> bool:
        """Whether the call has ended."""
        return self._state is not None and self._state.done

    async def _wait_status(self) -> CallStatus:
        state = self._state
        if state is None:
            # code()/details()/trailing_metadata() before the call was awaited: start it
            # (as initial_metadata() does) rather than fail.
            with contextlib.suppress(RpcError):
                await self._ensure_started()
            state = self._state
        if state is None:
            error = self._start_error
            if error is None:
                raise RuntimeError("the call has not started")
            # A call that never reached the server still has a status.
            return CallStatus(
                error.code(), error.details(), error.status_details, error.trailing_metadata()
            )
        while not state.done:
            await state.wait()
        assert state.status is not None
        return state.status

    async def initial_metadata(self) -> Metadata:
        """The server's initial metadata (empty for a Trailers-Only response)."""
        state = self._state
        if state is None:
            await self._ensure_started()
            state = self._state
            if state is None:
                return Metadata()
        while state.initial_metadata is None and not state.done:
            await state.wait()
        # A copy: parsed heads are shared between calls (the parse cache).
        return state.initial_metadata.copy() if state.initial_metadata else Metadata()

    async def _ensure_started(self) -> None:
        """Overridden by calls that start lazily."""

    async def trailing_metadata(self) -> Metadata:
        """The server's trailing metadata, once the call ended."""
        return (await self._wait_status()).trailing_metadata.copy()

    async def code(self) -> StatusCode:
        """The call's status code, once it ended."""
        return (await self._wait_status()).code

    async def details(self) -> str:
        """The call's status message, once it ended."""
        return (await self._wait_status()).message

    def _raise_status(self, status: CallStatus) -> None:
        if status.code != StatusCode.OK:
            state = self._state
            initial = state.initial_metadata if state is not None else None
            error = RpcError(
                status.code,
                status.message,
                status.trailing_metadata.copy(),
                status.status_details,
                # A copy: parsed heads are shared between calls (the parse cache).
                initial_metadata=initial.copy() if initial else None,
            )
            try:
                raise error
            finally:
                # This frame is on the error's traceback: holding the error here too would
                # make a cycle that outlives the call until the cyclic collector runs.
                del error


class _ReadingCall(Call[RequestT, ResponseT]):
    """Reading a stream of responses."""

    async def read(self) -> ResponseT | Literal[_EOFType.EOF]:
        """The next response, or [`EOF`][grpcx.aio.EOF] after the last; raises RpcError on failure.

        ``if reply is grpcx.aio.EOF: break`` narrows ``reply`` to the response type.
        """
        await self._ensure_started()
        state = self._state
        assert state is not None
        while True:
            item = state.take_message()
            if item is not None:
                return self._decode(*item)
            if state.done:
                if self._retry_refused():
                    await self._ensure_started()
                    assert self._state is not None
                    state = self._state
                    continue
                assert state.status is not None
                self._raise_status(state.status)
                return EOF
            # About to wait for the server: what this call wrote goes out now, not an
            # iteration later (a bidi ping-pong's round trip).
            state.connection.flush_now()
            await state.wait()

    def __aiter__(self) -> _ReadingCall[RequestT, ResponseT]:
        return self

    async def __anext__(self) -> ResponseT:
        response = await self.read()
        if response is EOF:
            raise StopAsyncIteration
        return response


class _UnaryResponseCall(Call[RequestT, ResponseT]):
    # The decoded response, kept so the call can be awaited again (as in grpc.aio); class
    # attributes as defaults cost nothing per call.
    _has_response = False
    _response_value: Any = None

    async def _response(self) -> ResponseT:
        if self._has_response:
            return self._response_value  # type: ignore[no-any-return]
        state = self._state
        assert state is not None
        try:
            while not state.done:
                await state.wait()
        except asyncio.CancelledError:
            self.cancel()
            raise
        if self._has_response:  # decoded meanwhile by another await of this call
            return self._response_value  # type: ignore[no-any-return,unused-ignore]
        return self._result(state)

    def _result(self, state: _CallState) -> ResponseT:
        """The response of the ended call ``state``, or its error raised."""
        status = state.status
        assert status is not None
        if status.code != StatusCode.OK:
            self._raise_status(status)
        messages = state.messages
        if len(messages) != 1:
            raise RpcError(
                StatusCode.INTERNAL, f"expected one response message, got {len(messages)}"
            )
        compressed, payload = messages.popleft()
        if compressed:
            response = self._decode(compressed, payload)
        else:
            try:
                response = self._deserializer(payload)
            except Exception:
                raise RpcError(
                    StatusCode.INTERNAL, "could not deserialize the response message"
                ) from None
        self._response_value = response
        self._has_response = True
        return response


class _OneRequest(Call[RequestT, ResponseT]):
    """A call with one request message, given when it is made."""

    def __init__(
        self,
        request: RequestT,
        method: _Method[RequestT, ResponseT],
        timeout: float | None,
        metadata: MetadataLike,
        compression: str | None,
    ) -> None:
        super().__init__(method, timeout, metadata, compression)
        self._request = request


class UnaryUnaryCall(_OneRequest[RequestT, ResponseT], _UnaryResponseCall[RequestT, ResponseT]):
    """One request, one response: ``await call`` gives the response."""

    _replayable = True

    async def _run(self) -> ResponseT:
        if self._state is None:  # not when awaited again
            await self._start(True, self._encode(self._request))
        try:
            return await self._response()
        except RpcError:
            if not self._retry_refused():
                raise
        await self._start(True, self._encode(self._request))
        return await self._response()

    async def _ensure_started(self) -> None:
        # initial_metadata() before or while the call is awaited: start it from here. No
        # Task: a start already in progress is joined (Call._start), and the response
        # arrives whether or not anyone awaits the call. (A Task here, racing an
        # ``await call`` begun elsewhere, used to open a second stream for the call.)
        if self._state is None:
            with contextlib.suppress(RpcError):
                await self._start(True, self._encode(self._request))

    def __await__(self) -> Generator[Any, None, ResponseT]:
        # The common case without a coroutine: the channel's connection has a free slot, so
        # the call opens at once and waits on one future for its end.
        if (
            self._state is None
            and not self._opening
            and self._start_error is None
            and not self._cancelled
        ):
            connection = self._channel._connection
            if (
                connection is not None
                and not connection.closed
                and not connection.draining
                and connection.h2.can_open_stream  # (which also means not terminated)
            ):
                first = self._encode(self._request)
                try:
                    state = self._open(connection, True, first)
                except RpcError as exc:
                    self._start_error = exc
                    raise
                if not state.done:
                    waiter = connection.loop.create_future()
                    state.end_waiter = waiter
                    try:
                        yield from waiter
                    except asyncio.CancelledError:
                        self.cancel()
                        raise
                    finally:
                        state.end_waiter = None
                    if self._has_response:  # decoded meanwhile by another await of it
                        return self._response_value  # type: ignore[no-any-return]
                try:
                    return self._result(state)
                except RpcError:
                    if not self._retry_refused():
                        raise
        return (yield from self._run().__await__())


class UnaryStreamCall(_OneRequest[RequestT, ResponseT], _ReadingCall[RequestT, ResponseT]):
    """One request, a stream of responses: ``async for response in call``."""

    _replayable = True

    async def _ensure_started(self) -> None:
        if self._state is None and self._start_error is None:
            try:
                await self._start(True, self._encode(self._request))
            except RpcError as exc:
                self._start_error = exc
                raise


class _WritingMixin(Call[RequestT, ResponseT]):
    """A call whose requests are written: from an iterable given when it is made (sent by
    a Task of its own), or by hand."""

    _done_writing: bool = False

    def __init__(
        self,
        requests: Any,
        method: _Method[RequestT, ResponseT],
        timeout: float | None,
        metadata: MetadataLike,
        compression: str | None,
    ) -> None:
        super().__init__(method, timeout, metadata, compression)
        self._requests = requests
        self._sender: asyncio.Task[None] | None = None

    async def write(self, request: RequestT, *, compress: bool = True) -> None:
        """Send one request message; waits while flow control holds data back.

        Once the call has ended, raises its [`RpcError`][grpcx.RpcError] if it failed, and
        ``asyncio.InvalidStateError`` if the server completed it with OK (as grpcio does).
        """
        if self._done_writing:
            raise RuntimeError("write() after done_writing()")
        state = await self._start(False)
        if state.done:
            status = state.status
            assert status is not None
            self._raise_status(status)  # a call that failed: its own error
            # The server ended the call with OK before reading this request: nothing to
            # send, and no status to invent (code() gives the server's).
            raise asyncio.InvalidStateError(
                f"write() after the call finished: the server ended it with status"
                f" {status.code.name}" + (f" ({status.message})" if status.message else "")
            )
        connection = state.connection
        try:
            connection.h2.send_data(state.stream_id, self._encode(request, compress))
        except LocalProtocolError:
            raise RpcError(StatusCode.UNAVAILABLE, "the stream is closed") from None
        connection.schedule_flush()
        await connection.wait_writable(state.stream_id)

    async def done_writing(self) -> None:
        """Half-close: no more requests.

        The request ends with an empty DATA frame carrying END_STREAM, also when no
        message was written: the headers never end a streaming request. grpc-go 1.33's
        server never answers a client- or bidi-streaming request ended on its HEADERS
        frame (grpcio ends it the same way).
        """
        if self._done_writing:
            return
        self._done_writing = True
        state = await self._start(False)
        if not state.done and state.stream_id:
            with contextlib.suppress(LocalProtocolError):
                if state.connection.h2.stream_state(state.stream_id).name not in (
                    "HALF_CLOSED_LOCAL",
                    "CLOSED",
                ):
                    state.connection.h2.send_data(state.stream_id, b"", end_stream=True)
            state.connection.schedule_flush()

    async def _send_all(self, requests: AsyncIterable[RequestT] | Iterable[RequestT]) -> None:
        try:
            if isinstance(requests, AsyncIterable):
                async for request in requests:
                    await self.write(request)
            else:
                for request in requests:
                    await self.write(request)
            await self.done_writing()
        except (RpcError, asyncio.InvalidStateError):
            pass  # the call ended: its status is what the reader reports
        except Exception as exc:
            self._fail_locally(StatusCode.CANCELLED, f"request iterator raised {exc!r}")


class StreamUnaryCall(_WritingMixin[RequestT, ResponseT], _UnaryResponseCall[RequestT, ResponseT]):
    """A stream of requests, one response: ``write()``/``done_writing()``, then await."""

    async def _ensure_started(self) -> None:
        await self._start(False)
        if self._requests is not None and self._sender is None:
            self._sender = asyncio.ensure_future(self._send_all(self._requests))

    async def _run(self) -> ResponseT:
        await self._ensure_started()
        try:
            return await self._response()
        finally:
            if self._sender is not None and not self._sender.done():
                self._sender.cancel()

    def __await__(self) -> Generator[Any, None, ResponseT]:
        return self._run().__await__()


class StreamStreamCall(_WritingMixin[RequestT, ResponseT], _ReadingCall[RequestT, ResponseT]):
    """Streams both ways: ``write()``, ``done_writing()``, ``read()`` / ``async for``."""

    async def _ensure_started(self) -> None:
        if self._state is None and self._start_error is None:
            try:
                await self._start(False)
            except RpcError as exc:
                self._start_error = exc
                raise
        if self._requests is not None and self._sender is None:
            self._sender = asyncio.ensure_future(self._send_all(self._requests))


# ---------------------------------------------------------------------- methods


class _Method(Generic[RequestT, ResponseT]):
    def __init__(
        self,
        channel: Channel,
        path: str,
        request_serializer: Callable[[RequestT], bytes],
        response_deserializer: Callable[[bytes], ResponseT],
    ) -> None:
        self._channel = channel
        self._path = path.encode("ascii")
        self._serializer = request_serializer
        self._deserializer = response_deserializer


class UnaryUnaryMethod(_Method[RequestT, ResponseT]):
    """Calls a unary method: ``await method(request, timeout=..., metadata=...)``."""

    def __call__(
        self,
        request: RequestT,
        *,
        timeout: float | None = None,
        metadata: MetadataLike = None,
        compression: str | None = None,
    ) -> UnaryUnaryCall[RequestT, ResponseT]:
        return UnaryUnaryCall(request, self, timeout, metadata, compression)


class UnaryStreamMethod(_Method[RequestT, ResponseT]):
    """Calls a server-streaming method: ``async for r in method(request)``."""

    def __call__(
        self,
        request: RequestT,
        *,
        timeout: float | None = None,
        metadata: MetadataLike = None,
        compression: str | None = None,
    ) -> UnaryStreamCall[RequestT, ResponseT]:
        return UnaryStreamCall(request, self, timeout, metadata, compression)


class StreamUnaryMethod(_Method[RequestT, ResponseT]):
    """Calls a client-streaming method with an (async) iterable, or write() by hand."""

    def __call__(
        self,
        request_iterator: AsyncIterable[RequestT] | Iterable[RequestT] | None = None,
        *,
        timeout: float | None = None,
        metadata: MetadataLike = None,
        compression: str | None = None,
    ) -> StreamUnaryCall[RequestT, ResponseT]:
        return StreamUnaryCall(request_iterator, self, timeout, metadata, compression)


class StreamStreamMethod(_Method[RequestT, ResponseT]):
    """Calls a bidirectional-streaming method."""

    def __call__(
        self,
        request_iterator: AsyncIterable[RequestT] | Iterable[RequestT] | None = None,
        *,
        timeout: float | None = None,
        metadata: MetadataLike = None,
        compression: str | None = None,
    ) -> StreamStreamCall[RequestT, ResponseT]:
        return StreamStreamCall(request_iterator, self, timeout, metadata, compression)


def _identity(data: bytes) -> bytes:
    return data


# ---------------------------------------------------------------------- the channel


class _Attempt:
    """What a connection attempt is waiting for, and its transport once it has one."""

    __slots__ = ("stage", "transport")

    def __init__(self) -> None:
        self.stage = "the connection"
        self.transport: asyncio.BaseTransport | None = None


class Channel:
    """A client channel to one target.

    ``target`` follows gRPC's naming grammar (``grpcx.protocol.target``):
    ``host:port``, ``dns:///host:port``, ``ipv4:1.2.3.4:50051``, ``ipv6:[::1]:50051``,
    ``unix:path``, ``unix:///absolute/path``, ``unix-abstract:name``; a bad target raises
    ``ValueError`` here. ``ssl`` is an ``ssl.SSLContext`` (ALPN ``h2`` is set on it),
    True for the system defaults, or None for plaintext; ``server_hostname`` overrides
    the name used for TLS verification, SNI and ``:authority`` (for tests against a
    certificate of another name). ``compression`` is the default for requests.

    ``connect_timeout`` (seconds, 20 by default as in grpcio) bounds each connection
    attempt, from the start of the TCP connect through the TLS handshake until the
    server's HTTP/2 SETTINGS arrive: a peer that accepts TCP and never speaks HTTP/2
    fails the waiting calls with UNAVAILABLE instead of hanging them. After failed
    attempts it grows with the reconnect backoff (doc/connection-backoff.md). A call's
    own deadline still applies while it waits (DEADLINE_EXCEEDED).
    """

    def __init__(
        self,
        target: str,
        *,
        ssl: _ssl.SSLContext | bool | None = None,
        server_hostname: str | None = None,
        compression: str | None = None,
        max_receive_message_length: int = DEFAULT_MAX_MESSAGE_SIZE,
        max_send_message_length: int | None = None,
        h2_config: H2Config | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    ) -> None:
        self._target: Target = parse_target(target)
        if not connect_timeout > 0 or connect_timeout == math.inf:
            raise ValueError(
                f"connect_timeout must be a positive number of seconds, not {connect_timeout!r}"
            )
        self._connect_timeout = float(connect_timeout)
        if ssl is True:
            ssl = _ssl.create_default_context()
        if isinstance(ssl, _ssl.SSLContext):
            ssl.set_alpn_protocols(["h2"])
            self._ssl: _ssl.SSLContext | None = ssl
        else:
            self._ssl = None
        self._server_hostname = server_hostname
        self._scheme = b"https" if self._ssl is not None else b"http"
        authority = server_hostname if server_hostname is not None else self._target.http_authority
        self._authority = authority.encode("idna" if authority.isascii() else "utf-8")
        if compression is not None and get_codec(compression) is None:
            raise ValueError(f"unknown compression {compression!r}")
        self._compression = compression
        self._max_receive = max_receive_message_length
        self._max_send = max_send_message_length
        self._h2_config = h2_config or H2Config()
        self._loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self._connection: _ClientConnection | None = None
        self._connecting: asyncio.Future[_ClientConnection] | None = None
        self._draining: set[_ClientConnection] = set()
        # Request headers of calls without metadata, by path (and codec name): see
        # _request_shape.
        self._request_headers: dict[bytes | tuple[bytes, str], _RequestShape] = {}
        self._backoff = _BACKOFF_INITIAL
        self._next_attempt = 0.0
        self._closed = False
        with contextlib.suppress(RuntimeError):
            self._loop = asyncio.get_running_loop()

    def _request_shape(self, path: bytes, codec: Codec | None) -> _RequestShape:
        """The request headers of calls to ``path`` without metadata: the whole tuple,
        and the two parts a per-call ``grpc-timeout`` goes between (after the
        pseudo-headers, as ``build_request_headers`` puts it)."""
        headers = tuple(
            build_request_headers(
                path,
                self._authority,
                scheme=self._scheme,
                encoding=codec.name if codec is not None else None,
                accept_encoding=_ACCEPT_ENCODING,
            )
        )
        split = sum(1 for name, _ in headers if name[:1] == b":")
        return headers, headers[:split], headers[split:]

    # -- connections

    async def _connection_for_call(self, deadline: float | None) -> _ClientConnection:
        """A usable connection with a free stream slot, waiting at most until ``deadline``.

        A loop: calls that waited together for a new connection, or for a slot, must
        check again for a slot when they wake (otherwise they all open streams past the
        peer's SETTINGS_MAX_CONCURRENT_STREAMS and fail).
        """
        while True:
            connection = self._connection
            if connection is not None and connection.usable:
                if connection.h2.can_open_stream:
                    return connection
                await self._until(connection.wait_for_slot(), deadline)
                continue
            if self._closed:
                raise RpcError(StatusCode.CANCELLED, "the channel is closed")
            if self._connecting is None or self._connecting.done():
                self._connecting = asyncio.ensure_future(self._connect())
            try:
                connection = await self._until(asyncio.shield(self._connecting), deadline)
            except OSError as exc:
                raise RpcError(
                    StatusCode.UNAVAILABLE,
                    f"failed to connect to {self._target.describe()}: {exc}",
                ) from None
            if not connection.usable:
                # Closed as soon as it was made: fail rather than reconnect at once in a
                # loop without backoff.
                raise RpcError(
                    StatusCode.UNAVAILABLE,
                    connection.error or f"connection to {self._target.describe()} closed",
                )

    async def _until(self, awaitable: Awaitable[_T], deadline: float | None) -> _T:
        if deadline is None:
            return await awaitable
        try:
            return await asyncio.wait_for(awaitable, max(deadline - self._loop.time(), 0))
        except asyncio.TimeoutError:
            raise RpcError(
                StatusCode.DEADLINE_EXCEEDED,
                f"deadline exceeded while connecting to {self._target.describe()}",
            ) from None

    async def _connect(self) -> _ClientConnection:
        """One connection attempt, after the backoff of the last failed one.

        Raises OSError, its message naming what failed (the channel adds the target).
        """
        loop = self._loop
        # doc/connection-backoff.md: wait out the backoff after a failed attempt.
        delay = self._next_attempt - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        # The first attempt takes connect_timeout; later ones at least the backoff, as
        # connection-backoff.md's MIN_CONNECT_TIMEOUT does.
        timeout = self._connect_timeout
        if self._backoff > _BACKOFF_INITIAL:
            timeout = max(timeout, self._backoff)
        # The backoff deadline counts from the start of the attempt, not its failure
        # (doc/connection-backoff.md): after a 20 s connect timeout the next attempt may
        # start at once, and a refused connection waits the backoff from the first try.
        started = loop.time()
        attempt = _Attempt()
        try:
            protocol = await asyncio.wait_for(self._attempt(attempt, timeout), timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            if attempt.transport is not None:
                attempt.transport.close()
            jitter = 1 + random.uniform(-_BACKOFF_JITTER, _BACKOFF_JITTER)
            self._next_attempt = started + self._backoff * jitter
            self._backoff = min(self._backoff * _BACKOFF_MULTIPLIER, _BACKOFF_MAX)
            if isinstance(exc, asyncio.TimeoutError):
                raise OSError(
                    f"timed out after {timeout:g} s waiting for {attempt.stage}"
                ) from None
            raise
        self._backoff = _BACKOFF_INITIAL
        self._next_attempt = 0.0
        if self._closed:
            # close() ran while we connected: nobody would ever close this connection.
            if protocol.transport is not None:
                protocol.transport.close()
            raise RpcError(StatusCode.CANCELLED, "the channel is closed")
        self._connection = protocol
        return protocol

    async def _attempt(self, attempt: _Attempt, timeout: float) -> _ClientConnection:
        """Connect (TCP or Unix socket, then TLS) and wait for the server's SETTINGS,
        keeping in ``attempt`` what it waits for and the transport to close if it fails."""
        loop = self._loop
        target = self._target
        tls = self._ssl
        factory: Callable[[], asyncio.BaseProtocol] = (
            (lambda: _ClientConnection(self)) if tls is None else asyncio.Protocol
        )
        if target.unix_path is not None:
            attempt.stage = "the Unix socket connect"
            transport, protocol = await loop.create_unix_connection(factory, target.unix_path)
        else:
            attempt.stage = "the TCP connect"
            errors: list[OSError] = []
            for host, port in target.addresses:  # in order, the first that connects
                try:
                    transport, protocol = await loop.create_connection(factory, host, port)
                    break
                except OSError as exc:
                    errors.append(exc)
            else:
                if len(errors) == 1:
                    raise errors[0]
                raise OSError("; ".join(str(error) for error in errors))
        attempt.transport = transport
        if tls is not None:
            attempt.stage = "the TLS handshake (is the server plaintext?)"
            protocol = _ClientConnection(self)
            try:
                tls_transport = await loop.start_tls(
                    transport,
                    protocol,
                    tls,
                    # asyncio insists on a name with ssl; a Unix socket has none.
                    server_hostname=self._server_hostname or target.host,
                    # Ours bounds the whole attempt; asyncio's own (60 s) must not cut it.
                    ssl_handshake_timeout=timeout,
                )
            except (_ssl.SSLError, ConnectionError) as exc:
                raise OSError(
                    f"TLS handshake failed ({exc}): is the server plaintext, or its"
                    " certificate not one this channel trusts?"
                ) from None
            assert tls_transport is not None
            attempt.transport = tls_transport
            protocol.connection_made(tls_transport)
            ssl_object = tls_transport.get_extra_info("ssl_object")
            if ssl_object is not None and ssl_object.selected_alpn_protocol() != "h2":
                raise OSError("the server did not negotiate HTTP/2 (ALPN h2)")
        assert isinstance(protocol, _ClientConnection)
        attempt.stage = (
            "the server's HTTP/2 SETTINGS (is it a gRPC server? TLS/plaintext mismatch?)"
        )
        await protocol.ready
        if protocol.closed or protocol.h2.terminated:
            if protocol.error:
                raise OSError(protocol.error)
            if protocol.lost is not None:
                raise OSError(
                    f"the connection was lost before the server's HTTP/2 SETTINGS: {protocol.lost}"
                )
            raise OSError(
                "the server closed the connection before its HTTP/2 SETTINGS"
                " (is it a gRPC server? TLS/plaintext mismatch?)"
            )
        return protocol

    def _connection_lost(self, connection: _ClientConnection) -> None:
        self._draining.discard(connection)
        if self._connection is connection:
            self._connection = None

    def _connection_draining(self, connection: _ClientConnection) -> None:
        if self._connection is connection:
            self._connection = None
            self._draining.add(connection)

    # -- methods

    def unary_unary(
        self,
        path: str,
        request_serializer: Callable[[Any], bytes] = _identity,
        response_deserializer: Callable[[bytes], Any] = _identity,
    ) -> UnaryUnaryMethod[Any, Any]:
        """A unary method at ``path`` (``/package.Service/Method``)."""
        self._bind_loop()
        return UnaryUnaryMethod(self, path, request_serializer, response_deserializer)

    def unary_stream(
        self,
        path: str,
        request_serializer: Callable[[Any], bytes] = _identity,
        response_deserializer: Callable[[bytes], Any] = _identity,
    ) -> UnaryStreamMethod[Any, Any]:
        """A server-streaming method at ``path``."""
        self._bind_loop()
        return UnaryStreamMethod(self, path, request_serializer, response_deserializer)

    def stream_unary(
        self,
        path: str,
        request_serializer: Callable[[Any], bytes] = _identity,
        response_deserializer: Callable[[bytes], Any] = _identity,
    ) -> StreamUnaryMethod[Any, Any]:
        """A client-streaming method at ``path``."""
        self._bind_loop()
        return StreamUnaryMethod(self, path, request_serializer, response_deserializer)

    def stream_stream(
        self,
        path: str,
        request_serializer: Callable[[Any], bytes] = _identity,
        response_deserializer: Callable[[bytes], Any] = _identity,
    ) -> StreamStreamMethod[Any, Any]:
        """A bidirectional-streaming method at ``path``."""
        self._bind_loop()
        return StreamStreamMethod(self, path, request_serializer, response_deserializer)

    def _bind_loop(self) -> None:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()

    async def close(self) -> None:
        """Close the channel: calls in flight fail with CANCELLED/UNAVAILABLE."""
        self._closed = True
        for connection in [self._connection, *self._draining]:
            if connection is None:
                continue
            for state in list(connection.calls.values()):
                state.fail(StatusCode.CANCELLED, "the channel was closed")
            with contextlib.suppress(LocalProtocolError):
                connection.h2.send_goaway(ErrorCode.NO_ERROR)
            connection.flush()
            if connection.transport is not None:
                connection.transport.close()
        self._connection = None
        self._draining.clear()

    async def __aenter__(self) -> Channel:
        self._bind_loop()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
