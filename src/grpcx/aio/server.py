"""The gRPC server on asyncio.

One :class:`_ServerConnection` (an ``asyncio.Protocol``) per HTTP/2 connection feeds
received bytes straight into the sans-IO core and turns its events into calls. The gRPC
rules (headers, framing, status, compression) come from :mod:`grpcx.protocol`; this
module only does I/O and concurrency:

* everything a ``data_received`` produces leaves in one ``transport.write``; calls that
  finish later schedule one flush per loop iteration;
* a unary handler's first step runs inline (:mod:`grpcx.aio._eager`), so a handler that
  never suspends costs no Task;
* deadlines are timers on the loop, armed only for calls that outlive their first step;
* streamed requests are acknowledged to HTTP/2 flow control as the handler consumes
  them, so a slow handler holds back a fast client.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import inspect
import logging
import os
import signal
import socket
import ssl as _ssl
import stat
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any, NoReturn

from google.rpc.status_pb2 import Status

from grpcx.aio._eager import EagerStarter
from grpcx.aio._protocol import H2Protocol
from grpcx.http2.connection import H2Connection, LocalProtocolError
from grpcx.http2.errors import ErrorCode
from grpcx.http2.events import (
    ConnectionTerminated,
    DataReceived,
    HeadersReceived,
    KeyedCache,
    PingAcked,
    SendQueueDrained,
    StreamReset,
    TrailersReceived,
)
from grpcx.http2.settings import H2Config
from grpcx.metadata import Metadata, MetadataError
from grpcx.protocol.compression import (
    Codec,
    accept_encoding_header,
    get_codec,
    unsupported_encoding_error,
)
from grpcx.protocol.errors import ProtocolStatusError
from grpcx.protocol.headers import (
    RequestHead,
    RequestHeadersError,
    build_response_headers,
    build_trailers,
    build_trailers_only,
    parse_request_headers,
)
from grpcx.protocol.messages import (
    DEFAULT_MAX_MESSAGE_SIZE,
    MESSAGE_PREFIX,
    MessageDeframer,
    encode_message,
)
from grpcx.protocol.timeout import decode_timeout
from grpcx.service import Cardinality, MethodHandler, ServiceDefinition, SupportsServiceDefinition
from grpcx.status import StatusCode, encode_status_details

__all__ = ["Server", "ServicerContext"]

_log = logging.getLogger("grpcx.server")

_ACCEPT_ENCODING = accept_encoding_header()
# The constant header lists are tuples: HPACK's block cache hashes them as they are.
_RESPONSE_HEADERS: Sequence[tuple[bytes, bytes]] = tuple(
    build_response_headers(accept_encoding=_ACCEPT_ENCODING)
)
# A message's 5-byte prefix (flag, length), packed and read inline on the unary fast path;
# longer messages than the length can say take the general path and its error.
_pack_prefix = MESSAGE_PREFIX.pack
_unpack_prefix = MESSAGE_PREFIX.unpack_from
_MAX_PREFIXED = 0xFFFF_FFFF
# Messages up to this size are sent joined to their prefix; larger ones are not copied.
_JOIN_LIMIT = 64 * 1024
_TRAILERS_OK: Sequence[tuple[bytes, bytes]] = tuple(build_trailers(StatusCode.OK))
# Streamed requests: how many received bytes may wait for the handler before we stop
# acknowledging them to flow control (the client then stops sending).
_REQUEST_BUFFER = 256 << 10
# Graceful shutdown (see _ServerConnection.start_shutdown): the first GOAWAY's stream id,
# the PING that follows it, and how long to wait for its answer.
_MAX_STREAM_ID = 2**31 - 1
_SHUTDOWN_PING = b"grpcxbye"
_SHUTDOWN_PING_TIMEOUT = 1.0
# Parsed request heads kept per connection (see _ServerConnection._on_request).
_HEAD_CACHE_SIZE = 64
# Streamed responses: the handler waits once this much is queued behind flow control.
_RESPONSE_BUFFER = 256 << 10
# While the whole server holds too much unsent, connections holding no more than this (a
# connection's ordinary output in flight) still start new calls (see check_unsent).
_UNSENT_IN_FLIGHT = 64 << 10


def _must_wait(held: bool, queued: int) -> bool:
    """Whether a streaming handler waits in its send, given whether its connection holds
    new calls back and what its stream has queued behind flow control: past its buffer,
    or anything at all on a held connection (streams the peer reads go on)."""
    return queued > _RESPONSE_BUFFER or (held and queued > 0)


class _Abort(Exception):
    """Raised by :meth:`ServicerContext.abort` to end the call with a status."""

    def __init__(
        self,
        code: StatusCode,
        details: str,
        status_details: Status | None,
        trailing_metadata: Metadata | None,
    ) -> None:
        super().__init__(code, details)
        self.code = code
        self.details = details
        self.status_details = status_details
        self.trailing_metadata = trailing_metadata


class ServicerContext:
    """What a handler knows about its call, and how it shapes the response."""

    # The call's state lives on the call; the context only points at it. The call never
    # points back: a cycle between the two would outlive every call until the cyclic
    # garbage collector found it (measured: a tenth of a busy server's time in gc).
    __slots__ = ("_call",)

    def __init__(self, call: _ServerCall) -> None:
        self._call = call

    @property
    def method(self) -> str:
        """The called method's path, ``/package.Service/Method``."""
        return self._call.head.path

    def invocation_metadata(self) -> Metadata:
        """The request's custom metadata (a copy: changing it changes nothing else)."""
        # Heads are shared between calls with the same header block (the head cache).
        return self._call.head.metadata.copy()

    def peer(self) -> str:
        """The client's address: ``ipv4:host:port``, ``ipv6:[host]:port`` or ``unix:path``."""
        return self._call.connection.peer

    def peer_certificate(self) -> dict[str, Any] | None:
        """The client's TLS certificate (mutual TLS), as ``ssl.getpeercert()`` gives it."""
        return self._call.connection.peer_certificate()

    def time_remaining(self) -> float | None:
        """Seconds left before the deadline, or None without one."""
        deadline = self._call.deadline
        if deadline is None:
            return None
        return max(0.0, deadline - self._call.connection.loop.time())

    def cancelled(self) -> bool:
        """Whether the call was cancelled: by the client, its deadline or the server."""
        return self._call.cancelled

    def done(self) -> bool:
        """Whether the call has ended (its status is sent, or it was cancelled)."""
        return self._call.finished

    def abort(
        self,
        code: StatusCode,
        details: str = "",
        *,
        status_details: Status | None = None,
        trailing_metadata: Metadata | Iterable[tuple[str, str | bytes]] | None = None,
    ) -> NoReturn:
        """End the call now with ``code`` and ``details`` (raises; ``await`` is optional).

        ``status_details`` is a ``google.rpc.Status`` sent as ``grpc-status-details-bin``;
        its code must equal ``code``.
        """
        if code == StatusCode.OK:
            raise ValueError("abort() needs a non-OK status code")
        if status_details is not None and status_details.code != code:
            raise ValueError("status_details.code must equal the aborting code")
        metadata = Metadata.coerce(trailing_metadata)
        raise _Abort(code, details, status_details, metadata)

    def send_initial_metadata(self, metadata: Metadata | Iterable[tuple[str, str | bytes]]) -> None:
        """Send the response headers now, with this initial metadata."""
        call = self._call
        if call.headers_sent:
            raise RuntimeError("initial metadata has already been sent")
        call.send_headers(Metadata.coerce(metadata))
        call.connection.schedule_flush()

    def set_trailing_metadata(self, metadata: Metadata | Iterable[tuple[str, str | bytes]]) -> None:
        """Metadata to send in the trailers."""
        self._call.trailing_metadata = Metadata.coerce(metadata)

    def set_code(self, code: StatusCode) -> None:
        """The status to end with when the handler returns normally."""
        self._call.code = code

    def set_details(self, details: str) -> None:
        """The status message to end with when the handler returns normally."""
        self._call.details = details

    def set_compression(self, name: str | None) -> None:
        """Compress this call's responses with ``name`` (``gzip``, ``deflate``) or not."""
        if name is not None and get_codec(name) is None:
            raise ValueError(f"unknown compression {name!r}")
        self._call.compression = name

    def disable_next_message_compression(self) -> None:
        """Send the next response message uncompressed."""
        self._call.compress_next = False

    def request_compressed(self) -> bool:
        """Whether the last request message received had its compressed flag set."""
        return self._call.last_request_compressed


class _RequestStream:
    """The async iterator of request messages a streaming handler reads."""

    __slots__ = ("_call",)

    def __init__(self, call: _ServerCall) -> None:
        self._call = call

    def __aiter__(self) -> _RequestStream:
        return self

    async def __anext__(self) -> Any:
        call = self._call
        messages = call.messages
        while not messages:
            if call.request_ended or call.finished:
                raise StopAsyncIteration
            call.reader_waiter = call.connection.loop.create_future()
            try:
                await call.reader_waiter
            finally:
                call.reader_waiter = None
        compressed, payload = messages.popleft()
        # The flow-control release and decode_request() inlined for the common case: this
        # runs once per request message of every streaming call (the call measured 5% of
        # client streaming through the server path).
        queued = call.queued_bytes = call.queued_bytes - len(payload) - 5
        if call.held_bytes and queued <= _REQUEST_BUFFER:
            held, call.held_bytes = call.held_bytes, 0
            call.connection.acknowledge(call.stream_id, held)
        if compressed:
            return call.decode_request(compressed, payload)
        call.last_request_compressed = False
        try:
            return call.method.request_deserializer(payload)
        except Exception:
            raise ProtocolStatusError(
                StatusCode.INTERNAL, "could not deserialize the request message"
            ) from None


class _ServerCall:
    """One call's state on the server: the driver's bookkeeping around the core."""

    __slots__ = (
        "cancelled",
        "code",
        "compress_next",
        "compression",
        "connection",
        "deadline",
        "deframer",
        "details",
        "finished",
        "head",
        "headers_sent",
        "held_bytes",
        "last_request_compressed",
        "messages",
        "method",
        "queued_bytes",
        "reader_waiter",
        "request_codec",
        "request_ended",
        "request_streaming",
        "response_codec",
        "stream_id",
        "task",
        "timer",
        "trailing_metadata",
        "waiting",
        "writer_waiter",
    )

    def __init__(
        self,
        connection: _ServerConnection,
        stream_id: int,
        head: RequestHead,
        method: MethodHandler,
        request_codec: Codec | None,
        timeout: float | None,
    ) -> None:
        self.connection = connection
        self.stream_id = stream_id
        self.head = head
        self.method = method
        self.request_streaming = method.cardinality.request_streaming
        self.request_codec = request_codec
        self.response_codec: Codec | None = None
        # Made on first use: most unary requests arrive as one DATA frame holding exactly
        # one message, which _on_data takes without one.
        self.deframer: MessageDeframer | None = None
        self.messages: deque[tuple[bool, bytes]] = deque()
        self.queued_bytes = 0
        self.held_bytes = 0
        self.request_ended = False
        self.headers_sent = False
        self.finished = False
        self.cancelled = False
        self.last_request_compressed = False
        # Held back, not started, while its connection holds too much unsent (see
        # _ServerConnection.check_unsent); its request bytes are not acknowledged meanwhile.
        self.waiting = False
        self.task: asyncio.Task[Any] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.reader_waiter: asyncio.Future[None] | None = None
        self.writer_waiter: asyncio.Future[None] | None = None
        self.deadline = connection.loop.time() + timeout if timeout is not None else None
        # What the handler sets through its ServicerContext:
        self.code: StatusCode | None = None
        self.details = ""
        self.trailing_metadata: Metadata | None = None
        self.compression: str | None = connection.server._compression
        self.compress_next = True

    # ------------------------------------------------------------------ requests

    def decode_request(self, compressed: bool, payload: bytes) -> Any:
        self.last_request_compressed = compressed
        if compressed:
            codec = self.request_codec
            if codec is None:
                raise ProtocolStatusError(
                    StatusCode.INTERNAL, "compressed message without grpc-encoding"
                )
            payload = codec.decompress(payload, self.connection.server._max_receive)
        try:
            return self.method.request_deserializer(payload)
        except Exception:
            raise ProtocolStatusError(
                StatusCode.INTERNAL, "could not deserialize the request message"
            ) from None

    def wake_reader(self) -> None:
        waiter = self.reader_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ------------------------------------------------------------------ responses

    def send_headers(self, metadata: Metadata | None = None) -> None:
        self.headers_sent = True
        # The headers name the response encoding, so it is chosen now, however they go out.
        self.choose_response_codec()
        codec = self.response_codec
        if metadata is None and codec is None:
            headers = _RESPONSE_HEADERS
        else:
            headers = build_response_headers(
                encoding=codec.name if codec is not None else None,
                accept_encoding=_ACCEPT_ENCODING,
                metadata=metadata,
            )
        self.connection.h2.send_headers(self.stream_id, headers)

    def choose_response_codec(self) -> None:
        name = self.compression
        if name is None or name == "identity":
            return
        # Only compress with what the client accepts (doc/compression.md); the parsed
        # head says what that is, also for a request without grpc-accept-encoding.
        if name in self.head.accept_encoding:
            self.response_codec = get_codec(name)

    def encode_response(self, response: Any) -> bytes:
        payload = self.method.response_serializer(response)
        server = self.connection.server
        if server._max_send is not None and len(payload) > server._max_send:
            raise ProtocolStatusError(
                StatusCode.RESOURCE_EXHAUSTED,
                f"response message of {len(payload)} bytes exceeds the limit {server._max_send}",
            )
        codec = self.response_codec
        if codec is not None and self.compress_next:
            return encode_message(codec.compress(payload), compressed=True)
        self.compress_next = True
        return encode_message(payload)

    def send_message(self, response: Any) -> None:
        if not self.headers_sent:
            self.send_headers()
        self.connection.h2.send_data(self.stream_id, self.encode_response(response))

    def respond(self, response: Any) -> None:
        """End a unary call: its one message and an OK status, sent together.

        Raises (having sent nothing) if the message cannot be encoded or the trailing
        metadata is invalid; the caller then ends the call with that error.
        """
        if self.finished:
            return
        if (
            self.compression is None
            and not self.headers_sent
            and self.request_ended
            and not self.details
            and self.trailing_metadata is None
        ):
            # The common unary call, in one step: no compression, metadata or details.
            payload = self.method.response_serializer(response)
            limit = self.connection.server._max_send
            if len(payload) <= (_MAX_PREFIXED if limit is None else limit):
                self.finished = self.headers_sent = True
                h2 = self.connection.h2
                size = len(payload)
                try:
                    if size <= _JOIN_LIMIT:
                        h2.send_response(
                            self.stream_id,
                            _RESPONSE_HEADERS,
                            _pack_prefix(0, size) + payload,
                            _TRAILERS_OK,
                        )
                    else:
                        # A large message is not copied to put its prefix in front: the
                        # prefix goes in a DATA frame of its own (framing carries no
                        # meaning), which saves holding the message twice.
                        h2.send_headers(self.stream_id, _RESPONSE_HEADERS)
                        h2.send_data(self.stream_id, _pack_prefix(0, size))
                        h2.send_data(self.stream_id, payload)
                        h2.send_headers(self.stream_id, _TRAILERS_OK, end_stream=True)
                except LocalProtocolError:
                    pass  # the stream or connection is already gone
                self.release()
                return
        if not self.headers_sent:
            self.choose_response_codec()
        payload = self.encode_response(response)
        details = self.details
        metadata = self.trailing_metadata
        if not details and metadata is None:
            trailers = _TRAILERS_OK
        else:
            trailers = build_trailers(StatusCode.OK, details, metadata=metadata)
        headers = None
        if not self.headers_sent:
            self.headers_sent = True
            codec = self.response_codec
            if codec is None:
                headers = _RESPONSE_HEADERS
            else:
                headers = build_response_headers(
                    encoding=codec.name, accept_encoding=_ACCEPT_ENCODING
                )
        self.finished = True
        h2 = self.connection.h2
        try:
            h2.send_response(self.stream_id, headers, payload, trailers)
            if not self.request_ended:
                # RFC 9113 §8.1: the response is complete; tell the client to stop sending.
                h2.reset_stream(self.stream_id, ErrorCode.NO_ERROR)
        except LocalProtocolError:
            pass  # the stream or connection is already gone
        self.release()

    def finish(
        self,
        code: StatusCode,
        details: str = "",
        status_details: Status | None = None,
        metadata: Metadata | None = None,
    ) -> None:
        """Send the status and end the call (a no-op if it already ended)."""
        if self.finished:
            return
        self.finished = True
        connection = self.connection
        h2 = connection.h2
        sid = self.stream_id
        details_bin = encode_status_details(status_details) if status_details else None
        try:
            if not self.headers_sent:
                if code == StatusCode.OK:
                    # A successful call with no message still sends headers, then trailers.
                    self.send_headers()
                    h2.send_trailers(sid, build_trailers(code, details, metadata=metadata))
                else:
                    h2.send_headers(
                        sid,
                        build_trailers_only(
                            code, details, status_details=details_bin, metadata=metadata
                        ),
                        end_stream=True,
                    )
            elif code == StatusCode.OK and not details and metadata is None:
                h2.send_trailers(sid, _TRAILERS_OK)
            else:
                h2.send_trailers(
                    sid,
                    build_trailers(code, details, status_details=details_bin, metadata=metadata),
                )
            if not self.request_ended:
                # RFC 9113 §8.1: the response is complete; tell the client to stop sending.
                h2.reset_stream(sid, ErrorCode.NO_ERROR)
        except MetadataError as exc:
            _log.error("invalid trailing metadata on %s: %s", self.head.path, exc)
            with contextlib.suppress(LocalProtocolError):
                h2.reset_stream(sid, ErrorCode.INTERNAL_ERROR)
        except LocalProtocolError:
            pass  # the stream or connection is already gone
        self.release()

    def finish_with_exception(self, exc: BaseException) -> None:
        if isinstance(exc, _Abort):
            # Metadata given to abort() wins; otherwise what set_trailing_metadata() set
            # still goes out, as in grpcio.
            metadata = exc.trailing_metadata
            if metadata is None:
                metadata = self.trailing_metadata
            self.finish(exc.code, exc.details, exc.status_details, metadata)
        elif isinstance(exc, ProtocolStatusError):
            self.finish(exc.code, exc.message)
        elif isinstance(exc, asyncio.CancelledError):
            self.cancel(StatusCode.CANCELLED, "handler cancelled")
        elif isinstance(exc, MetadataError):
            _log.error("invalid metadata from the handler of %s: %s", self.head.path, exc)
            self.finish(StatusCode.INTERNAL, "invalid metadata from the handler")
        else:
            # Internals never leak to the client; they go to the log.
            _log.exception("handler of %s raised", self.head.path, exc_info=exc)
            self.finish(StatusCode.UNKNOWN, "unexpected error in the method handler")

    def finish_ok(self) -> None:
        code = self.code if self.code is not None else StatusCode.OK
        self.finish(code, self.details, None, self.trailing_metadata)

    def cancel(self, code: StatusCode, details: str, *, reset: bool = True) -> None:
        """End the call abnormally: the handler is cancelled, the client told."""
        self.cancelled = True
        if self.task is not None and not self.task.done():
            self.task.cancel()
        if reset and not self.finished:
            self.finish(code, details)
            with contextlib.suppress(LocalProtocolError):
                self.connection.h2.reset_stream(self.stream_id, ErrorCode.CANCEL)
        self.finished = True
        self.release()

    def release(self) -> None:
        """Undo what the ended call still holds (a unary call that finished without waiting
        holds nothing: four tests), and forget it."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.held_bytes:
            # Credit request bytes held back from a handler that will never read them:
            # the connection window is shared, and enough such calls would stall it.
            held, self.held_bytes = self.held_bytes, 0
            self.connection.acknowledge(self.stream_id, held)
        if self.reader_waiter is not None:
            self.wake_reader()
        if self.waiting:
            self.waiting = False
            self.connection.forget_waiting(self)
        waiter = self.writer_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        connection = self.connection
        calls = connection.calls
        if calls.get(self.stream_id) is self:
            del calls[self.stream_id]
            if connection.final_goaway_sent and not calls:
                connection.server._connection_idle(connection)

    def on_deadline(self) -> None:
        self.timer = None
        self.cancel(StatusCode.DEADLINE_EXCEEDED, "deadline exceeded")
        self.connection.schedule_flush()

    async def wait_writable(self) -> None:
        connection = self.connection
        while not self.finished and (
            connection.paused
            or _must_wait(connection.held, connection.h2.outbound_queued(self.stream_id))
        ):
            self.writer_waiter = connection.loop.create_future()
            try:
                await self.writer_waiter
            finally:
                self.writer_waiter = None


class _ServerConnection(H2Protocol):
    """One HTTP/2 connection on the server."""

    def __init__(self, server: Server) -> None:
        super().__init__(server._loop, H2Connection(client_side=False, config=server._h2_config))
        self.server = server
        self.calls: dict[int, _ServerCall] = {}
        self.peer = "unknown"
        # Unary calls with a deadline whose request was incomplete when their HEADERS
        # arrived. Most complete within the same data_received and need no timer; the
        # rest get one at its end (a client that never finishes its request must not
        # hold the call past its deadline).
        self._incomplete: list[_ServerCall] = []
        self._heads: dict[tuple[tuple[bytes, bytes], ...], RequestHead] = {}
        # The same, by the identity of the core's key for a repeated header block
        # (HeadersReceived.key): id -> (that key, its head, its timeout).
        self._head_ids: KeyedCache[tuple[RequestHead, float | None]] = KeyedCache(_HEAD_CACHE_SIZE)
        self._acks: dict[int, int] = {}  # flow-control credit to give back, by stream
        self._credit = 0  # and for the connection alone (streams the client has ended)
        self._eager = EagerStarter(self.loop)
        # Response bytes produced but not yet accepted by the peer: queued behind its
        # flow-control windows or in the transport's buffer (as last counted), and whether
        # that is too much, so that no new call starts (see check_unsent).
        self.unsent = 0
        self.held = False
        self._over_own_limit = False  # held for the per-connection limit (not the server's)
        self._waiting: deque[_ServerCall] = deque()  # calls held back, in arrival order
        # Output a read may pile up before a new request checks the limits: less than a
        # connection's own limit and the server's can be passed by in one read.
        self._check_above = min(
            server._max_unsent_per_connection // 2, server._max_unsent // 4, _UNSENT_IN_FLIGHT
        )
        self.final_goaway_sent = False
        self._shutdown_timer: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.peer = _format_peer(transport)
        self.server._connections.add(self)
        super().connection_made(transport)

    def start_shutdown(self) -> None:
        """Graceful shutdown, in gRPC's two steps: GOAWAY with the highest possible stream
        id and a PING; once the PING is answered, every stream the client opened before it
        saw the GOAWAY has arrived, and the final GOAWAY names the real last stream."""
        if self.closed:
            self.final_goaway_sent = True
            return
        try:
            self.h2.send_goaway(ErrorCode.NO_ERROR, last_stream_id=_MAX_STREAM_ID)
            self.h2.ping(_SHUTDOWN_PING, self.loop.time())
        except LocalProtocolError:
            self.final_goaway()
            return
        self.flush()
        self._shutdown_timer = self.loop.call_later(_SHUTDOWN_PING_TIMEOUT, self.final_goaway)

    def final_goaway(self) -> None:
        """The second GOAWAY of a graceful shutdown (also if the PING goes unanswered)."""
        if self.final_goaway_sent:
            return
        self.final_goaway_sent = True
        if self._shutdown_timer is not None:
            self._shutdown_timer.cancel()
            self._shutdown_timer = None
        with contextlib.suppress(LocalProtocolError):
            self.h2.send_goaway(ErrorCode.NO_ERROR)
        self.flush()
        if not self.calls:
            self.server._connection_idle(self)
        elif self.server._idle is not None:
            self.server._idle.set()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.final_goaway_sent = True
        if self._shutdown_timer is not None:
            self._shutdown_timer.cancel()
            self._shutdown_timer = None
        if self.server._idle is not None:
            self.server._idle.set()  # a stop() waiting on this connection goes on
        self.server._connections.discard(self)
        for call in list(self.calls.values()):
            call.cancel(StatusCode.CANCELLED, "connection lost", reset=False)
        self.calls.clear()
        self._waiting.clear()
        self.server.forget_unsent(self)

    def pause_writing(self) -> None:
        # The peer is not reading: stop reading from it too, so it cannot make us queue
        # responses without bound.
        self.paused = True
        if self.transport is not None:
            self.transport.pause_reading()
        self.check_unsent()

    def resume_writing(self) -> None:
        self.paused = False
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()
        self.check_unsent()
        self._wake_writers()

    def _wake_writers(self) -> None:
        for call in list(self.calls.values()):
            waiter = call.writer_waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    def flush(self) -> None:
        super().flush()
        self.check_unsent()

    def check_unsent(self) -> None:
        """Count what the peer has not accepted, and hold back or release new calls.

        Past the server's per-connection limit, or while the whole server is past its own
        and this connection holds more than a connection has in flight, no new call of it
        starts: it waits, its request bytes unacknowledged (so HTTP/2 flow control stops
        the peer's request data), and streaming handlers whose stream's window is used up
        wait in their sends. Calls that run go on. Reading goes on too: the peer's
        WINDOW_UPDATEs are what drain the queues. (A peer that stops reading altogether
        fills the transport's buffer, and then reading stops: pause_writing.) Held calls
        start again, in order, once the connection is below half its own limit (if that
        was what held it) and the server below its limit.
        """
        transport = self.transport
        if transport is None or self.closed or self.h2.terminated:
            return  # (connection_lost takes it out of the server's count)
        unsent = self._count_unsent()
        if not unsent and not self.held:
            return  # (the usual case: nothing waits for the peer)
        held = self._over_limits(unsent)
        if held == self.held:
            return
        self.held = held
        if held:
            self.server.held.add(self)
            return
        self.server.held.discard(self)
        self._start_waiting()
        self._wake_writers()

    def _count_unsent(self) -> int:
        """Response bytes the peer has not accepted: queued behind its flow-control
        windows, produced and not yet written, or in the transport's buffer (as of the
        last count: a transport that drains without pausing is seen at the next one)."""
        h2 = self.h2
        unsent = h2.outbound_queued_total + h2.outbound_buffered
        if self.transport is not None:
            unsent += self.transport.get_write_buffer_size()
        if unsent != self.unsent:
            self.server.count_unsent(self, unsent)
        return unsent

    def _over_limits(self, unsent: int) -> bool:
        """The rule, in one place: whether new calls of this connection must wait."""
        server = self.server
        limit = server._max_unsent_per_connection
        if self._over_own_limit:
            limit >>= 1  # (held for its own limit: until below half of it)
        self._over_own_limit = unsent > limit
        # Past the server's limit, every connection holding more than a healthy one has
        # in flight waits: the total then passes the limit by at most a response per
        # connection, however many connections share it, and the others go on.
        return self._over_own_limit or (
            unsent > _UNSENT_IN_FLIGHT and server.unsent > server._max_unsent
        )

    def _hold(self, call: _ServerCall) -> None:
        """Keep a new call from starting until the connection is below its limits."""
        call.waiting = True
        self._waiting.append(call)
        self._arm_deadline(call)  # (it may expire while it waits)

    def forget_waiting(self, call: _ServerCall) -> None:
        """A held call ended before it started (its deadline, a reset)."""
        with contextlib.suppress(ValueError):
            self._waiting.remove(call)

    def _start_waiting(self) -> None:
        """Start held calls, in order, while the connection stays below its limits
        (counted again after each: a unary call's response is produced as it starts)."""
        waiting = self._waiting
        while waiting and not self.held:
            call = waiting.popleft()
            call.waiting = False
            if call.held_bytes and call.queued_bytes <= _REQUEST_BUFFER:
                # Request bytes held back while it waited (a streaming call's beyond its
                # request buffer stay held until its handler reads them).
                held, call.held_bytes = call.held_bytes, 0
                self.acknowledge(call.stream_id, held)
            if call.request_streaming:
                self._start_streaming(call)
            elif call.request_ended and call.messages:
                self._unary_request(call, call.messages.popleft())
            if self._over_limits(self._count_unsent()):
                self.held = True
                self.server.held.add(self)
        self.schedule_flush()

    def peer_certificate(self) -> dict[str, Any] | None:
        if self.transport is None:
            return None
        ssl_object = self.transport.get_extra_info("ssl_object")
        if ssl_object is None:
            return None
        cert: dict[str, Any] | None = ssl_object.getpeercert()
        return cert or None

    def acknowledge(self, stream_id: int, nbytes: int) -> None:
        with contextlib.suppress(LocalProtocolError):
            self.h2.acknowledge_received_data(stream_id, nbytes)
        self.schedule_flush()

    # ------------------------------------------------------------------ events

    def data_received(self, data: bytes) -> None:
        h2 = self.h2
        for event in h2.receive_data(data, self.loop.time()):
            # (Exact types, tested where used: narrower than isinstance, and no asserts.)
            if type(event) is DataReceived:
                self._on_data(
                    event.stream_id, event.data, event.flow_controlled_length, event.end_stream
                )
            elif type(event) is HeadersReceived:
                self._on_request(event.stream_id, event.headers, event.end_stream, event.key)
            elif type(event) is TrailersReceived:
                self._on_request_end(event.stream_id)
            elif type(event) is StreamReset:
                call = self.calls.get(event.stream_id)
                if call is not None:
                    call.cancel(StatusCode.CANCELLED, "cancelled by the client", reset=False)
            elif type(event) is SendQueueDrained:
                call = self.calls.get(event.stream_id)
                waiter = call.writer_waiter if call is not None else None
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)
            elif type(event) is ConnectionTerminated:
                self._incomplete.clear()
                self._acks.clear()
                self._credit = 0
                self.flush()
                if self.transport is not None:
                    self.transport.close()
                return
            elif type(event) is PingAcked and event.opaque == _SHUTDOWN_PING:
                self.final_goaway()
            # GoAwayReceived: the client is leaving; its calls below last_stream_id may
            # finish. Settings and pings: the core has answered them.
        if self._acks:
            for stream_id, nbytes in self._acks.items():
                h2.acknowledge_received_data(stream_id, nbytes)
            self._acks.clear()
        if self._credit:
            h2.acknowledge_received_data(0, self._credit)
            self._credit = 0
        if self._incomplete:
            for call in self._incomplete:
                if call.task is None:  # still waiting for its request
                    self._arm_deadline(call)
            self._incomplete.clear()
        data_out = h2.data_to_send()
        if data_out and self.transport is not None:
            self.transport.write(data_out)
        if data_out or self.held or self.unsent:
            self.check_unsent()

    def _on_request(
        self,
        stream_id: int,
        headers: list[tuple[bytes, bytes]],
        end_stream: bool,
        key: tuple[tuple[bytes, bytes], ...] | None = None,
    ) -> None:
        h2 = self.h2
        # A client sends the same header block call after call: parsed heads are cached
        # per connection by the identity of the core's key for that block, or (a block
        # with a per-call grpc-timeout has none) by the list without its grpc-timeout.
        head: RequestHead | None = None
        timeout: float | None = None
        known = self._head_ids.get(id(key))
        if known is not None:
            head, timeout = known[1]
        try:
            if head is None:
                head, timeout = self._parse_head(headers)
                self._head_ids.put(key, (head, timeout))
        except RequestHeadersError as exc:
            h2.send_headers(
                stream_id,
                build_trailers_only(exc.code, exc.message, http_status=exc.http_status),
                end_stream=True,
            )
            if not end_stream:
                h2.reset_stream(stream_id, ErrorCode.NO_ERROR)
            return
        except ProtocolStatusError as exc:
            self._refuse(stream_id, exc.code, exc.message, end_stream)
            return
        method = self.server._methods.get(head.path)
        if method is None:
            self._refuse(
                stream_id, StatusCode.UNIMPLEMENTED, f"Method not found: {head.path}", end_stream
            )
            return
        codec: Codec | None = None
        if head.encoding is not None and head.encoding != "identity":
            codec = get_codec(head.encoding)
            if codec is None:
                err = unsupported_encoding_error(head.encoding, server=True)
                h2.send_headers(
                    stream_id,
                    build_trailers_only(err.code, err.message, accept_encoding=_ACCEPT_ENCODING),
                    end_stream=True,
                )
                if not end_stream:
                    h2.reset_stream(stream_id, ErrorCode.NO_ERROR)
                return
        call = _ServerCall(self, stream_id, head, method, codec, timeout)
        if timeout is not None and timeout <= 0:
            call.request_ended = end_stream
            call.finish(StatusCode.DEADLINE_EXCEEDED, "deadline exceeded")
            return
        self.calls[stream_id] = call
        if not self.held and (
            self.paused or h2.outbound_queued_total + h2.outbound_buffered > self._check_above
        ):
            # Per request, not only per read: one read can carry many. What the read has
            # produced so far is written first, so that it is not held twice (in the core
            # and in the one buffer it is joined into) while the rest of the read runs.
            self.flush()  # (and counts: check_unsent)
        if self.held:
            self._hold(call)
        if method.cardinality.request_streaming:
            self._start_streaming(call)
        elif call.deadline is not None and not end_stream:
            self._incomplete.append(call)
        if end_stream:
            self._on_request_end(stream_id)

    def _parse_head(self, headers: list[tuple[bytes, bytes]]) -> tuple[RequestHead, float | None]:
        """Parse a request head that missed the cache, and cache what can be reused.

        A per-call ``grpc-timeout`` would make every list unique, so the head is cached
        without it (its ``timeout`` is None) and the timeout, decoded on its own, returned
        beside it.
        """
        heads = self._heads
        index = -1
        for i, field in enumerate(headers):
            if field[0] == b"grpc-timeout":
                index = i
                break
        key = tuple(headers) if index < 0 else (*headers[:index], *headers[index + 1 :])
        head = heads.get(key)
        if head is None:
            head = parse_request_headers(key)
            # Cached keys hold no grpc-timeout at all (a hit in _on_request then means no
            # deadline): a list that repeats the field is parsed each time.
            if index < 0 or all(name != b"grpc-timeout" for name, _ in key):
                if len(heads) >= _HEAD_CACHE_SIZE:
                    heads.clear()
                heads[key] = head
        return head, None if index < 0 else decode_timeout(headers[index][1])

    def _refuse(self, stream_id: int, code: StatusCode, message: str, end_stream: bool) -> None:
        self.h2.send_headers(stream_id, build_trailers_only(code, message), end_stream=True)
        if not end_stream:
            self.h2.reset_stream(stream_id, ErrorCode.NO_ERROR)

    def _on_data(self, stream_id: int, data: bytes, flow_length: int, end_stream: bool) -> None:
        # Flow-control credit is batched and handed to the core at the end of data_received:
        # per stream (one call per stream, not per frame, on a busy stream), or for the
        # connection alone once the client's side of the stream has ended.
        call = self.calls.get(stream_id)
        if call is not None and call.request_streaming and not call.finished:
            self._on_stream_data(call, data, flow_length)
            if end_stream:
                self._request_ended(call)
            return
        if call is not None and call.waiting:
            call.held_bytes += flow_length  # acknowledged when it starts
        elif end_stream:
            self._credit += flow_length
        else:
            self._acks[stream_id] = self._acks.get(stream_id, 0) + flow_length
        if call is None or call.finished:  # (a finished call has left self.calls anyway)
            return
        if call.deframer is None and not call.messages and len(data) >= 5:
            # The usual unary request: one DATA frame holding exactly one message. (This
            # is messages.whole_message, inlined: the call costs 2-3% of a unary call.)
            flag, length = _unpack_prefix(data)
            if length + 5 == len(data) and flag <= 1 and length <= self.server._max_receive:
                message = (flag == 1, data[5:])
                if end_stream:
                    # ... and the end of it: handled here, without queueing the message.
                    call.request_ended = True
                    self._unary_request(call, message)
                    return
                call.messages.append(message)
                return
        # A unary request is held whole by the deframer (bounded by the message limit).
        deframer = call.deframer
        if deframer is None:
            deframer = call.deframer = MessageDeframer(self.server._max_receive)
        try:
            messages = deframer.feed(data)
        except ProtocolStatusError as exc:
            call.cancel(exc.code, exc.message)
            return
        if messages:
            call.messages.extend(messages)
            if len(call.messages) > 1:
                call.cancel(StatusCode.INTERNAL, "more than one message for a unary request")
                return
        if end_stream:
            self._request_ended(call)

    def _on_stream_data(self, call: _ServerCall, data: bytes, flow_length: int) -> None:
        acks = self._acks
        stream_id = call.stream_id
        deframer = call.deframer
        if deframer is None:
            deframer = call.deframer = MessageDeframer(self.server._max_receive)
        try:
            messages = deframer.feed(data)
        except ProtocolStatusError as exc:
            acks[stream_id] = acks.get(stream_id, 0) + flow_length
            call.cancel(exc.code, exc.message)
            return
        if messages:
            call.messages.extend(messages)
            queued = call.queued_bytes
            for _, payload in messages:
                queued += len(payload) + 5
            call.queued_bytes = queued
            call.wake_reader()
        if call.queued_bytes <= _REQUEST_BUFFER and not call.waiting:
            acks[stream_id] = acks.get(stream_id, 0) + flow_length
        else:
            call.held_bytes += flow_length

    def _on_request_end(self, stream_id: int) -> None:
        call = self.calls.get(stream_id)
        if call is not None:
            self._request_ended(call)

    def _request_ended(self, call: _ServerCall) -> None:
        if call.request_ended:
            return
        call.request_ended = True
        if call.deframer is not None:
            try:
                call.deframer.end_of_stream()
            except ProtocolStatusError as exc:
                call.cancel(exc.code, exc.message)
                return
        if call.request_streaming:
            call.wake_reader()
            return
        if len(call.messages) != 1:
            call.finish(StatusCode.INTERNAL, "a unary request needs exactly one message")
            return
        self._unary_request(call, call.messages.popleft())

    def _unary_request(self, call: _ServerCall, message: tuple[bool, bytes]) -> None:
        """A unary-request call's one message (compressed, payload), the request ended:
        run it (unless it is held back: then it runs from _start_waiting)."""
        if call.waiting:
            call.messages.append(message)
            return
        try:
            request = call.decode_request(*message)
        except ProtocolStatusError as exc:
            call.finish(exc.code, exc.message)
            return
        if call.method.cardinality is Cardinality.UNARY_UNARY:
            self._run_unary(call, request)
        else:
            self._start_task(call, self._stream_responses(call, request))

    # ------------------------------------------------------------------ handlers

    def _run_unary(self, call: _ServerCall, request: Any) -> None:
        try:
            task, response = self._eager.start(call.method.handler(request, ServicerContext(call)))
        except BaseException as exc:
            call.finish_with_exception(exc)
            return
        if task is None:
            self._complete_unary(call, response)
            return
        call.task = task
        task.add_done_callback(lambda t: self._unary_done(call, t))
        self._arm_deadline(call)

    def _complete_unary(self, call: _ServerCall, response: Any) -> None:
        if call.finished:
            return
        if call.code is not None and call.code != StatusCode.OK:
            call.finish_ok()
            return
        try:
            call.respond(response)
        except BaseException as exc:
            call.finish_with_exception(exc)

    def _unary_done(self, call: _ServerCall, task: asyncio.Task[Any]) -> None:
        # A cancelled Task holds the CancelledError, whose traceback's frames hold the
        # handler's context and so the call: the call lets go of the Task to break that
        # cycle (it needs the Task only while the handler runs, to cancel it).
        call.task = None
        if task.cancelled():
            call.cancel(StatusCode.CANCELLED, "handler cancelled")
        elif (exc := task.exception()) is not None:
            call.finish_with_exception(exc)
        else:
            self._complete_unary(call, task.result())
        self.schedule_flush()

    def _arm_deadline(self, call: _ServerCall) -> None:
        # (A unary call armed while its request was incomplete keeps that timer.)
        if call.deadline is not None and not call.finished and call.timer is None:
            call.timer = self.loop.call_at(call.deadline, call.on_deadline)

    def _start_streaming(self, call: _ServerCall) -> None:
        if call.waiting:
            return  # (started by _start_waiting)
        requests = _RequestStream(call)
        if call.method.cardinality is Cardinality.STREAM_UNARY:
            self._start_task(call, self._unary_response(call, requests))
        else:
            self._start_task(call, self._stream_responses(call, requests))

    def _start_task(self, call: _ServerCall, coro: Any) -> None:
        task = self.loop.create_task(coro)
        call.task = task
        self._arm_deadline(call)

    # The handler is called inside the Task, not before it: a call that ends before the
    # Task first runs (a bad first message, say) then leaves no never-awaited coroutine
    # behind, and a handler that raises when called ends its call rather than escaping
    # into data_received.

    async def _unary_response(self, call: _ServerCall, requests: _RequestStream) -> None:
        try:
            response = await call.method.handler(requests, ServicerContext(call))
        except BaseException as exc:
            call.finish_with_exception(exc)
        else:
            self._complete_unary(call, response)
        self.schedule_flush()

    async def _stream_responses(self, call: _ServerCall, request: Any) -> None:
        responses: AsyncIterator[Any] | None = None
        try:
            responses = call.method.handler(request, ServicerContext(call))
            async for response in responses:
                if call.finished:
                    break
                call.send_message(response)
                if call.request_streaming and not call.messages and not call.request_ended:
                    # A bidi handler answering the last request it has will next wait for
                    # the client: send now rather than an iteration later (ping-pong
                    # latency). With requests queued, responses still go out batched.
                    self.flush()
                else:
                    self.schedule_flush()
                if self.paused or _must_wait(self.held, self.h2.outbound_queued(call.stream_id)):
                    await call.wait_writable()  # (the test inlined: no coroutine per message)
        except BaseException as exc:
            call.finish_with_exception(exc)
        else:
            call.finish_ok()
        finally:
            if responses is not None and hasattr(responses, "aclose"):
                with contextlib.suppress(BaseException):
                    await responses.aclose()
        self.schedule_flush()


def _format_peer(transport: asyncio.BaseTransport) -> str:
    name = transport.get_extra_info("peername")
    if isinstance(name, tuple) and len(name) >= 2:
        host, port = name[0], name[1]
        return f"ipv6:[{host}]:{port}" if ":" in host else f"ipv4:{host}:{port}"
    if isinstance(name, str):
        return f"unix:{name}" if name else "unix:"
    return "unknown"


def _is_async(handler: Any, test: Callable[[Any], bool]) -> bool:
    if test(handler):  # functions, bound methods, functools.partial of them
        return True
    if not inspect.isroutine(handler) and test(
        inspect.getattr_static(type(handler), "__call__", None)
    ):
        return True  # an object whose __call__ is async
    try:
        unwrapped = inspect.unwrap(handler)  # a decorator that kept __wrapped__ (functools.wraps)
    except ValueError:  # a __wrapped__ cycle (mocks have one)
        return False
    return unwrapped is not handler and _is_async(unwrapped, test)


def _check_handler(path: str, method: MethodHandler) -> None:
    """Refuse, at registration, a handler this server cannot run: a plain ``def`` would
    otherwise fail every call with UNKNOWN."""
    cardinality = method.cardinality
    request = "request_iterator" if cardinality.request_streaming else "request"
    handler = method.handler
    if cardinality.response_streaming:
        if _is_async(handler, inspect.isasyncgenfunction):
            return
        expected = (
            f"an async generator: async def handler({request}, context) that yields the responses"
        )
    else:
        if _is_async(handler, inspect.iscoroutinefunction):
            return
        expected = f"a coroutine function: async def handler({request}, context) that returns "
        expected += "the response"
    if _is_async(handler, inspect.iscoroutinefunction):
        found = "a coroutine function (async def without yield)"
    elif _is_async(handler, inspect.isasyncgenfunction):
        found = "an async generator function (async def with yield)"
    else:
        found = "not async (a plain def?)"
    raise TypeError(
        f"the handler of {path} ({cardinality.value}), {handler!r}, is {found}; the asyncio "
        f"server needs {expected}"
    )


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _catch_signals(
    loop: asyncio.AbstractEventLoop, handler: Callable[[int], None]
) -> Callable[[], None]:
    """Route SIGINT and SIGTERM to ``handler(signum)`` on ``loop``; returns the function
    that puts the previous handlers back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # Python runs signal handlers in the main thread only
    previous = {signum: signal.getsignal(signum) for signum in _SIGNALS}
    on_loop: list[signal.Signals] = []
    for signum in _SIGNALS:
        if getattr(previous[signum], "__name__", "") == "_sighandler_noop":
            # The application has its own loop handler for it (asyncio's placeholder is
            # in place): replacing it would lose it for good, so it stays in charge.
            _log.warning(
                "serve(): the event loop already handles %s; serve() leaves it alone",
                signum.name,
            )
            continue
        try:
            loop.add_signal_handler(signum, handler, int(signum))
            on_loop.append(signum)
        except (NotImplementedError, RuntimeError):
            # No loop signal handlers (Windows' loops): a Python handler that hands the
            # signal to the loop, as the loop's own would.
            signal.signal(signum, lambda n, _: loop.call_soon_threadsafe(handler, n))

    def restore() -> None:
        for signum in _SIGNALS:
            if getattr(previous[signum], "__name__", "") == "_sighandler_noop":
                continue  # (never touched)
            if signum in on_loop:
                with contextlib.suppress(Exception):  # (the loop may be closing)
                    loop.remove_signal_handler(signum)
            # remove_signal_handler leaves the defaults; asyncio.run's own SIGINT handler
            # (or the program's) must come back, or Ctrl-C after serve() would misbehave.
            handler_before = previous[signum]
            if handler_before is not None:
                signal.signal(signum, handler_before)

    return restore


def _unlink_socket(path: str) -> None:
    """Remove ``path`` if it is a Unix socket (left by an earlier server); nothing else."""
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass


_ADDRESS_FORMS = "host:port, [v6]:port or unix:path (e.g. 127.0.0.1:50051, [::1]:0, unix:/tmp/s)"


def _parse_address(address: str) -> tuple[str, str | int]:
    """``host:port``, ``[v6]:port`` or ``unix:path`` → (host or "unix", port or path).

    Raises ValueError naming the address, what is wrong and the forms accepted.
    """
    if address.startswith("unix:"):
        path = address[5:]
        if not path:
            raise ValueError(f"address {address!r} has no path: use unix:/path/to/socket")
        return "unix", path
    if "://" in address:
        # A URL (http://host:port): the scheme means nothing to a gRPC server's listener.
        scheme, _, rest = address.partition("://")
        raise ValueError(
            f"address {address!r} is a URL: drop the {scheme}:// scheme "
            f"and give {rest.rstrip('/')!r} (accepted: {_ADDRESS_FORMS})"
        )
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"address {address!r} is not one of {_ADDRESS_FORMS}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    number = int(port)
    if number > 65535:
        raise ValueError(
            f"address {address!r}: port {number} is out of range (0-65535; 0 picks a free one)"
        )
    return host, number


def _unix_socket_in_use(path: str) -> bool:
    """Whether a server is listening on the Unix socket file at ``path``."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.setblocking(False)  # (a full backlog answers EAGAIN rather than blocking)
    try:
        probe.connect(path)
    except BlockingIOError:
        return True
    except OSError:
        return False  # refused (a stale file), or not a socket at all: bind will say
    else:
        return True
    finally:
        probe.close()


def _listen_error(address: str, host: str, port: str | int, exc: OSError) -> OSError:
    """``exc`` (from binding ``address``) as the same OSError, errno kept, with a message
    naming the address, the cause and what to do."""
    reason = (exc.strerror or str(exc)).rstrip(".")
    if isinstance(exc, socket.gaierror):
        cause = f"cannot resolve host {host!r} ({reason}); check the name or use an IP address"
    elif host == "unix":
        assert isinstance(port, str)
        directory = os.path.dirname(port) or "."
        if exc.errno == errno.ENOENT:
            cause = f"the directory {directory!r} does not exist; create it first"
        elif exc.errno in (errno.EACCES, errno.EPERM):
            cause = f"permission denied creating a socket in {directory!r}"
        elif exc.errno == errno.EADDRINUSE:
            cause = f"{port!r} exists and is not a socket; remove it or choose another path"
        else:
            cause = reason
    elif exc.errno == errno.EADDRINUSE:
        cause = "the address is already in use (another server?); stop it or use port 0"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        cause = "permission denied (ports below 1024 need privileges); use a higher port"
    elif exc.errno == errno.EADDRNOTAVAIL:
        cause = "no local interface has this address; use one of this host's addresses"
    else:
        cause = reason
    message = f"cannot listen on {address!r}: {cause}"
    if isinstance(exc, socket.gaierror):
        return socket.gaierror(exc.errno, message)
    return OSError(exc.errno, message)  # (OSError picks the errno's subclass)


class Server:
    """A gRPC server on asyncio.

    ``max_receive_message_length`` (default 4 MiB) and ``max_send_message_length``
    (default unlimited) bound message sizes (RESOURCE_EXHAUSTED past them);
    ``max_unsent_bytes_per_connection`` (default 16 MiB) and ``max_unsent_bytes`` (the
    whole server's, default 256 MiB) bound the response bytes held for peers that have not
    accepted them (behind HTTP/2 flow control or in a transport's buffer): past them a
    connection starts no new call, and streaming handlers wait in their sends, until its
    peer reads (calls already running are never failed for it);
    ``compression`` (``"gzip"``, ``"deflate"`` or None) compresses responses for clients
    that accept it; ``h2_config`` tunes the HTTP/2 layer and its limits.
    """

    def __init__(
        self,
        *,
        max_receive_message_length: int = DEFAULT_MAX_MESSAGE_SIZE,
        max_send_message_length: int | None = None,
        compression: str | None = None,
        h2_config: H2Config | None = None,
        max_unsent_bytes_per_connection: int = 16 << 20,
        max_unsent_bytes: int = 256 << 20,
    ) -> None:
        if compression is not None and get_codec(compression) is None:
            raise ValueError(f"unknown compression {compression!r}")
        if max_unsent_bytes_per_connection <= 0 or max_unsent_bytes <= 0:
            raise ValueError("max_unsent_bytes_per_connection and max_unsent_bytes must be > 0")
        self._max_unsent_per_connection = max_unsent_bytes_per_connection
        self._max_unsent = max_unsent_bytes
        self.unsent = 0  # the sum of every connection's unsent (see count_unsent)
        self.held: set[_ServerConnection] = set()  # connections holding calls back
        self._max_receive = max_receive_message_length
        self._max_send = max_send_message_length
        self._compression = compression
        self._h2_config = h2_config or H2Config(max_concurrent_streams=1000)
        self._methods: dict[str, MethodHandler] = {}
        self._services: dict[str, ServiceDefinition] = {}
        self._ports: list[tuple[str, str | int, _ssl.SSLContext | None]] = []
        self._listeners: list[asyncio.AbstractServer] = []
        self._unix_paths: list[str] = []
        self._connections: set[_ServerConnection] = set()
        self._loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self._started = False
        self._draining = False
        # Set to end a stop()'s grace at once (serve()'s second signal, its cancellation).
        self._hurry = False
        self._stopped: asyncio.Event | None = None
        self._idle: asyncio.Event | None = None

    @property
    def services(self) -> Mapping[str, ServiceDefinition]:
        """The registered services by full name."""
        return self._services

    def add_service(self, service: ServiceDefinition | SupportsServiceDefinition) -> None:
        """Register a service: a [`ServiceDefinition`][grpcx.ServiceDefinition] or a generated
        servicer.

        Handlers must be ``async def``: coroutine functions for unary responses, async
        generators (``async def`` with ``yield``) for streamed ones; anything else
        raises TypeError here rather than failing every call.
        """
        if not isinstance(service, ServiceDefinition):
            service = service.__grpcx_service__()
        if service.name in self._services:
            raise ValueError(f"service {service.name} is already registered")
        paths = service.paths()
        for path, method in paths.items():
            _check_handler(path, method)
        self._services[service.name] = service
        self._methods.update(paths)

    async def add_port(
        self, address: str, *, ssl: _ssl.SSLContext | None = None, reuse_port: bool = False
    ) -> int:
        """Listen on ``host:port`` (``[::1]:0``; port 0 picks one) or ``unix:path``.

        A malformed address raises ValueError; an address that cannot be listened on
        raises the OSError (errno kept: ``EADDRINUSE``, ``ENOENT``...) with a message
        naming the address and the cause. A Unix socket file left by a server that is
        gone is replaced; one a running server listens on is refused (EADDRINUSE).

        Returns the bound port (0 for a Unix socket). With ``ssl``, ALPN ``h2`` is set
        on the context. ``reuse_port`` sets SO_REUSEPORT, so several processes can listen
        on one port and the kernel spreads connections across them (see
        [`WorkerGroup`][grpcx.aio.WorkerGroup]). Listening starts at once if the server is running.
        """
        host, port = _parse_address(address)
        if ssl is not None:
            ssl.set_alpn_protocols(["h2"])
        self._loop = asyncio.get_running_loop()
        if host == "unix":
            assert isinstance(port, str)
            if _unix_socket_in_use(port):
                # asyncio would unlink it and take over: the running server would then
                # lose every new client without a word.
                raise OSError(
                    errno.EADDRINUSE,
                    f"cannot listen on {address!r}: a server is listening on {port!r}; "
                    "stop it or choose another path",
                )
        try:
            if host == "unix":
                assert isinstance(port, str)
                _unlink_socket(port)  # a stale socket from an earlier run; never another file
                listener = await self._loop.create_unix_server(
                    lambda: _ServerConnection(self), port, ssl=ssl, start_serving=self._started
                )
                self._unix_paths.append(port)
                bound = 0
            else:
                assert isinstance(port, int)
                listener = await self._loop.create_server(
                    lambda: _ServerConnection(self),
                    host or None,
                    port,
                    ssl=ssl,
                    reuse_address=True,
                    reuse_port=reuse_port or None,
                    start_serving=self._started,
                )
                bound = listener.sockets[0].getsockname()[1]
        except OSError as exc:
            raise _listen_error(address, host, port, exc) from exc
        self._listeners.append(listener)
        return int(bound)

    async def start(self) -> None:
        """Start serving on every port added."""
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        self._started = True
        for listener in self._listeners:
            await listener.start_serving()

    async def stop(self, grace: float | None = None) -> None:
        """Stop: refuse new calls (GOAWAY), let calls in flight finish for ``grace``
        seconds (None: wait for them all), then cancel what remains and close."""
        self._begin_stop()
        await self._finish_stop(grace)

    def _begin_stop(self) -> None:
        """stop()'s first step, done at once: no new connections, GOAWAY on the others.
        Done once: a second stop() (or a signal after stop()) shares the first's state,
        so every waiter wakes on the one idle event."""
        if self._stopped is None:
            self._stopped = asyncio.Event()
        if self._draining:
            return
        for listener in self._listeners:
            listener.close()
        self._draining = True
        self._idle = asyncio.Event()
        for connection in list(self._connections):
            connection.start_shutdown()

    async def _finish_stop(self, grace: float | None) -> None:
        """stop()'s second step: the grace for calls in flight, then the end."""
        assert self._stopped is not None
        if self._connections:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._all_idle(), grace)
        for connection in list(self._connections):
            for call in list(connection.calls.values()):
                call.cancel(StatusCode.UNAVAILABLE, "server shutting down")
            connection.flush()
            if connection.transport is not None:
                connection.transport.close()
        for listener in self._listeners:
            with contextlib.suppress(Exception):
                await listener.wait_closed()
        self._listeners.clear()
        for path in self._unix_paths:
            _unlink_socket(path)
        self._unix_paths.clear()
        self._stopped.set()

    def _stop_now(self) -> None:
        """End a stop() in progress without waiting out its grace: calls still running
        are cancelled now."""
        self._hurry = True
        if self._idle is not None:
            self._idle.set()  # (wakes _all_idle, which then sees _hurry)

    async def serve(self, grace: float | None = 10.0) -> None:
        """Serve until SIGINT (Ctrl-C) or SIGTERM, then stop gracefully and return.

        The one call a server's ``main`` needs after adding its ports::

            async def main() -> None:
                server = grpcx.aio.Server()
                server.add_service(GreeterServicer())
                await server.add_port("127.0.0.1:50051")
                await server.serve(grace=5.0)

            asyncio.run(main())     # or grpcx.aio.run(main()) for uvloop

        Starts the server if it is not running yet. The first SIGINT or SIGTERM (what Kubernetes and
        systemd send) runs [`stop()`][grpcx.aio.Server.stop] with ``grace``: new calls are refused
        (clients see UNAVAILABLE and may retry elsewhere), calls in flight get ``grace`` seconds to
        finish (None: as long as they take), and then the rest are cancelled. A second signal
        cancels them at once. Either way ``serve()`` returns normally, with Unix socket files
        removed, and no KeyboardInterrupt is raised: the program ends like any other.

        ``serve()`` also returns when something else calls [`stop()`][grpcx.aio.Server.stop]. If the
        task running it is cancelled, it stops the server without grace and re-raises.

        The signal handlers are installed on the running loop for the duration of the call and the
        previous ones restored after it. Where the loop cannot install them (Windows) Python's own
        handlers are used instead; outside the main thread, where no signal handler can be
        installed, only [`stop()`][grpcx.aio.Server.stop] and cancellation end ``serve()``.
        """
        if not self._started:
            await self.start()
        loop = asyncio.get_running_loop()
        stopping: asyncio.Task[None] | None = None

        def on_signal(signum: int) -> None:
            nonlocal stopping
            name = signal.Signals(signum).name
            if stopping is None and not self._draining:
                # The first step now, not a loop iteration later: once the log line below
                # is out, new connections are refused and open ones have their GOAWAY.
                self._begin_stop()
                _log.info(
                    "%s received: stopping, calls in flight have %s to finish; "
                    "a second signal cancels them at once",
                    name,
                    "as long as they need" if grace is None else f"{grace:g} s",
                )
                stopping = loop.create_task(self._finish_stop(grace))
            else:
                _log.info("%s received again: cancelling the calls still running", name)
                self._stop_now()

        restore = _catch_signals(loop, on_signal)
        try:
            await self.wait_for_termination()
            if stopping is not None:
                await stopping  # (done by now; this raises what stop() raised, if anything)
        except asyncio.CancelledError:
            self._stop_now()
            if stopping is None:
                stopping = loop.create_task(self.stop(0))
            await stopping
            raise
        finally:
            restore()

    async def _all_idle(self) -> None:
        while not self._hurry and any(
            connection.calls or not connection.final_goaway_sent for connection in self._connections
        ):
            assert self._idle is not None
            self._idle.clear()
            await self._idle.wait()

    def count_unsent(self, connection: _ServerConnection, unsent: int) -> None:
        """A connection's new count of unsent bytes (_ServerConnection.check_unsent); when
        the server's total comes back under its limit, connections held back look again
        (each starts its held calls one at a time, counting after each)."""
        before = self.unsent
        self.unsent = after = before + unsent - connection.unsent
        connection.unsent = unsent
        limit = self._max_unsent
        if before > limit >= after:
            for other in self.held:
                if other is not connection:
                    self._loop.call_soon(other.check_unsent)

    def forget_unsent(self, connection: _ServerConnection) -> None:
        """A connection that closed holds nothing any more."""
        self.held.discard(connection)
        self.count_unsent(connection, 0)

    def _connection_idle(self, connection: _ServerConnection) -> None:
        if self._idle is not None:
            self._idle.set()
        connection.flush()
        if connection.transport is not None:
            connection.transport.close()

    async def wait_for_termination(self, timeout: float | None = None) -> bool:
        """Wait until the server stops; False if ``timeout`` passed first."""
        if self._stopped is None:
            self._stopped = asyncio.Event()
        if self._stopped.is_set():
            # (wait_for with timeout 0 gives up before Event.wait() can run even once.)
            return True
        try:
            await asyncio.wait_for(self._stopped.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    async def __aenter__(self) -> Server:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop(None)
