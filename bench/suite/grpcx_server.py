"""bench.Bench on grpcx's asyncio server (``--uvloop``: on uvloop; ``--workers N``)."""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import signal
from collections.abc import AsyncIterator
from typing import Any

from bench.suite.common import (
    STREAM_ITEM,
    BytesValue,
    Int64Value,
    announce_port,
    install_uvloop,
)

import grpcx
import grpcx.aio

# Unary calls served, one slot per worker process (shared memory, so Stats can sum them
# whichever worker answers it; each worker only writes its own slot).
counts: Any = None
slot = 0


async def unary(request: BytesValue, context: Any) -> BytesValue:
    counts[slot] += 1
    return request


async def stats(request: Int64Value, context: Any) -> Int64Value:
    return Int64Value(value=sum(counts))


async def server_stream(request: Int64Value, context: Any) -> AsyncIterator[BytesValue]:
    item = STREAM_ITEM
    for _ in range(request.value):
        yield item


async def client_stream(requests: AsyncIterator[BytesValue], context: Any) -> Int64Value:
    n = 0
    async for _ in requests:
        n += 1
    return Int64Value(value=n)


async def ping_pong(requests: AsyncIterator[BytesValue], context: Any) -> AsyncIterator[BytesValue]:
    async for request in requests:
        yield request


def service() -> grpcx.ServiceDefinition:
    return grpcx.ServiceDefinition(
        "bench.Bench",
        [
            grpcx.unary_unary("Unary", unary, BytesValue, BytesValue),
            grpcx.unary_unary("Stats", stats, Int64Value, Int64Value),
            grpcx.unary_stream("ServerStream", server_stream, Int64Value, BytesValue),
            grpcx.stream_unary("ClientStream", client_stream, BytesValue, Int64Value),
            grpcx.stream_stream("PingPong", ping_pong, BytesValue, BytesValue),
        ],
    )


async def main(port: int) -> None:
    server = grpcx.aio.Server()
    server.add_service(service())
    bound = await server.add_port(f"127.0.0.1:{port}")
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    announce_port(bound)
    await stop.wait()
    await server.stop(0)


def serve_workers(port: int, workers: int) -> None:
    """``workers`` processes on one port (grpcx.aio.WorkerGroup, SO_REUSEPORT)."""
    next_slot = multiprocessing.Value("i", 0)

    def setup(server: grpcx.aio.Server) -> None:
        global slot
        with next_slot.get_lock():
            slot = next_slot.value
            next_slot.value += 1
        server.add_service(service())

    group = grpcx.aio.WorkerGroup(setup, f"127.0.0.1:{port}", workers=workers, grace=0)
    announce_port(group.start())
    group.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--uvloop", action="store_true")
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args()
    counts = multiprocessing.Array("q", max(1, args.workers), lock=False)
    if args.workers:
        serve_workers(args.port, args.workers)  # each worker uses uvloop when installed
    else:
        if args.uvloop:
            install_uvloop()
        asyncio.run(main(args.port))
