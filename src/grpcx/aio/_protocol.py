"""What the server's and the client's HTTP/2 connections share on asyncio: the sans-IO
core, its transport, and writing at most once per loop iteration."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from typing import cast

from grpcx.http2.connection import H2Connection

__all__ = ["H2Protocol"]


# The buffer sockets are read into (see H2Protocol.get_buffer): one per thread, so one per
# event loop, shared by its connections. Each read is copied out before the next begins.
_READ_BUFFER_SIZE = 256 * 1024  # what asyncio's own transports read at most per call
_read_buffers = threading.local()


def _read_buffer() -> memoryview:
    view: memoryview | None = getattr(_read_buffers, "view", None)
    if view is None:
        view = _read_buffers.view = memoryview(bytearray(_READ_BUFFER_SIZE))
    return view


class H2Protocol(asyncio.BufferedProtocol):
    """An ``asyncio`` protocol around one :class:`H2Connection`.

    Subclasses handle events (``data_received``); this class sets the socket up, sends the
    preface, and batches output: everything a loop iteration produces leaves in one
    ``write``.

    It is a BufferedProtocol: the transport reads into a buffer we hand it. A plain
    Protocol gets a new bytes object per read, which asyncio allocates at 256 KiB and then
    shrinks; that size is past glibc's mmap threshold, so every read also cost an mmap, an
    mremap and a munmap (three more syscalls per request on a connection with one call in
    flight).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, h2: H2Connection) -> None:
        self.loop = loop
        self.h2 = h2
        self.transport: asyncio.Transport | None = None
        self.paused = False  # the transport asked us to stop writing
        self.closed = False
        self._flush_scheduled = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses: a cast, not a check.
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # Small frames go out now: gRPC latency, not Nagle's batching.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.h2.initiate(self.loop.time())
        transport.write(self.h2.data_to_send())

    def get_buffer(self, sizehint: int) -> memoryview:
        return _read_buffer()

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(_read_buffer()[:nbytes]))

    def data_received(self, data: bytes) -> None:
        """Bytes from the peer (subclasses handle them)."""
        raise NotImplementedError

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        # The peer may have closed first; closing our side too marks the transport done
        # (on Python 3.10 an SSL transport left unclosed warns when collected).
        if self.transport is not None:
            self.transport.close()

    def schedule_flush(self) -> None:
        """Write what the core has queued, once, at the end of this loop iteration."""
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self.flush)

    def flush_now(self) -> None:
        """Write a scheduled flush's bytes at once (before waiting on the peer)."""
        if self._flush_scheduled:
            self.flush()

    def flush(self) -> None:
        """Write what the core has queued now."""
        self._flush_scheduled = False
        data = self.h2.data_to_send()
        if data and self.transport is not None and not self.closed:
            self.transport.write(data)
