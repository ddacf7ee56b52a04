"""HTTP/2 frame codec (RFC 9113 §4 and §6): builders that return bytes, a reader that
splits a byte stream into raw frames, and per-type payload parsers that validate sizes,
padding and stream-id rules.

The hot path deals in plain tuples and bytes rather than one object per frame:
``FrameReader.read_frame`` returns ``(type, flags, stream_id, payload)`` and the
connection calls the one parser it needs. ``decode_frame`` builds a descriptive
:class:`Frame` for tools and tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import IntEnum
from struct import Struct
from typing import NamedTuple, cast

from grpcx.http2.errors import ErrorCode, FrameTooLargeError, H2ConnectionError, H2StreamError

__all__ = [
    "CONNECTION_PREFACE",
    "CONTINUATION",
    "DATA",
    "DEFAULT_INITIAL_WINDOW_SIZE",
    "DEFAULT_MAX_FRAME_SIZE",
    "FLAG_ACK",
    "FLAG_END_HEADERS",
    "FLAG_END_STREAM",
    "FLAG_PADDED",
    "FLAG_PRIORITY",
    "FRAME_HEADER_SIZE",
    "GOAWAY",
    "HEADERS",
    "MAX_FRAME_SIZE_LIMIT",
    "MAX_WINDOW_SIZE",
    "PING",
    "PRIORITY",
    "PUSH_PROMISE",
    "RST_STREAM",
    "SETTINGS",
    "SETTINGS_ENABLE_CONNECT_PROTOCOL",
    "SETTINGS_ENABLE_PUSH",
    "SETTINGS_HEADER_TABLE_SIZE",
    "SETTINGS_INITIAL_WINDOW_SIZE",
    "SETTINGS_MAX_CONCURRENT_STREAMS",
    "SETTINGS_MAX_FRAME_SIZE",
    "SETTINGS_MAX_HEADER_LIST_SIZE",
    "WINDOW_UPDATE",
    "Frame",
    "FrameReader",
    "FrameType",
    "Priority",
    "build_continuation",
    "build_data",
    "build_frame",
    "build_goaway",
    "build_headers",
    "build_ping",
    "build_priority",
    "build_push_promise",
    "build_rst_stream",
    "build_settings",
    "build_window_update",
    "decode_frame",
    "parse_continuation",
    "parse_data",
    "parse_goaway",
    "parse_headers",
    "parse_ping",
    "parse_priority",
    "parse_push_promise",
    "parse_rst_stream",
    "parse_settings",
    "parse_window_update",
]


class FrameType(IntEnum):
    """Frame types defined by RFC 9113 §6."""

    DATA = 0x0
    HEADERS = 0x1
    PRIORITY = 0x2
    RST_STREAM = 0x3
    SETTINGS = 0x4
    PUSH_PROMISE = 0x5
    PING = 0x6
    GOAWAY = 0x7
    WINDOW_UPDATE = 0x8
    CONTINUATION = 0x9


# Plain ints for the hot path: comparing against an IntEnum member costs a lookup.
DATA = 0x0
HEADERS = 0x1
PRIORITY = 0x2
RST_STREAM = 0x3
SETTINGS = 0x4
PUSH_PROMISE = 0x5
PING = 0x6
GOAWAY = 0x7
WINDOW_UPDATE = 0x8
CONTINUATION = 0x9

FLAG_END_STREAM = 0x1
FLAG_ACK = 0x1
FLAG_END_HEADERS = 0x4
FLAG_PADDED = 0x8
FLAG_PRIORITY = 0x20

SETTINGS_HEADER_TABLE_SIZE = 0x1
SETTINGS_ENABLE_PUSH = 0x2
SETTINGS_MAX_CONCURRENT_STREAMS = 0x3
SETTINGS_INITIAL_WINDOW_SIZE = 0x4
SETTINGS_MAX_FRAME_SIZE = 0x5
SETTINGS_MAX_HEADER_LIST_SIZE = 0x6
SETTINGS_ENABLE_CONNECT_PROTOCOL = 0x8

FRAME_HEADER_SIZE = 9
DEFAULT_MAX_FRAME_SIZE = 16_384
MAX_FRAME_SIZE_LIMIT = 2**24 - 1
MAX_WINDOW_SIZE = 2**31 - 1
DEFAULT_INITIAL_WINDOW_SIZE = 65_535
MAX_STREAM_ID = 2**31 - 1
CONNECTION_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

_U32 = Struct(">L")
_U32_PAIR = Struct(">LL")
_U16_U32 = Struct(">HL")
_PRIORITY = Struct(">LB")
# The 9-byte header as (length << 8 | type, flags, stream_id): struct has no 24-bit
# integer, and three fields unpack faster than five.
_HEADER = Struct(">LBL")


class Priority(NamedTuple):
    """A stream dependency (RFC 9113 §5.3.2, deprecated but still parsed)."""

    depends_on: int
    weight: int  # 1..256, carried on the wire as weight - 1
    exclusive: bool


# --------------------------------------------------------------------------- building


def build_frame(frame_type: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    """One frame: the 9-byte header followed by ``payload``."""
    return _HEADER.pack(len(payload) << 8 | frame_type, flags, stream_id & MAX_STREAM_ID) + payload


def _padded(payload: bytes, pad_length: int | None) -> tuple[bytes, int]:
    if pad_length is None:
        return payload, 0
    if not 0 <= pad_length <= 255:
        raise ValueError("pad_length must be in 0..255")
    return bytes((pad_length,)) + payload + b"\x00" * pad_length, FLAG_PADDED


def _priority_bytes(priority: Priority) -> bytes:
    if not 1 <= priority.weight <= 256:
        raise ValueError("priority weight must be in 1..256")
    dep = priority.depends_on & MAX_STREAM_ID
    if priority.exclusive:
        dep |= 0x8000_0000
    return _PRIORITY.pack(dep, priority.weight - 1)


def build_data(
    stream_id: int, data: bytes, *, end_stream: bool = False, pad_length: int | None = None
) -> bytes:
    """A DATA frame (RFC 9113 §6.1)."""
    payload, flags = _padded(data, pad_length)
    if end_stream:
        flags |= FLAG_END_STREAM
    return build_frame(DATA, flags, stream_id, payload)


def build_headers(
    stream_id: int,
    block: bytes,
    *,
    end_stream: bool = False,
    end_headers: bool = True,
    pad_length: int | None = None,
    priority: Priority | None = None,
) -> bytes:
    """A HEADERS frame (RFC 9113 §6.2) carrying (part of) an HPACK block."""
    flags = 0
    if priority is not None:
        block = _priority_bytes(priority) + block
        flags |= FLAG_PRIORITY
    payload, pad_flag = _padded(block, pad_length)
    flags |= pad_flag
    if end_stream:
        flags |= FLAG_END_STREAM
    if end_headers:
        flags |= FLAG_END_HEADERS
    return build_frame(HEADERS, flags, stream_id, payload)


def build_priority(stream_id: int, priority: Priority) -> bytes:
    """A PRIORITY frame (RFC 9113 §6.3)."""
    return build_frame(PRIORITY, 0, stream_id, _priority_bytes(priority))


def build_rst_stream(stream_id: int, error_code: int) -> bytes:
    """A RST_STREAM frame (RFC 9113 §6.4)."""
    return build_frame(RST_STREAM, 0, stream_id, _U32.pack(error_code))


def build_settings(settings: Iterable[tuple[int, int]] = (), *, ack: bool = False) -> bytes:
    """A SETTINGS frame (RFC 9113 §6.5); an ACK carries no settings."""
    payload = b"".join(_U16_U32.pack(ident, value) for ident, value in settings)
    if ack and payload:
        raise ValueError("a SETTINGS ACK carries no payload")
    return build_frame(SETTINGS, FLAG_ACK if ack else 0, 0, payload)


def build_push_promise(
    stream_id: int,
    promised_stream_id: int,
    block: bytes,
    *,
    end_headers: bool = True,
    pad_length: int | None = None,
) -> bytes:
    """A PUSH_PROMISE frame (RFC 9113 §6.6)."""
    payload, flags = _padded(_U32.pack(promised_stream_id & MAX_STREAM_ID) + block, pad_length)
    if end_headers:
        flags |= FLAG_END_HEADERS
    return build_frame(PUSH_PROMISE, flags, stream_id, payload)


def build_ping(opaque: bytes, *, ack: bool = False) -> bytes:
    """A PING frame (RFC 9113 §6.7) with exactly 8 bytes of opaque data."""
    if len(opaque) != 8:
        raise ValueError("PING opaque data is exactly 8 bytes")
    return build_frame(PING, FLAG_ACK if ack else 0, 0, opaque)


def build_goaway(last_stream_id: int, error_code: int, debug_data: bytes = b"") -> bytes:
    """A GOAWAY frame (RFC 9113 §6.8)."""
    payload = _U32_PAIR.pack(last_stream_id & MAX_STREAM_ID, error_code) + debug_data
    return build_frame(GOAWAY, 0, 0, payload)


def build_window_update(stream_id: int, increment: int) -> bytes:
    """A WINDOW_UPDATE frame (RFC 9113 §6.9); ``increment`` in 1..2^31-1."""
    if not 1 <= increment <= MAX_WINDOW_SIZE:
        raise ValueError("window increment must be in 1..2^31-1")
    return build_frame(WINDOW_UPDATE, 0, stream_id, _U32.pack(increment))


def build_continuation(stream_id: int, block: bytes, *, end_headers: bool = True) -> bytes:
    """A CONTINUATION frame (RFC 9113 §6.10)."""
    return build_frame(CONTINUATION, FLAG_END_HEADERS if end_headers else 0, stream_id, block)


# --------------------------------------------------------------------------- reading


class FrameReader:
    """Splits received bytes into raw frames.

    ``max_frame_size`` is the SETTINGS_MAX_FRAME_SIZE we advertised: a frame header that
    announces more is a connection error (RFC 9113 §4.2). Nothing beyond one frame of that
    size is ever buffered per call to :meth:`read_frame`, so memory stays bounded by what
    the caller feeds.
    """

    __slots__ = ("_buf", "_pos", "max_frame_size")

    def __init__(self, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> None:
        self._buf = b""
        self._pos = 0
        self.max_frame_size = max_frame_size

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as frames."""
        return len(self._buf) - self._pos

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        if self._pos:
            # Drop what has been consumed before growing the buffer.
            self._buf = self._buf[self._pos :] + data
            self._pos = 0
        elif self._buf:
            self._buf += data
        else:
            self._buf = bytes(data)

    def read_frame(self) -> tuple[int, int, int, bytes] | None:
        """The next complete frame as ``(type, flags, stream_id, payload)``, or None."""
        buf = self._buf
        pos = self._pos
        avail = len(buf) - pos
        if avail < FRAME_HEADER_SIZE:
            return None
        length_type, flags, stream_id = _HEADER.unpack_from(buf, pos)
        length = length_type >> 8
        frame_type = length_type & 0xFF
        if length > self.max_frame_size:
            raise FrameTooLargeError(f"frame of {length} bytes exceeds {self.max_frame_size}")
        end = pos + FRAME_HEADER_SIZE + length
        if end > len(buf):
            return None
        payload = buf[pos + FRAME_HEADER_SIZE : end]
        if end == len(buf):
            self._buf = b""
            self._pos = 0
        else:
            self._pos = end
        return frame_type, flags, stream_id & MAX_STREAM_ID, payload

    def read_frames(self) -> list[tuple[int, int, int, bytes]]:
        """Every complete frame buffered, as ``read_frame`` tuples, in one pass.

        The batch form is the hot path: one call per ``data_received`` instead of one
        method call and buffer update per frame. Each frame costs one small struct read of
        its header (the key into ``_FRAME_UNPACKERS``), one dict lookup and one C call
        that builds the whole ``(type, flags, stream_id, payload)`` tuple.
        """
        limit = self.max_frame_size
        if limit < _MAX_UNPACKED_LENGTH:
            # Cached unpackers may be for frames above this limit: check each frame.
            return list(iter(self.read_frame, None))
        buf = self._buf
        pos = self._pos
        size = len(buf)
        last = size - FRAME_HEADER_SIZE
        unpackers = _FRAME_UNPACKERS
        get = unpackers.get
        out: list[tuple[int, int, int, bytes]] = []
        append = out.append
        previous: object = None  # the previous frame's cache entry (alike frames share one)
        while pos <= last:
            key = buf[pos : pos + _FRAME_KEY_SIZE]
            entry = get(key)
            if entry is None:
                length = int.from_bytes(key[:3], "big")
                if length > limit:
                    # Keep the frames before the bad one consumed; the error ends the
                    # connection anyway, so no partial state is reused.
                    self._pos = pos
                    raise FrameTooLargeError(f"frame of {length} bytes exceeds {limit}")
                entry = _frame_unpacker(key)
            unpack, frame_size, run_unpack = entry
            end = pos + frame_size
            if end > size:
                break
            if entry is previous and run_unpack is not None and buf.startswith(key, end):
                # Three frames in a row alike: a stream of same-sized messages, most likely
                # (one DATA frame per message). Unpack the whole run in one C call.
                count = _run_length(buf, pos, key, frame_size)
                stop = pos + count * frame_size
                out += run_unpack(buf[pos:stop])
                pos = stop
                previous = None
                continue
            append(unpack(buf, pos))
            previous = entry
            pos = end
        if pos == size:
            self._buf = b""
            self._pos = 0
        else:
            self._pos = pos
        return out


# read_frames' per-frame machinery. The first six bytes of a frame header (length, type,
# flags and the stream id's first byte), sliced as they are, key a struct that unpacks the
# whole frame, payload included, in one C call, with the frame's total size. (Slicing the
# key measured about 20 ns per frame cheaper than unpacking it into integers.) Headers
# whose stream id has the reserved bit set get an unpacker that clears it (RFC 9113 §4.1).
# Only frames up to _MAX_UNPACKED_LENGTH bytes are cached (for larger ones the payload
# copy dominates anyway), and the cache is emptied when full, so a peer cycling through
# headers costs time, never memory.
_FRAME_KEY_SIZE = 6
_MAX_UNPACKED_LENGTH = 1024
_MAX_FRAME_UNPACKERS = 4096
_FrameUnpacker = Callable[[bytes, int], tuple[int, int, int, bytes]]
# Unpacks a run of frames alike (see _run_length) from a buffer holding exactly them.
_RunUnpacker = Callable[[bytes], Iterator[tuple[int, int, int, bytes]]]
_FRAME_UNPACKERS: dict[bytes, tuple[_FrameUnpacker, int, _RunUnpacker | None]] = {}


def _frame_unpacker(key: bytes) -> tuple[_FrameUnpacker, int, _RunUnpacker | None]:
    """The unpackers and total size for frames whose header starts with ``key``."""
    length = int.from_bytes(key[:3], "big")
    entry: tuple[_FrameUnpacker, int, _RunUnpacker | None]
    if length > _MAX_UNPACKED_LENGTH or key[5] & 0x80:

        def sliced(buf: bytes, pos: int) -> tuple[int, int, int, bytes]:
            length_type, flags, stream_id = _HEADER.unpack_from(buf, pos)
            start = pos + FRAME_HEADER_SIZE
            return (
                length_type & 0xFF,
                flags,
                stream_id & MAX_STREAM_ID,
                buf[start : start + length],
            )

        entry = (sliced, FRAME_HEADER_SIZE + length, None)
        if length > _MAX_UNPACKED_LENGTH:
            return entry  # not cached
    else:
        unpacker = Struct(f">xxxBBL{length}s")
        entry = (
            cast(_FrameUnpacker, unpacker.unpack_from),
            FRAME_HEADER_SIZE + length,
            cast(_RunUnpacker, unpacker.iter_unpack),
        )
    if len(_FRAME_UNPACKERS) >= _MAX_FRAME_UNPACKERS:
        _FRAME_UNPACKERS.clear()
    _FRAME_UNPACKERS[key] = entry
    return entry


def _run_length(buf: bytes, pos: int, key: bytes, frame_size: int) -> int:
    """How many complete frames from ``pos`` on start with ``key`` (at least the first).

    Frames alike are ``frame_size`` apart, so each of the key's bytes is checked for all of
    them at once: a strided slice takes that byte of every frame, and ``lstrip`` finds the
    first that differs. A dozen C calls, however long the run.
    """
    count = (len(buf) - pos) // frame_size
    stop = pos + count * frame_size
    for i in range(_FRAME_KEY_SIZE):
        column = buf[pos + i : stop : frame_size]
        same = count - len(column.lstrip(key[i : i + 1]))
        if same < count:
            count = same
            stop = pos + count * frame_size
    return count


# --------------------------------------------------------------------------- parsing


def _conn_error(code: ErrorCode, message: str) -> H2ConnectionError:
    return H2ConnectionError(code, message)


def _require_stream(stream_id: int, name: str) -> None:
    if stream_id == 0:
        raise _conn_error(ErrorCode.PROTOCOL_ERROR, f"{name} on stream 0")


def _require_connection(stream_id: int, name: str) -> None:
    if stream_id != 0:
        raise _conn_error(ErrorCode.PROTOCOL_ERROR, f"{name} on stream {stream_id}")


def _strip_padding(flags: int, payload: bytes, name: str) -> tuple[bytes, int]:
    """The payload without padding, and the offset where the content starts."""
    if not flags & FLAG_PADDED:
        return payload, 0
    if not payload:
        raise _conn_error(ErrorCode.FRAME_SIZE_ERROR, f"padded {name} without pad length")
    pad = payload[0]
    # RFC 9113 §6.1/§6.2: padding that is not shorter than the payload is PROTOCOL_ERROR.
    if pad >= len(payload):
        raise _conn_error(ErrorCode.PROTOCOL_ERROR, f"{name} padding exceeds payload")
    return payload[1 : len(payload) - pad], 1


def parse_data(flags: int, stream_id: int, payload: bytes) -> bytes:
    """DATA content without padding. The flow-controlled length is ``len(payload)``."""
    if stream_id == 0:
        raise _conn_error(ErrorCode.PROTOCOL_ERROR, "DATA on stream 0")
    if flags & FLAG_PADDED:
        return _strip_padding(flags, payload, "DATA")[0]
    return payload


def _parse_priority_fields(payload: bytes, offset: int) -> Priority:
    dep, weight = _PRIORITY.unpack_from(payload, offset)
    return Priority(dep & MAX_STREAM_ID, weight + 1, bool(dep & 0x8000_0000))


def parse_headers(flags: int, stream_id: int, payload: bytes) -> tuple[bytes, Priority | None]:
    """The header block fragment of a HEADERS frame and its priority, if any.

    The caller rejects a priority that depends on ``stream_id`` itself, after decoding.
    """
    _require_stream(stream_id, "HEADERS")
    if not flags & (FLAG_PADDED | FLAG_PRIORITY):
        return payload, None
    block, _ = _strip_padding(flags, payload, "HEADERS")
    if not flags & FLAG_PRIORITY:
        return block, None
    if len(block) < 5:
        raise _conn_error(ErrorCode.FRAME_SIZE_ERROR, "HEADERS too short for priority")
    # A priority naming the stream itself is a stream error (RFC 9113 §5.3.1), but the
    # block must still be decoded to keep HPACK in step, so the caller judges it.
    return block[5:], _parse_priority_fields(block, 0)


def parse_priority(stream_id: int, payload: bytes) -> Priority:
    """A PRIORITY frame's fields; a wrong length is a stream error (RFC 9113 §6.3)."""
    _require_stream(stream_id, "PRIORITY")
    if len(payload) != 5:
        raise H2StreamError(stream_id, ErrorCode.FRAME_SIZE_ERROR, "PRIORITY length is not 5")
    priority = _parse_priority_fields(payload, 0)
    if priority.depends_on == stream_id:
        raise H2StreamError(stream_id, ErrorCode.PROTOCOL_ERROR, "stream depends on itself")
    return priority


def parse_rst_stream(stream_id: int, payload: bytes) -> int:
    """The error code of a RST_STREAM frame."""
    _require_stream(stream_id, "RST_STREAM")
    if len(payload) != 4:
        raise _conn_error(ErrorCode.FRAME_SIZE_ERROR, "RST_STREAM length is not 4")
    code: int = _U32.unpack(payload)[0]
    return code


def parse_settings(flags: int, stream_id: int, payload: bytes) -> list[tuple[int, int]]:
    """The (identifier, value) pairs of a SETTINGS frame, validated (RFC 9113 §6.5.2).

    Unknown identifiers are passed through; the connection ignores them.
    """
    _require_connection(stream_id, "SETTINGS")
    if flags & FLAG_ACK:
        if payload:
            raise _conn_error(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS ACK with payload")
        return []
    if len(payload) % 6:
        raise _conn_error(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS length not a multiple of 6")
    settings = [_U16_U32.unpack_from(payload, i) for i in range(0, len(payload), 6)]
    for ident, value in settings:
        if ident == SETTINGS_ENABLE_PUSH and value > 1:
            raise _conn_error(ErrorCode.PROTOCOL_ERROR, "ENABLE_PUSH must be 0 or 1")
        if ident == SETTINGS_INITIAL_WINDOW_SIZE and value > MAX_WINDOW_SIZE:
            raise _conn_error(ErrorCode.FLOW_CONTROL_ERROR, "INITIAL_WINDOW_SIZE above 2^31-1")
        if ident == SETTINGS_MAX_FRAME_SIZE and not (
            DEFAULT_MAX_FRAME_SIZE <= value <= MAX_FRAME_SIZE_LIMIT
        ):
            raise _conn_error(ErrorCode.PROTOCOL_ERROR, "MAX_FRAME_SIZE out of range")
        if ident == SETTINGS_ENABLE_CONNECT_PROTOCOL and value > 1:
            raise _conn_error(ErrorCode.PROTOCOL_ERROR, "ENABLE_CONNECT_PROTOCOL must be 0 or 1")
    return settings


def parse_push_promise(flags: int, stream_id: int, payload: bytes) -> tuple[int, bytes]:
    """The promised stream id and header block fragment of a PUSH_PROMISE frame."""
    _require_stream(stream_id, "PUSH_PROMISE")
    body, _ = _strip_padding(flags, payload, "PUSH_PROMISE")
    if len(body) < 4:
        raise _conn_error(ErrorCode.FRAME_SIZE_ERROR, "PUSH_PROMISE too short")
    promised: int = _U32.unpack_from(body, 0)[0] & MAX_STREAM_ID
    return promised, body[4:]


def parse_ping(stream_id: int, payload: bytes) -> bytes:
    """The 8 opaque bytes of a PING frame."""
    _require_connection(stream_id, "PING")
    if len(payload) != 8:
        raise _conn_error(ErrorCode.FRAME_SIZE_ERROR, "PING length is not 8")
    return payload


def parse_goaway(stream_id: int, payload: bytes) -> tuple[int, int, bytes]:
    """``(last_stream_id, error_code, debug_data)`` of a GOAWAY frame."""
    _require_connection(stream_id, "GOAWAY")
    if len(payload) < 8:
        raise _conn_error(ErrorCode.FRAME_SIZE_ERROR, "GOAWAY shorter than 8 bytes")
    last, code = _U32_PAIR.unpack_from(payload, 0)
    return last & MAX_STREAM_ID, code, payload[8:]


def parse_window_update(stream_id: int, payload: bytes) -> int:
    """The increment of a WINDOW_UPDATE frame (0 is left to the connection to judge)."""
    if len(payload) != 4:
        raise _conn_error(ErrorCode.FRAME_SIZE_ERROR, "WINDOW_UPDATE length is not 4")
    increment: int = _U32.unpack(payload)[0] & MAX_WINDOW_SIZE
    return increment


def parse_continuation(stream_id: int, payload: bytes) -> bytes:
    """The header block fragment of a CONTINUATION frame."""
    _require_stream(stream_id, "CONTINUATION")
    return payload


# --------------------------------------------------------------------------- describing


@dataclass(frozen=True, slots=True)
class Frame:
    """A decoded frame, for tools and tests (the connection does not build these).

    Fields that do not apply to a frame type keep their defaults.
    """

    type: int
    flags: int
    stream_id: int
    data: bytes = b""  # DATA content, header block fragment, PING opaque, GOAWAY debug
    priority: Priority | None = None
    error_code: int | None = None
    settings: tuple[tuple[int, int], ...] = ()
    increment: int | None = None
    promised_stream_id: int | None = None
    last_stream_id: int | None = None

    @property
    def type_name(self) -> str:
        """The frame type's RFC name, or ``UNKNOWN(n)``."""
        try:
            return FrameType(self.type).name
        except ValueError:
            return f"UNKNOWN({self.type})"


def decode_frame(frame_type: int, flags: int, stream_id: int, payload: bytes) -> Frame:
    """Parse a raw frame into a :class:`Frame`, validating it like the connection does.

    Unknown frame types are returned with their payload as ``data`` (RFC 9113 §4.1 says
    to ignore them).
    """
    if frame_type == DATA:
        return Frame(frame_type, flags, stream_id, parse_data(flags, stream_id, payload))
    if frame_type == HEADERS:
        block, priority = parse_headers(flags, stream_id, payload)
        return Frame(frame_type, flags, stream_id, block, priority=priority)
    if frame_type == PRIORITY:
        priority = parse_priority(stream_id, payload)
        return Frame(frame_type, flags, stream_id, priority=priority)
    if frame_type == RST_STREAM:
        code = parse_rst_stream(stream_id, payload)
        return Frame(frame_type, flags, stream_id, error_code=code)
    if frame_type == SETTINGS:
        settings = tuple(parse_settings(flags, stream_id, payload))
        return Frame(frame_type, flags, stream_id, settings=settings)
    if frame_type == PUSH_PROMISE:
        promised, block = parse_push_promise(flags, stream_id, payload)
        return Frame(frame_type, flags, stream_id, block, promised_stream_id=promised)
    if frame_type == PING:
        return Frame(frame_type, flags, stream_id, parse_ping(stream_id, payload))
    if frame_type == GOAWAY:
        last, code, debug = parse_goaway(stream_id, payload)
        return Frame(frame_type, flags, stream_id, debug, error_code=code, last_stream_id=last)
    if frame_type == WINDOW_UPDATE:
        increment = parse_window_update(stream_id, payload)
        return Frame(frame_type, flags, stream_id, increment=increment)
    if frame_type == CONTINUATION:
        return Frame(frame_type, flags, stream_id, parse_continuation(stream_id, payload))
    return Frame(frame_type, flags, stream_id, payload)
