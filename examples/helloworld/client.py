"""The helloworld client: ``python examples/helloworld/client.py [--port 50051] [NAME]``."""

from __future__ import annotations

import argparse
import asyncio

import helloworld_grpcx
from helloworld_pb2 import HelloRequest

import grpcx.aio


async def main(port: int, name: str) -> None:
    async with grpcx.aio.Channel(f"127.0.0.1:{port}") as channel:
        greeter = helloworld_grpcx.GreeterStub(channel)
        reply = await greeter.say_hello(HelloRequest(name=name), timeout=5)
        print(reply.message)
        async for reply in greeter.say_hello_stream(HelloRequest(name=name, times=2)):
            print(reply.message)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=50051)
    parser.add_argument("name", nargs="?", default="world")
    args = parser.parse_args()
    asyncio.run(main(args.port, args.name))
