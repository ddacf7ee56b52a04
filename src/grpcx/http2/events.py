"""Events the HTTP/2 connection returns from ``receive_data`` (and ``handle_timer``).

Small slotted dataclasses; the driver dispatches on their type. Treat them as read-only:
they are not frozen because a frozen dataclass takes four times as long to construct
(``object.__setattr__`` per field), and the connection makes one per frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

__all__ = [
    "ConnectionTerminated",
    "DataReceived",
    "Event",
    "GoAwayReceived",
    "HeadersReceived",
    "InformationalHeadersReceived",
    "KeyedCache",
    "PingAcked",
    "PingReceived",
    "SendQueueDrained",
    "SettingsAcked",
    "SettingsReceived",
    "StreamReset",
    "TrailersReceived",
]

Headers = list[tuple[bytes, bytes]]
HeaderKey = tuple[tuple[bytes, bytes], ...]
_V = TypeVar("_V")


class KeyedCache(dict[int, tuple[HeaderKey, _V]]):
    """What was derived from a header list (its validity, a parsed head), kept by its
    :attr:`HeadersReceived.key`: an int lookup, where a dict keyed by the list would build
    and hash a tuple of it each time. Look up with ``cache.get(id(key))``, which gives
    ``(key, value)``: each entry holds its key, and two live objects never share an id, so
    an entry found is the key's own (and a None key is never stored). Bounded: emptied
    when full."""

    __slots__ = ("limit",)

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def put(self, key: HeaderKey | None, value: _V) -> None:
        """Keep ``value`` for ``key`` (nothing for a None key)."""
        if key is not None:
            if len(self) >= self.limit:
                self.clear()
            self[id(key)] = (key, value)


@dataclass(slots=True)
class Event:
    """Base class of every connection event."""


@dataclass(slots=True)
class HeadersReceived(Event):
    """The initial headers of a request (server side) or the final response headers
    (client side), validated per RFC 9113 §8.3."""

    stream_id: int
    headers: Headers
    end_stream: bool
    #: The same header list as a tuple that is the same object each time the peer sends
    #: the same header block (while HPACK's block cache holds it), or None: a cache key
    #: whose identity can be looked up, for drivers that cache per header list.
    key: HeaderKey | None = field(default=None, compare=False, repr=False)


@dataclass(slots=True)
class InformationalHeadersReceived(Event):
    """A 1xx response header block (client side), before the final response headers."""

    stream_id: int
    headers: Headers


@dataclass(slots=True)
class TrailersReceived(Event):
    """A trailing header block; it always ends the peer's side of the stream."""

    stream_id: int
    headers: Headers
    #: As :attr:`HeadersReceived.key`.
    key: HeaderKey | None = field(default=None, compare=False, repr=False)


@dataclass(slots=True)
class DataReceived(Event):
    """DATA for a stream. Pass ``flow_controlled_length`` (the frame's whole payload,
    padding included) to ``acknowledge_received_data`` once the application consumed it."""

    stream_id: int
    data: bytes
    flow_controlled_length: int
    end_stream: bool


@dataclass(slots=True)
class StreamReset(Event):
    """A stream ended abnormally: reset by the peer (``remote``) or by this connection
    after a stream error, or refused by the peer's GOAWAY (REFUSED_STREAM, ``remote``:
    such a request was never processed and may be retried)."""

    stream_id: int
    error_code: int
    remote: bool
    #: Why this connection reset the stream (``remote`` False): what the peer did wrong,
    #: such as ``"malformed headers: missing :status"``.
    reason: str = field(default="", compare=False)


@dataclass(slots=True)
class SendQueueDrained(Event):
    """Data queued by ``send_data`` on this stream (and a deferred END_STREAM or trailers)
    has all been written to the output because the peer opened its flow-control windows.
    The driver wakes writers blocked on ``outbound_queued(stream_id)``."""

    stream_id: int


@dataclass(slots=True)
class SettingsReceived(Event):
    """The peer's SETTINGS, already applied and ACKed: known identifiers to new values."""

    changed: dict[int, int] = field(default_factory=dict)


@dataclass(slots=True)
class SettingsAcked(Event):
    """The peer acknowledged our SETTINGS; these values are now in force."""

    applied: dict[int, int] = field(default_factory=dict)


@dataclass(slots=True)
class PingReceived(Event):
    """The peer sent a PING; the ACK is already queued."""

    opaque: bytes


@dataclass(slots=True)
class PingAcked(Event):
    """The peer acknowledged one of our PINGs, ``round_trip`` seconds after we sent it."""

    opaque: bytes
    round_trip: float


@dataclass(slots=True)
class GoAwayReceived(Event):
    """The peer is closing the connection: streams up to ``last_stream_id`` may complete;
    ours above it were reset (StreamReset REFUSED_STREAM, reported just before this)."""

    last_stream_id: int
    error_code: int
    debug_data: bytes


@dataclass(slots=True)
class ConnectionTerminated(Event):
    """This connection ended itself after a protocol error or an exceeded limit. The GOAWAY
    is queued in ``data_to_send()``: flush it and close the transport."""

    error_code: int
    reason: str
