"""The server's per-call path without sockets: unary calls/s through grpcx.aio's server.

A client H2Connection prepares the bytes of N unary requests (the header block a grpc
C-core client sends, a 100-byte message, END_STREAM); the server's protocol object gets
them in 16 KiB reads, as from a socket, and its writes go to a counting transport. What
is measured is everything between ``data_received`` and ``transport.write``: HTTP/2
parsing, HPACK, gRPC header parsing, the handler call, the response and its encoding.
The client side of the exchange (decoding the responses) is not measured.

The clock is this process's CPU time, so other work on a shared machine skews it less.
Requests come in two shapes: without ``grpc-timeout`` (as h2load and many clients send
them: the header block repeats exactly) and with a per-call ``grpc-timeout``. A third row
streams 100-byte request messages into one client-streaming call, one DATA frame each; a
fourth has one server-streaming call yield 100-byte messages.
Run: ``python bench/bench_server_path.py [--quick] [--profile [--deadlines]]``.
"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
import sys
import time
from typing import Any

import grpcx
from grpcx.aio.server import Server, _ServerConnection
from grpcx.http2.connection import H2Connection
from grpcx.http2.events import DataReceived, TrailersReceived
from grpcx.http2.frames import build_data
from grpcx.http2.settings import H2Config
from grpcx.protocol.messages import encode_message

PATH = b"/bench.Echo/Unary"


def request_headers(timeout: bytes | None) -> list[tuple[bytes, bytes]]:
    deadline = [(b"grpc-timeout", timeout)] if timeout is not None else []
    return [
        (b":method", b"POST"),
        (b":scheme", b"http"),
        (b":path", PATH),
        (b":authority", b"127.0.0.1:50051"),
        *deadline,
        (b"te", b"trailers"),
        (b"content-type", b"application/grpc"),
        (b"user-agent", b"grpc-python/1.85.3 grpc-c/51.0.0 (linux; chttp2)"),
        (b"grpc-accept-encoding", b"identity, deflate, gzip"),
    ]


class QuietTransport(asyncio.Transport):
    """A transport without a socket: always open, reading controls ignored. Subclasses say
    what becomes of writes (here and in bench_client_path.py)."""

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0  # (everything written is gone at once)


class CountingTransport(QuietTransport):
    """Collects what the server writes; the client reads it back to count calls."""

    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[bytes] = []
        self.writes = 0

    def write(self, data: Any) -> None:
        self.writes += 1
        self.chunks.append(bytes(data))


def build_requests(client: H2Connection, calls: int, deadlines: bool) -> list[bytes]:
    message = encode_message(b"m" * 100)
    for i in range(calls):
        stream_id = client.get_next_stream_id()
        timeout = b"%dm" % (1000 + i % 997) if deadlines else None
        client.send_headers(stream_id, request_headers(timeout))
        client.send_data(stream_id, message, end_stream=True)
    wire = client.data_to_send()
    return [wire[i : i + 16384] for i in range(0, len(wire), 16384)]


async def echo(request: bytes, context: Any) -> bytes:
    return request


def bench_server(method: grpcx.MethodHandler, config: H2Config | None = None) -> Server:
    """A server with one ``bench.Echo`` method, on the running loop (never started)."""
    server = Server(h2_config=config)
    server.add_service(grpcx.ServiceDefinition("bench.Echo", [method]))
    server._loop = asyncio.get_running_loop()
    return server


def connect(
    server: Server, client_config: H2Config | None = None
) -> tuple[H2Connection, CountingTransport, _ServerConnection]:
    """A client connection (with ``client_config``) and the server's protocol object, the
    preface and SETTINGS exchanged; the transport's chunks are empty."""
    client = H2Connection(client_side=True, config=client_config)
    client.initiate(0.0)
    transport = CountingTransport()
    protocol = _ServerConnection(server)
    protocol.connection_made(transport)
    protocol.data_received(client.data_to_send())
    client.receive_data(b"".join(transport.chunks), 0.0)
    protocol.data_received(client.data_to_send())  # the client's SETTINGS ACK
    transport.chunks.clear()
    return client, transport, protocol


async def run(calls: int, repeats: int, profile: bool, deadlines: bool) -> float:
    loop = asyncio.get_running_loop()
    # Every request is built before the clock starts, so the client holds them all open:
    # the server allows that many streams (a setting; the per-call path is unchanged).
    server = bench_server(
        grpcx.unary_unary("Unary", echo, bytes, bytes),
        H2Config(max_concurrent_streams=calls),
    )
    best = 0.0
    profiler = cProfile.Profile() if profile else None
    for _ in range(repeats):
        client, transport, protocol = connect(server)
        batches = [build_requests(client, 100, deadlines) for _ in range(calls // 100)]
        transport.chunks.clear()
        if profiler is not None:
            profiler.enable()
        start = time.process_time()
        for batch in batches:
            # From loop callbacks, as a real transport calls it (not from inside a Task).
            for chunk in batch:
                loop.call_soon(protocol.data_received, chunk)
            await asyncio.sleep(0)
        for _ in range(3):  # the last flushes and any handler Tasks
            await asyncio.sleep(0)
        elapsed = time.process_time() - start
        if profiler is not None:
            profiler.disable()
        done = 0
        for event in client.receive_data(b"".join(transport.chunks), 0.0):
            if isinstance(event, TrailersReceived):
                done += 1
            elif isinstance(event, DataReceived):
                client.acknowledge_received_data(event.stream_id, event.flow_controlled_length)
        assert done == calls, (
            f"only {done} of {calls} calls completed; {len(protocol.calls)} open, "
            f"writes {transport.writes}"
        )
        best = max(best, calls / elapsed)
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    return best


async def count_requests(requests: Any, context: Any) -> bytes:
    n = 0
    async for _ in requests:
        n += 1
    return b"%d" % n


async def run_client_stream(messages: int, repeats: int) -> float:
    """Messages/s of one client-streaming call: 100-byte messages, one DATA frame each (as
    grpc-go's client sends them), fed in 64 KiB reads; the handler counts them."""
    loop = asyncio.get_running_loop()
    server = bench_server(grpcx.stream_unary("Count", count_requests, bytes, bytes))
    best = 0.0
    frame = encode_message(b"m" * 100)
    for _ in range(repeats):
        client, transport, protocol = connect(server)
        headers = request_headers(None)
        headers[2] = (b":path", b"/bench.Echo/Count")
        stream_id = client.get_next_stream_id()
        client.send_headers(stream_id, headers)
        # Built directly (not with send_data): the server reopens its windows as the
        # handler reads, which a client connection here would never hear of.
        wire = client.data_to_send() + b"".join(
            build_data(stream_id, frame, end_stream=i == messages - 1) for i in range(messages)
        )
        chunks = [wire[i : i + 65536] for i in range(0, len(wire), 65536)]
        transport.chunks.clear()
        start = time.process_time()
        for chunk in chunks:
            loop.call_soon(protocol.data_received, chunk)
            await asyncio.sleep(0)
        for _ in range(3):
            await asyncio.sleep(0)
        elapsed = time.process_time() - start
        events = client.receive_data(b"".join(transport.chunks), 0.0)
        data = b"".join(e.data for e in events if isinstance(e, DataReceived))
        assert data[5:] == b"%d" % messages, f"the handler counted {data[5:]!r}"
        best = max(best, messages / elapsed)
    return best


STREAM_ITEM = b"m" * 100


async def stream_items(request: bytes, context: Any) -> Any:
    for _ in range(int(request)):
        yield STREAM_ITEM


async def run_server_stream(messages: int, repeats: int) -> float:
    """Messages/s of one server-streaming call: the handler yields ``messages`` 100-byte
    messages; the client's windows are open wide, so flow control never holds them back."""
    loop = asyncio.get_running_loop()
    server = bench_server(grpcx.unary_stream("Stream", stream_items, bytes, bytes))
    wide = H2Config(initial_window_size=2**31 - 1, connection_window_size=2**31 - 1)
    best = 0.0
    for _ in range(repeats):
        client, transport, protocol = connect(server, wide)
        headers = request_headers(None)
        headers[2] = (b":path", b"/bench.Echo/Stream")
        stream_id = client.get_next_stream_id()
        client.send_headers(stream_id, headers)
        client.send_data(stream_id, encode_message(b"%d" % messages), end_stream=True)
        wire = client.data_to_send()
        start = time.process_time()
        loop.call_soon(protocol.data_received, wire)
        await asyncio.sleep(0)
        for _ in range(10 * messages):  # bounded: the handler's Task yields now and then
            if stream_id not in protocol.calls:
                break
            await asyncio.sleep(0)
        for _ in range(3):
            await asyncio.sleep(0)
        elapsed = time.process_time() - start
        events = client.receive_data(b"".join(transport.chunks), 0.0)
        received = sum(len(e.data) for e in events if isinstance(e, DataReceived))
        ended = [e for e in events if isinstance(e, TrailersReceived)]
        assert received == messages * (len(STREAM_ITEM) + 5) and ended, "stream incomplete"
        best = max(best, messages / elapsed)
    return best


def main() -> None:
    quick = "--quick" in sys.argv
    profile = "--profile" in sys.argv
    calls = 2000 if quick else 10000
    repeats = 3 if quick else 7
    rows = []
    for deadlines in (False, True):
        if profile and deadlines != ("--deadlines" in sys.argv):
            continue
        rate = asyncio.run(run(calls, repeats, profile, deadlines))
        shape = "with a per-call grpc-timeout" if deadlines else "without grpc-timeout"
        rows.append(f"| server path, unary 100-byte echo, {shape} | {rate:,.0f} |")
    if not profile:
        rate = asyncio.run(run_client_stream(20_000 if quick else 200_000, repeats // 2 + 1))
        rows.append(
            f"| server path, client streaming of 100-byte messages (msgs/s) | {rate:,.0f} |"
        )
        rate = asyncio.run(run_server_stream(20_000 if quick else 100_000, repeats // 2 + 1))
        rows.append(
            f"| server path, server streaming of 100-byte messages (msgs/s) | {rate:,.0f} |"
        )
    print("| benchmark | grpcx calls/s |")
    print("| --- | ---: |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
