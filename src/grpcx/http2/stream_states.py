"""The HTTP/2 stream state machine (RFC 9113 §5.1), as a table.

Rules of this module:

* ``TRANSITIONS`` lists every allowed ``(state, input) -> next state``. END_STREAM is its
  own input, applied right after the HEADERS or DATA that carried it.
* Any pair missing from the table fails closed. For an input we *received* the error
  follows RFC 9113 §5.1 (see ``_RECEIVE_REJECTIONS``): a connection error for frames on
  idle and reserved streams and for frames after a stream ended normally, a stream error
  STREAM_CLOSED for frames on half-closed(remote) streams or after the peer reset it. For an
  input we would *send*, the application asked for something the protocol forbids:
  :class:`StreamStateError`, and nothing goes on the wire.
* The RFC's single "closed" state is split in three because what a late frame means
  depends on how the stream closed (§5.1, "closed"): ``CLOSED`` (both sides sent
  END_STREAM), ``RESET_SENT`` (we sent RST_STREAM: frames in flight are ignored) and
  ``RESET_RECEIVED`` (the peer sent RST_STREAM: only PRIORITY, WINDOW_UPDATE and RST_STREAM
  may follow).
* Push is in the table for completeness; the connection never enables it.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NoReturn

from grpcx.http2.errors import ErrorCode, H2ConnectionError, H2Error, H2StreamError

__all__ = [
    "CLOSED_STATES",
    "RECEIVE_INPUTS",
    "SEND_INPUTS",
    "TRANSITIONS",
    "LocalProtocolError",
    "StreamInput",
    "StreamState",
    "StreamStateError",
    "next_state",
    "rejection",
]


class LocalProtocolError(Exception):
    """The local application asked for something HTTP/2 does not allow right now.

    Nothing was sent and the connection is unchanged.
    """


class StreamStateError(LocalProtocolError):
    """A send that the stream's state does not allow (e.g. DATA after END_STREAM)."""


class StreamState(IntEnum):
    """Stream states of RFC 9113 §5.1, with "closed" split by how the stream closed."""

    IDLE = 0
    RESERVED_LOCAL = 1
    RESERVED_REMOTE = 2
    OPEN = 3
    HALF_CLOSED_LOCAL = 4
    HALF_CLOSED_REMOTE = 5
    CLOSED = 6
    RESET_SENT = 7
    RESET_RECEIVED = 8


class StreamInput(IntEnum):
    """What can happen to a stream: a frame sent or received, END_STREAM on its own."""

    SEND_HEADERS = 0
    SEND_PUSH_PROMISE = 1
    SEND_DATA = 2
    SEND_END_STREAM = 3
    SEND_RST_STREAM = 4
    SEND_WINDOW_UPDATE = 5
    SEND_PRIORITY = 6
    RECV_HEADERS = 7
    RECV_PUSH_PROMISE = 8
    RECV_DATA = 9
    RECV_END_STREAM = 10
    RECV_RST_STREAM = 11
    RECV_WINDOW_UPDATE = 12
    RECV_PRIORITY = 13


S = StreamState
I = StreamInput  # noqa: E741 - a table reads better with short names

SEND_INPUTS = frozenset(i for i in StreamInput if i.name.startswith("SEND_"))
RECEIVE_INPUTS = frozenset(i for i in StreamInput if i.name.startswith("RECV_"))
CLOSED_STATES = frozenset((S.CLOSED, S.RESET_SENT, S.RESET_RECEIVED))

TRANSITIONS: dict[tuple[StreamState, StreamInput], StreamState] = {
    # idle
    (S.IDLE, I.SEND_HEADERS): S.OPEN,
    (S.IDLE, I.RECV_HEADERS): S.OPEN,
    (S.IDLE, I.SEND_PUSH_PROMISE): S.RESERVED_LOCAL,  # the promised stream
    (S.IDLE, I.RECV_PUSH_PROMISE): S.RESERVED_REMOTE,
    (S.IDLE, I.SEND_PRIORITY): S.IDLE,
    (S.IDLE, I.RECV_PRIORITY): S.IDLE,
    # reserved (local): we promised it and may now send its response headers
    (S.RESERVED_LOCAL, I.SEND_HEADERS): S.HALF_CLOSED_REMOTE,
    (S.RESERVED_LOCAL, I.SEND_RST_STREAM): S.RESET_SENT,
    (S.RESERVED_LOCAL, I.RECV_RST_STREAM): S.RESET_RECEIVED,
    (S.RESERVED_LOCAL, I.RECV_WINDOW_UPDATE): S.RESERVED_LOCAL,
    (S.RESERVED_LOCAL, I.SEND_PRIORITY): S.RESERVED_LOCAL,
    (S.RESERVED_LOCAL, I.RECV_PRIORITY): S.RESERVED_LOCAL,
    # reserved (remote)
    (S.RESERVED_REMOTE, I.RECV_HEADERS): S.HALF_CLOSED_LOCAL,
    (S.RESERVED_REMOTE, I.SEND_RST_STREAM): S.RESET_SENT,
    (S.RESERVED_REMOTE, I.RECV_RST_STREAM): S.RESET_RECEIVED,
    (S.RESERVED_REMOTE, I.SEND_WINDOW_UPDATE): S.RESERVED_REMOTE,
    (S.RESERVED_REMOTE, I.SEND_PRIORITY): S.RESERVED_REMOTE,
    (S.RESERVED_REMOTE, I.RECV_PRIORITY): S.RESERVED_REMOTE,
    # open
    (S.OPEN, I.SEND_HEADERS): S.OPEN,
    (S.OPEN, I.SEND_DATA): S.OPEN,
    (S.OPEN, I.SEND_END_STREAM): S.HALF_CLOSED_LOCAL,
    (S.OPEN, I.SEND_RST_STREAM): S.RESET_SENT,
    (S.OPEN, I.SEND_WINDOW_UPDATE): S.OPEN,
    (S.OPEN, I.SEND_PRIORITY): S.OPEN,
    (S.OPEN, I.RECV_HEADERS): S.OPEN,
    (S.OPEN, I.RECV_DATA): S.OPEN,
    (S.OPEN, I.RECV_END_STREAM): S.HALF_CLOSED_REMOTE,
    (S.OPEN, I.RECV_RST_STREAM): S.RESET_RECEIVED,
    (S.OPEN, I.RECV_WINDOW_UPDATE): S.OPEN,
    (S.OPEN, I.RECV_PRIORITY): S.OPEN,
    # half-closed (local): we sent END_STREAM, the peer may still send anything
    (S.HALF_CLOSED_LOCAL, I.SEND_RST_STREAM): S.RESET_SENT,
    (S.HALF_CLOSED_LOCAL, I.SEND_WINDOW_UPDATE): S.HALF_CLOSED_LOCAL,
    (S.HALF_CLOSED_LOCAL, I.SEND_PRIORITY): S.HALF_CLOSED_LOCAL,
    (S.HALF_CLOSED_LOCAL, I.RECV_HEADERS): S.HALF_CLOSED_LOCAL,
    (S.HALF_CLOSED_LOCAL, I.RECV_DATA): S.HALF_CLOSED_LOCAL,
    (S.HALF_CLOSED_LOCAL, I.RECV_END_STREAM): S.CLOSED,
    (S.HALF_CLOSED_LOCAL, I.RECV_RST_STREAM): S.RESET_RECEIVED,
    (S.HALF_CLOSED_LOCAL, I.RECV_WINDOW_UPDATE): S.HALF_CLOSED_LOCAL,
    (S.HALF_CLOSED_LOCAL, I.RECV_PRIORITY): S.HALF_CLOSED_LOCAL,
    # half-closed (remote): the peer sent END_STREAM, we may still send anything
    (S.HALF_CLOSED_REMOTE, I.SEND_HEADERS): S.HALF_CLOSED_REMOTE,
    (S.HALF_CLOSED_REMOTE, I.SEND_DATA): S.HALF_CLOSED_REMOTE,
    (S.HALF_CLOSED_REMOTE, I.SEND_END_STREAM): S.CLOSED,
    (S.HALF_CLOSED_REMOTE, I.SEND_RST_STREAM): S.RESET_SENT,
    (S.HALF_CLOSED_REMOTE, I.SEND_PRIORITY): S.HALF_CLOSED_REMOTE,
    (S.HALF_CLOSED_REMOTE, I.RECV_RST_STREAM): S.RESET_RECEIVED,
    (S.HALF_CLOSED_REMOTE, I.RECV_WINDOW_UPDATE): S.HALF_CLOSED_REMOTE,
    (S.HALF_CLOSED_REMOTE, I.RECV_PRIORITY): S.HALF_CLOSED_REMOTE,
    # closed after END_STREAM both ways: WINDOW_UPDATE and RST_STREAM may still be in
    # flight for a short while and are ignored (§5.1)
    (S.CLOSED, I.SEND_PRIORITY): S.CLOSED,
    (S.CLOSED, I.RECV_PRIORITY): S.CLOSED,
    (S.CLOSED, I.RECV_WINDOW_UPDATE): S.CLOSED,
    (S.CLOSED, I.RECV_RST_STREAM): S.CLOSED,
    # closed because we reset it: whatever the peer sent before seeing our RST_STREAM is
    # ignored (§5.1 and §6.4)
    (S.RESET_SENT, I.SEND_PRIORITY): S.RESET_SENT,
    **{(S.RESET_SENT, i): S.RESET_SENT for i in StreamInput if i.name.startswith("RECV_")},
    # closed because the peer reset it
    (S.RESET_RECEIVED, I.SEND_PRIORITY): S.RESET_RECEIVED,
    (S.RESET_RECEIVED, I.RECV_PRIORITY): S.RESET_RECEIVED,
    (S.RESET_RECEIVED, I.RECV_WINDOW_UPDATE): S.RESET_RECEIVED,
    (S.RESET_RECEIVED, I.RECV_RST_STREAM): S.RESET_RECEIVED,
}

# How a received input missing from the table is rejected, by state (RFC 9113 §5.1):
# (is a connection error, error code).
_RECEIVE_REJECTIONS: dict[StreamState, tuple[bool, ErrorCode]] = {
    S.IDLE: (True, ErrorCode.PROTOCOL_ERROR),
    S.RESERVED_LOCAL: (True, ErrorCode.PROTOCOL_ERROR),
    S.RESERVED_REMOTE: (True, ErrorCode.PROTOCOL_ERROR),
    # Open and half-closed(local) accept every frame type except PUSH_PROMISE, which the
    # connection handles itself (it is sent on the associated stream).
    S.OPEN: (True, ErrorCode.PROTOCOL_ERROR),
    S.HALF_CLOSED_LOCAL: (True, ErrorCode.PROTOCOL_ERROR),
    S.HALF_CLOSED_REMOTE: (False, ErrorCode.STREAM_CLOSED),
    S.CLOSED: (True, ErrorCode.STREAM_CLOSED),
    S.RESET_SENT: (True, ErrorCode.PROTOCOL_ERROR),  # unreachable: every input is listed
    S.RESET_RECEIVED: (False, ErrorCode.STREAM_CLOSED),
}

_WIDTH = len(StreamInput)
# The table compiled to a flat list indexed by ``state * _WIDTH + input``: one list index on
# the hot path instead of hashing a tuple of enums. -1 marks a missing pair.
_COMPILED: list[int] = [-1] * (len(StreamState) * _WIDTH)
for (_state, _input), _next in TRANSITIONS.items():
    _COMPILED[_state * _WIDTH + _input] = _next
_STATES = list(StreamState)


def compose(*inputs: StreamInput) -> dict[StreamState, StreamState]:
    """The state after ``inputs`` in a row, from every state where the table allows them all.

    Hot paths look a whole sequence up at once; a state missing from the result means one
    of the steps is rejected, and the caller then walks them with :func:`next_state` to
    raise the right error.
    """
    result: dict[StreamState, StreamState] = {}
    for start in StreamState:
        state: StreamState | None = start
        for event in inputs:
            assert state is not None
            state = TRANSITIONS.get((state, event))
            if state is None:
                break
        if state is not None:
            result[start] = state
    return result


def reject(state: StreamState, inputs: tuple[StreamInput, ...], stream_id: int) -> NoReturn:
    """Raise the error of the first step of ``inputs`` the table rejects from ``state`` (for
    a state :func:`compose` left out)."""
    for event in inputs:
        state = next_state(state, event, stream_id)
    raise AssertionError(f"{inputs} are allowed from {state.name}")  # pragma: no cover


def rejection(state: StreamState, event: StreamInput, stream_id: int) -> Exception:
    """The error for a pair missing from the table (it is not raised here)."""
    if event in SEND_INPUTS:
        return StreamStateError(
            f"cannot {event.name.lower().replace('_', ' ')} on stream {stream_id} "
            f"in state {state.name}"
        )
    connection, code = _RECEIVE_REJECTIONS[state]
    message = f"{event.name} on stream {stream_id} in state {state.name}"
    error: H2Error
    if connection:
        error = H2ConnectionError(code, message)
    else:
        error = H2StreamError(stream_id, code, message)
    return error


def next_state(state: int, event: int, stream_id: int) -> StreamState:
    """The state after ``event`` on a stream in ``state``; raises the table's rejection
    (:class:`H2ConnectionError`, :class:`H2StreamError` or :class:`StreamStateError`) for
    a missing pair."""
    nxt = _COMPILED[state * _WIDTH + event]
    if nxt < 0:
        raise rejection(StreamState(state), StreamInput(event), stream_id)
    return _STATES[nxt]
