"""What the sans-IO gRPC connections (:mod:`grpcx.protocol.server`,
:mod:`grpcx.protocol.client`) share: the base of their events, and how a call ended.

The gRPC connections sit on :class:`grpcx.http2.connection.H2Connection` and follow its
conventions: bytes in (``receive_data(data, now)``), events out (a list, in order);
application actions in (methods on the connection or on its call objects), bytes out
(``data_to_send()``). Time is an argument: ``next_deadline()`` says when the driver must
next call ``handle_timeout(now)``, which returns events like ``receive_data``. Nothing
here touches a socket, a thread, a clock or an event loop.

Events are small slotted classes; a driver dispatches on their exact type. Treat them as
read-only (not frozen: a frozen dataclass costs four times as much to build).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["CallEnd", "Event"]


class CallEnd(enum.Enum):
    """How a call ended. Every call ends exactly once, with one status and one of these."""

    #: Server: the application finished the call (its status went out). Client: the
    #: server's status arrived (trailers, or a Trailers-Only response).
    FINISHED = "finished"
    #: The application cancelled it (client ``cancel()``; server handler cancelled).
    CANCELLED = "cancelled"
    #: The peer reset the stream (RST_STREAM), or refused it (client: REFUSED_STREAM).
    RESET = "reset"
    #: The call's deadline passed.
    DEADLINE = "deadline"
    #: The peer broke the gRPC or HTTP/2 rules on this call (a bad message, headers, a
    #: stream error): the core ended it with a status of its own.
    PROTOCOL_ERROR = "protocol error"
    #: The connection went (lost, GOAWAY that excluded the stream, connection error).
    CONNECTION = "connection"


@dataclass(slots=True)
class Event:
    """Base class of every gRPC connection event."""
