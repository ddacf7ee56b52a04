"""Fast tests for grpcx users: a server and a channel connected in memory.

The two sides talk real HTTP/2 through grpcx's core, byte for byte as over a socket, but
the bytes go through the event loop instead of the kernel::

    server = grpcx.aio.Server()
    server.add_service(my_service)
    async with grpcx.testing.in_memory_channel(server) as channel:
        reply = await channel.unary_unary("/pkg.Greeter/SayHello", ...)(request)

Every call on the channel reaches ``server``'s handlers with the same metadata,
deadlines, cancellation and status as over TCP.
"""

from __future__ import annotations

import asyncio
from typing import Any

from grpcx.aio._protocol import H2Protocol
from grpcx.aio.channel import Channel, _ClientConnection
from grpcx.aio.server import Server, _ServerConnection

__all__ = ["in_memory_channel"]


class _MemoryTransport(asyncio.Transport):
    """One end of an in-memory byte pipe: what one side writes, the other receives."""

    def __init__(self, loop: asyncio.AbstractEventLoop, protocol: H2Protocol) -> None:
        super().__init__()
        self._loop = loop
        self._protocol = protocol
        self.peer: _MemoryTransport | None = None
        self._closing = False
        self._reading = True
        self._pending: list[bytes] = []

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "peername":
            return "memory"
        return default

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def is_closing(self) -> bool:
        return self._closing

    def write(self, data: bytes | bytearray | memoryview) -> None:
        peer = self.peer
        if self._closing or peer is None or peer._closing:
            return
        # Delivered on a later loop iteration, as a socket would, never re-entrantly.
        self._loop.call_soon(peer._deliver, bytes(data))

    def _deliver(self, data: bytes) -> None:
        if self._closing:
            return
        if not self._reading:
            self._pending.append(data)
            return
        self._protocol.data_received(data)

    def pause_reading(self) -> None:
        self._reading = False

    def resume_reading(self) -> None:
        self._reading = True
        pending, self._pending = self._pending, []
        for data in pending:
            self._deliver(data)

    def is_reading(self) -> bool:
        return self._reading

    def get_write_buffer_size(self) -> int:
        return 0

    def can_write_eof(self) -> bool:
        return False

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._loop.call_soon(self._protocol.connection_lost, None)
        peer = self.peer
        if peer is not None and not peer._closing:
            # The other side sees the connection end after what was already written.
            self._loop.call_soon(peer.close)

    def abort(self) -> None:
        self.close()


class _InMemoryChannel(Channel):
    """A channel whose connections are in-memory pipes to ``server``."""

    def __init__(self, server: Server, **options: Any) -> None:
        super().__init__("localhost", **options)
        self._server = server

    async def _connect(self) -> _ClientConnection:
        loop = asyncio.get_running_loop()
        self._loop = loop
        server = self._server
        if server._loop is None:
            server._loop = loop
        client = _ClientConnection(self)
        server_side = _ServerConnection(server)
        client_transport = _MemoryTransport(loop, client)
        server_transport = _MemoryTransport(loop, server_side)
        client_transport.peer = server_transport
        server_transport.peer = client_transport
        server_side.connection_made(server_transport)
        client.connection_made(client_transport)
        self._connection = client
        return client


def in_memory_channel(server: Server, **options: Any) -> Channel:
    """A [`Channel`][grpcx.aio.Channel] connected in memory to ``server``.

    ``server`` needs its services added; it need not listen on any port, nor be started.
    ``options`` are those of [`Channel`][grpcx.aio.Channel] other than the target and TLS
    (``compression``, ``max_receive_message_length``, ...). Use it as an async context
    manager, or ``await channel.close()``.
    """
    return _InMemoryChannel(server, **options)
