"""Length-Prefixed-Message framing (grpc/grpc ``doc/PROTOCOL-HTTP2.md``, "Requests").

``Length-Prefixed-Message → Compressed-Flag Message-Length Message``: one flag byte (0 or
1), a 4-byte big-endian length, then the message. DATA frame boundaries have no relation
to message boundaries ("Data Frames"), so :class:`MessageDeframer` takes arbitrary chunks.
"""

from __future__ import annotations

import struct

from grpcx.protocol.errors import ProtocolStatusError
from grpcx.status import StatusCode

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "MESSAGE_PREFIX",
    "MessageDeframer",
    "encode_message",
    "whole_message",
]

DEFAULT_MAX_MESSAGE_SIZE = 4 * 1024 * 1024
"""The default receive limit of grpc C-core, grpc-go and grpc-java: 4 MiB."""

MESSAGE_PREFIX = struct.Struct(">BI")
"""The 5-byte prefix of a message: its compressed flag and its length."""
_PREFIX_SIZE = MESSAGE_PREFIX.size  # 5
_pack_prefix = MESSAGE_PREFIX.pack
_unpack_prefix = MESSAGE_PREFIX.unpack_from
_MAX_LENGTH = 0xFFFF_FFFF


def encode_message(payload: bytes, *, compressed: bool = False) -> bytes:
    """Frame *payload*: the flag byte (1 if *compressed*), its length, then the payload.

    Raises :class:`ProtocolStatusError` (RESOURCE_EXHAUSTED) for a payload of 4 GiB or
    more, which the 4-byte length cannot express.
    """
    length = len(payload)
    if length > _MAX_LENGTH:
        raise ProtocolStatusError(
            StatusCode.RESOURCE_EXHAUSTED, f"message of {length} bytes exceeds 4 GiB - 1"
        )
    return _pack_prefix(compressed, length) + payload


def whole_message(data: bytes, max_message_size: int) -> tuple[bool, bytes] | None:
    """``(compressed, message)`` if ``data`` is exactly one message within
    *max_message_size* with a valid flag byte, else None. A unary call's message usually
    arrives so, in one DATA frame, and then needs no :class:`MessageDeframer`; anything
    else (part of a message, several, a bad prefix: the deframer reports it) takes one."""
    if len(data) < _PREFIX_SIZE:
        return None
    flag, length = _unpack_prefix(data)
    if length + _PREFIX_SIZE != len(data) or flag > 1 or length > max_message_size:
        return None
    return flag == 1, data[_PREFIX_SIZE:]


class MessageDeframer:
    """Split a stream of DATA payloads into ``(compressed, message)`` pairs.

    :meth:`feed` accepts chunks of any size and alignment and returns the messages it
    completed. Errors are :class:`ProtocolStatusError`: a length over
    *max_message_size* is RESOURCE_EXHAUSTED as soon as its prefix arrives (the body is
    never buffered); a flag byte other than 0 or 1 is INTERNAL; :meth:`end_of_stream`
    with a partial message buffered is INTERNAL. After an error every later call raises
    the same error, so buffered memory never exceeds one message plus one chunk.
    """

    __slots__ = ("_buffer", "_error", "_needed", "max_message_size")

    max_message_size: int
    _buffer: bytearray
    _needed: int
    _error: ProtocolStatusError | None

    def __init__(self, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        self.max_message_size = max_message_size
        self._buffer = bytearray()
        # Bytes the buffered partial message needs before it can be parsed further:
        # the prefix size while the prefix is incomplete, else prefix plus body.
        self._needed = _PREFIX_SIZE
        self._error = None

    @property
    def buffered(self) -> int:
        """Bytes held for a message not yet complete."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[tuple[bool, bytes]]:
        """Consume *data* and return the messages completed by it, in order."""
        if self._error is not None:
            raise self._error
        messages: list[tuple[bool, bytes]] = []
        buffer = self._buffer
        if buffer:
            buffer += data
            needed = self._needed
            if len(buffer) < needed:
                return messages
            if needed > _PREFIX_SIZE:
                # The prefix was validated when it arrived; cut the body out with one
                # copy and continue with what follows it.
                with memoryview(buffer) as view:
                    messages.append((buffer[0] == 1, bytes(view[_PREFIX_SIZE:needed])))
                    data = bytes(view[needed:])
            else:
                data = bytes(buffer)
            buffer.clear()
            self._needed = _PREFIX_SIZE

        # Hot path: whole messages straight out of the chunk, one slice each.
        position = 0
        end = len(data)
        max_size = self.max_message_size
        while end - position >= _PREFIX_SIZE:
            flag, length = _unpack_prefix(data, position)
            if flag > 1 or length > max_size:
                raise self._fail(flag, length)
            start = position + _PREFIX_SIZE
            stop = start + length
            if stop > end:
                self._needed = _PREFIX_SIZE + length
                break
            messages.append((flag == 1, data[start:stop]))
            position = stop
        if position < end:
            buffer += memoryview(data)[position:]
        return messages

    def end_of_stream(self) -> None:
        """Check the stream ended on a message boundary (END_STREAM was received).

        Raises :class:`ProtocolStatusError` (INTERNAL) if a partial message is buffered.
        """
        if self._error is not None:
            raise self._error
        if self._buffer:
            held = len(self._buffer)
            self._buffer.clear()
            if self._needed > _PREFIX_SIZE:
                detail = f"{held} of {self._needed} bytes of a message"
            else:
                detail = f"{held} bytes of a message prefix"
            self._error = ProtocolStatusError(
                StatusCode.INTERNAL, f"stream ended inside a message: got {detail}"
            )
            raise self._error

    def _fail(self, flag: int, length: int) -> ProtocolStatusError:
        if flag > 1:
            error = ProtocolStatusError(
                StatusCode.INTERNAL, f"invalid compressed flag {flag} in message prefix"
            )
        else:
            error = ProtocolStatusError(
                StatusCode.RESOURCE_EXHAUSTED,
                f"received message larger than max ({length} vs. {self.max_message_size})",
            )
        self._buffer.clear()
        self._error = error
        return error
