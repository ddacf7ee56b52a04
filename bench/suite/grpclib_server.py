"""bench.Bench on grpclib (asyncio, pure Python over the h2 library)."""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

from bench.suite.common import (
    CLIENT_STREAM,
    PING_PONG,
    SERVER_STREAM,
    STATS,
    STREAM_ITEM,
    UNARY,
    BytesValue,
    Int64Value,
)
from bench.suite.common import announce_port as _announce
from grpclib.const import Cardinality, Handler
from grpclib.server import Server, Stream


class Bench:
    def __init__(self) -> None:
        self.unary_count = 0

    async def unary(self, stream: Stream[BytesValue, BytesValue]) -> None:
        request = await stream.recv_message()
        self.unary_count += 1
        await stream.send_message(request)

    async def stats(self, stream: Stream[Int64Value, Int64Value]) -> None:
        await stream.recv_message()
        await stream.send_message(Int64Value(value=self.unary_count))

    async def server_stream(self, stream: Stream[Int64Value, BytesValue]) -> None:
        request = await stream.recv_message()
        assert request is not None
        item = STREAM_ITEM
        for _ in range(request.value):
            await stream.send_message(item)

    async def client_stream(self, stream: Stream[BytesValue, Int64Value]) -> None:
        n = 0
        async for _ in stream:
            n += 1
        await stream.send_message(Int64Value(value=n))

    async def ping_pong(self, stream: Stream[BytesValue, BytesValue]) -> None:
        async for request in stream:
            await stream.send_message(request)

    def __mapping__(self) -> dict[str, Handler]:
        C = Cardinality
        return {
            UNARY: Handler(self.unary, C.UNARY_UNARY, BytesValue, BytesValue),
            STATS: Handler(self.stats, C.UNARY_UNARY, Int64Value, Int64Value),
            SERVER_STREAM: Handler(self.server_stream, C.UNARY_STREAM, Int64Value, BytesValue),
            CLIENT_STREAM: Handler(self.client_stream, C.STREAM_UNARY, BytesValue, Int64Value),
            PING_PONG: Handler(self.ping_pong, C.STREAM_STREAM, BytesValue, BytesValue),
        }


async def main(port: int) -> None:
    server = Server([Bench()])
    await server.start("127.0.0.1", port)
    assert server._server is not None
    bound = server._server.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    _announce(bound)
    await stop.wait()
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    args: Any = parser.parse_args()
    asyncio.run(main(args.port))
