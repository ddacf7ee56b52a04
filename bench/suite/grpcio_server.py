"""bench.Bench on grpcio: ``--mode sync`` (thread pool) or ``--mode aio`` (grpc.aio)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent import futures
from typing import Any

import grpc
from bench.suite.common import (
    SERVICE,
    STREAM_ITEM,
    BytesValue,
    Int64Value,
    announce_port,
)

# Threads of the sync server: each call in progress holds one.
SYNC_WORKERS = 64

unary_count = 0
_count_lock = threading.Lock()


def _handlers(
    unary: Any, stats: Any, server_stream: Any, client_stream: Any, ping_pong: Any
) -> grpc.GenericRpcHandler:
    bv_in, bv_out = BytesValue.FromString, BytesValue.SerializeToString
    i_in, i_out = Int64Value.FromString, Int64Value.SerializeToString
    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Unary": grpc.unary_unary_rpc_method_handler(unary, bv_in, bv_out),
            "Stats": grpc.unary_unary_rpc_method_handler(stats, i_in, i_out),
            "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream, i_in, bv_out),
            "ClientStream": grpc.stream_unary_rpc_method_handler(client_stream, bv_in, i_out),
            "PingPong": grpc.stream_stream_rpc_method_handler(ping_pong, bv_in, bv_out),
        },
    )


# -- sync


def s_unary(request: BytesValue, context: Any) -> BytesValue:
    global unary_count
    with _count_lock:
        unary_count += 1
    return request


def s_stats(request: Int64Value, context: Any) -> Int64Value:
    return Int64Value(value=unary_count)


def s_server_stream(request: Int64Value, context: Any) -> Iterator[BytesValue]:
    item = STREAM_ITEM
    for _ in range(request.value):
        yield item


def s_client_stream(requests: Iterator[BytesValue], context: Any) -> Int64Value:
    return Int64Value(value=sum(1 for _ in requests))


def s_ping_pong(requests: Iterator[BytesValue], context: Any) -> Iterator[BytesValue]:
    yield from requests


def run_sync(port: int) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=SYNC_WORKERS))
    server.add_generic_rpc_handlers(
        (_handlers(s_unary, s_stats, s_server_stream, s_client_stream, s_ping_pong),)
    )
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    announce_port(bound)
    stop.wait()
    server.stop(0)


# -- aio


async def a_unary(request: BytesValue, context: Any) -> BytesValue:
    global unary_count
    unary_count += 1
    return request


async def a_stats(request: Int64Value, context: Any) -> Int64Value:
    return Int64Value(value=unary_count)


async def a_server_stream(request: Int64Value, context: Any) -> AsyncIterator[BytesValue]:
    item = STREAM_ITEM
    for _ in range(request.value):
        yield item


async def a_client_stream(requests: AsyncIterator[BytesValue], context: Any) -> Int64Value:
    n = 0
    async for _ in requests:
        n += 1
    return Int64Value(value=n)


async def a_ping_pong(
    requests: AsyncIterator[BytesValue], context: Any
) -> AsyncIterator[BytesValue]:
    async for request in requests:
        yield request


async def run_aio(port: int) -> None:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (_handlers(a_unary, a_stats, a_server_stream, a_client_stream, a_ping_pong),)
    )
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    announce_port(bound)
    await stop.wait()
    await server.stop(0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mode", choices=("sync", "aio"), default="aio")
    args = parser.parse_args()
    if args.mode == "sync":
        run_sync(args.port)
    else:
        asyncio.run(run_aio(args.port))
