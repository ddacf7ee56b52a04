"""A small HTTP/2 server and client on grpcx's sans-IO core, over asyncio.

Used by ``make demo`` and by the real-peer tests (nghttp, h2load, python-hyper h2,
nghttpd). The server answers ``GET`` with a short text body (or ``/size/N`` with N bytes)
and echoes the body of any other method; the client fetches one URL. This is a
demonstration of the core, not the gRPC server: that lives in ``grpcx.aio.server``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field
from typing import cast

from grpcx.http2.connection import H2Connection
from grpcx.http2.events import (
    ConnectionTerminated,
    DataReceived,
    GoAwayReceived,
    HeadersReceived,
    SendQueueDrained,
    StreamReset,
    TrailersReceived,
)
from grpcx.http2.settings import H2Config

GREETING = b"hello from the grpcx HTTP/2 core\n"


@dataclass
class _Request:
    headers: list[tuple[bytes, bytes]]
    body: bytearray = field(default_factory=bytearray)


class HTTP2DemoServerProtocol(asyncio.Protocol):
    """Serves each stream once its request has fully arrived."""

    def __init__(self, config: H2Config | None = None) -> None:
        self._conn = H2Connection(client_side=False, config=config or H2Config())
        self._transport: asyncio.Transport | None = None
        self._requests: dict[int, _Request] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses: a cast, not a check.
        transport = cast(asyncio.Transport, transport)
        self._transport = transport
        self._conn.initiate(time.monotonic())
        transport.write(self._conn.data_to_send())

    def data_received(self, data: bytes) -> None:
        conn = self._conn
        for event in conn.receive_data(data, time.monotonic()):
            if isinstance(event, HeadersReceived):
                self._requests[event.stream_id] = _Request(event.headers)
                if event.end_stream:
                    self._respond(event.stream_id)
            elif isinstance(event, DataReceived):
                request = self._requests.get(event.stream_id)
                if request is not None:
                    request.body += event.data
                conn.acknowledge_received_data(event.stream_id, event.flow_controlled_length)
                if event.end_stream:
                    self._respond(event.stream_id)
            elif isinstance(event, TrailersReceived):
                self._respond(event.stream_id)
            elif isinstance(event, StreamReset):
                self._requests.pop(event.stream_id, None)
            elif isinstance(event, ConnectionTerminated):
                self._flush()
                if self._transport is not None:
                    self._transport.close()
                return
        self._flush()

    def _respond(self, stream_id: int) -> None:
        request = self._requests.pop(stream_id, None)
        if request is None:
            return
        headers = dict(request.headers)
        method = headers.get(b":method", b"")
        path = headers.get(b":path", b"/")
        if method in (b"GET", b"HEAD"):
            if path.startswith(b"/size/") and path[6:].isdigit():
                body = b"x" * min(int(path[6:]), 64 << 20)
            else:
                body = GREETING
        else:
            body = bytes(request.body)
        response = [
            (b":status", b"200"),
            (b"content-type", b"application/octet-stream"),
            (b"content-length", str(len(body)).encode()),
        ]
        if method == b"HEAD":
            self._conn.send_headers(stream_id, response, end_stream=True)
            return
        self._conn.send_headers(stream_id, response)
        self._conn.send_data(stream_id, body, end_stream=True)

    def _flush(self) -> None:
        data = self._conn.data_to_send()
        if data and self._transport is not None:
            self._transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._requests.clear()


@dataclass
class Response:
    """What :func:`fetch` got back."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


class _HTTP2DemoClientProtocol(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._conn = H2Connection(client_side=True)
        self._transport: asyncio.Transport | None = None
        self._responses: dict[int, asyncio.Future[Response]] = {}
        self._headers: dict[int, list[tuple[bytes, bytes]]] = {}
        self._bodies: dict[int, bytearray] = {}
        self._loop = loop
        self.closed: asyncio.Future[None] = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses: a cast, not a check.
        transport = cast(asyncio.Transport, transport)
        self._transport = transport
        self._conn.initiate(time.monotonic())
        self._flush()

    def request(
        self, method: bytes, authority: bytes, path: bytes, body: bytes = b""
    ) -> asyncio.Future[Response]:
        stream_id = self._conn.get_next_stream_id()
        headers = [
            (b":method", method),
            (b":scheme", b"http"),
            (b":authority", authority),
            (b":path", path),
            (b"user-agent", b"grpcx-http2-demo"),
        ]
        self._conn.send_headers(stream_id, headers, end_stream=not body)
        if body:
            self._conn.send_data(stream_id, body, end_stream=True)
        future: asyncio.Future[Response] = self._loop.create_future()
        self._responses[stream_id] = future
        self._bodies[stream_id] = bytearray()
        self._flush()
        return future

    def data_received(self, data: bytes) -> None:
        conn = self._conn
        for event in conn.receive_data(data, time.monotonic()):
            if isinstance(event, HeadersReceived):
                self._headers[event.stream_id] = event.headers
                if event.end_stream:
                    self._finish(event.stream_id)
            elif isinstance(event, DataReceived):
                self._bodies[event.stream_id] += event.data
                conn.acknowledge_received_data(event.stream_id, event.flow_controlled_length)
                if event.end_stream:
                    self._finish(event.stream_id)
            elif isinstance(event, TrailersReceived):
                self._finish(event.stream_id)
            elif isinstance(event, StreamReset):
                self._fail(event.stream_id, f"stream reset, error code {event.error_code}")
            elif isinstance(event, (GoAwayReceived, ConnectionTerminated)):
                for stream_id in list(self._responses):
                    if not isinstance(event, GoAwayReceived) or stream_id > event.last_stream_id:
                        self._fail(stream_id, f"connection closing: {event}")
            elif isinstance(event, SendQueueDrained):
                pass
        self._flush()

    def _finish(self, stream_id: int) -> None:
        future = self._responses.pop(stream_id, None)
        headers = self._headers.pop(stream_id, [])
        body = bytes(self._bodies.pop(stream_id, b""))
        if future is not None and not future.done():
            status = int(dict(headers).get(b":status", b"0"))
            future.set_result(Response(status, headers, body))

    def _fail(self, stream_id: int, reason: str) -> None:
        future = self._responses.pop(stream_id, None)
        if future is not None and not future.done():
            future.set_exception(ConnectionError(reason))

    def _flush(self) -> None:
        data = self._conn.data_to_send()
        if data and self._transport is not None:
            self._transport.write(data)

    def close(self) -> None:
        self._conn.send_goaway(0)
        self._flush()
        if self._transport is not None:
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        for stream_id in list(self._responses):
            self._fail(stream_id, f"connection lost: {exc}")
        if not self.closed.done():
            self.closed.set_result(None)


async def fetch(
    host: str, port: int, path: str = "/", *, method: str = "GET", body: bytes = b""
) -> Response:
    """One request over a new HTTP/2 (prior knowledge, cleartext) connection."""
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(lambda: _HTTP2DemoClientProtocol(loop), host, port)
    try:
        authority = f"{host}:{port}".encode()
        return await protocol.request(method.encode(), authority, path.encode(), body)
    finally:
        protocol.close()


async def serve(host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    """Start the demo server; ``port=0`` picks a free port."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(HTTP2DemoServerProtocol, host, port)


async def _demo(port: int, seconds: float) -> None:
    server = await serve("127.0.0.1", port)
    bound = server.sockets[0].getsockname()[1]
    print(f"grpcx HTTP/2 core listening on 127.0.0.1:{bound}")
    async with server:
        nghttp = await asyncio.create_subprocess_exec(
            "nghttp", "-v", "-n", f"http://127.0.0.1:{bound}/", stdout=asyncio.subprocess.PIPE
        )
        out, _ = await nghttp.communicate()
        print("--- nghttp -v (frames as nghttp2 saw them) ---")
        print(out.decode(errors="replace").strip())
        response = await fetch("127.0.0.1", bound, "/echo", method="POST", body=b"ping " * 4)
        print("--- grpcx client POST /echo ---")
        print(f"status {response.status}, body {response.body!r}")
        if seconds:
            await asyncio.sleep(seconds)


def main(argv: list[str] | None = None) -> int:
    """``python -m grpcx.aio._http2_demo [--port N] [--serve SECONDS]``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--serve", type=float, default=0.0, help="keep serving this long")
    args = parser.parse_args(argv)
    asyncio.run(_demo(args.port, args.serve))
    return 0


if __name__ == "__main__":
    sys.exit(main())
