"""The client's per-call path without sockets: unary calls/s through grpcx.aio's Channel.

The client twin of ``bench_server_path.py``. A real :class:`grpcx.aio.Channel` gets a
real connection protocol object whose transport is a fake one; the server is played by a
sans-IO ``H2Connection(client_side=False)`` that answers every request as a gRPC server
does (response headers, the request's message echoed, trailers). Whatever the client
writes in one loop iteration reaches the server as one read; the server's answer to it
comes back to the client's ``data_received`` from a loop callback, as one read per 64 KiB,
as from a socket.

User code is the suite's own-client scenario: 64 coroutines, each awaiting
``await method(request)`` in a loop on one channel (64 calls in flight), with protobuf
``BytesValue`` messages of 100 bytes, every echo checked.

The clock is this process's CPU time, less the CPU time spent in the simulated server,
so what is measured is the client: the user's coroutines, the call objects, HTTP/2 and
HPACK on the client side, gRPC header parsing, deframing, status, the event loop's own
work per iteration.
Calls come without a timeout (the suite's shape) and with one (``timeout=5.0``: a
``grpc-timeout`` header per call and a deadline timer).
Run: ``python bench/bench_client_path.py [--quick] [--profile [--deadlines]]``.
"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
import sys
import time
from typing import Any

from google.protobuf.wrappers_pb2 import BytesValue

import grpcx.aio
from bench_server_path import QuietTransport  # (this script's directory is on sys.path)
from grpcx.aio.channel import _ClientConnection
from grpcx.http2.connection import H2Connection
from grpcx.http2.events import DataReceived

PATH = "/bench.Bench/Unary"
IN_FLIGHT = 64
READ_SIZE = 64 << 10
# What grpc-go's server sends: response headers, then trailers with an empty grpc-message.
RESPONSE_HEADERS = ((b":status", b"200"), (b"content-type", b"application/grpc"))
TRAILERS = ((b"grpc-status", b"0"), (b"grpc-message", b""))


class FakeServer:
    """The peer: a server-side H2Connection that echoes each unary request."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.h2 = H2Connection(client_side=False)
        self.protocol: asyncio.Protocol | None = None
        self.inbox: list[bytes] = []
        self.scheduled = False
        self.cpu = 0.0  # CPU time spent here, taken off the client's
        self.profiler: cProfile.Profile | None = None
        self.calls = 0

    def receive(self, data: bytes) -> None:
        self.inbox.append(data)
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self.step)

    def step(self) -> None:
        profiler = self.profiler
        if profiler is not None:
            profiler.disable()
        start = time.process_time()
        self.scheduled = False
        data = b"".join(self.inbox)
        self.inbox.clear()
        h2 = self.h2
        for event in h2.receive_data(data, 0.0):
            if type(event) is DataReceived:
                h2.acknowledge_received_data(event.stream_id, event.flow_controlled_length)
                if event.end_stream:
                    h2.send_response(event.stream_id, RESPONSE_HEADERS, event.data, TRAILERS)
                    self.calls += 1
        out = h2.data_to_send()
        protocol = self.protocol
        assert protocol is not None
        for i in range(0, len(out), READ_SIZE):
            self.loop.call_soon(protocol.data_received, out[i : i + READ_SIZE])
        self.cpu += time.process_time() - start
        if profiler is not None:
            profiler.enable()


class FakeTransport(QuietTransport):
    """Hands what the client writes to the fake server."""

    def __init__(self, server: FakeServer) -> None:
        super().__init__()
        self.server = server
        self.writes = 0

    def write(self, data: Any) -> None:
        self.writes += 1
        self.server.receive(bytes(data))


async def worker(method: Any, w: int, remaining: list[int], timeout: float | None) -> None:
    """User code: one call at a time, ``remaining[0]`` calls left among all workers."""
    data = bytes((w + i * 7) & 0xFF for i in range(100))
    request = BytesValue(value=data)
    while remaining[0] > 0:
        remaining[0] -= 1
        if timeout is None:
            reply = await method(request)
        else:
            reply = await method(request, timeout=timeout)
        if reply.value != data:
            raise AssertionError("echo mismatch")


async def run(
    calls: int, repeats: int, profile: bool, timeout: float | None
) -> tuple[float, float]:
    """Best calls/s over ``repeats`` runs, and the transport writes per call of that run."""
    loop = asyncio.get_running_loop()
    best = 0.0
    writes_per_call = 0.0
    profiler = cProfile.Profile() if profile else None
    for _ in range(repeats):
        server = FakeServer(loop)
        transport = FakeTransport(server)
        channel = grpcx.aio.Channel("127.0.0.1:50051")
        # What Channel._connect does once create_connection() returns the protocol.
        protocol = _ClientConnection(channel)
        server.protocol = protocol
        protocol.connection_made(transport)
        channel._connection = protocol
        method = channel.unary_unary(PATH, BytesValue.SerializeToString, BytesValue.FromString)
        remaining = [calls]
        for size in (0, 1, 100, 5000):  # warm-up, as the suite's check()
            value = b"w" * size
            assert (await method(BytesValue(value=value))).value == value
        server.cpu = 0.0
        server.calls = 0
        writes = transport.writes
        server.profiler = profiler
        if profiler is not None:
            profiler.enable()
        start = time.process_time()
        await asyncio.gather(*(worker(method, w, remaining, timeout) for w in range(IN_FLIGHT)))
        elapsed = time.process_time() - start - server.cpu
        if profiler is not None:
            profiler.disable()
        server.profiler = None
        assert server.calls == calls, f"the server answered {server.calls} of {calls} calls"
        await channel.close()
        rate = calls / elapsed
        if rate > best:
            best = rate
            writes_per_call = (transport.writes - writes) / calls
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(35)
    return best, writes_per_call


def main() -> None:
    quick = "--quick" in sys.argv
    profile = "--profile" in sys.argv
    calls = 5000 if quick else 20000
    repeats = 3 if quick else 7
    rows = []
    for timeout in (None, 5.0):
        if profile and (timeout is not None) != ("--deadlines" in sys.argv):
            continue
        rate, writes = asyncio.run(run(calls, repeats, profile, timeout))
        shape = "no timeout" if timeout is None else "a 5 s timeout per call"
        rows.append(f"| client path, unary 100-byte echo, {shape} | {rate:,.0f} | {writes:.3f} |")
    print(
        f"| benchmark ({IN_FLIGHT} calls in flight on one channel) | grpcx calls/s | writes/call |"
    )
    print("| --- | ---: | ---: |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
