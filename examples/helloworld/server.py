"""The helloworld server: ``python examples/helloworld/server.py [--port 50051]``."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator

import helloworld_grpcx
from helloworld_pb2 import HelloReply, HelloRequest

import grpcx.aio


class Greeter(helloworld_grpcx.GreeterServicer):
    async def say_hello(
        self, request: HelloRequest, context: grpcx.aio.ServicerContext
    ) -> HelloReply:
        return HelloReply(message=f"Hello, {request.name}!")

    async def say_hello_stream(
        self, request: HelloRequest, context: grpcx.aio.ServicerContext
    ) -> AsyncIterator[HelloReply]:
        for i in range(request.times):
            yield HelloReply(message=f"Hello #{i + 1}, {request.name}!")


async def serve(port: int) -> None:
    server = grpcx.aio.Server()
    server.add_service(Greeter())
    bound = await server.add_port(f"127.0.0.1:{port}")
    await server.start()  # (serve() would start it too; started first, it is ready to print)
    print(f"listening on 127.0.0.1:{bound}", flush=True)
    # Until Ctrl-C or SIGTERM; then calls in flight get 5 s to finish, new ones are refused.
    await server.serve(grace=5.0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=50051, help="0 picks a free port")
    asyncio.run(serve(parser.parse_args().port))
