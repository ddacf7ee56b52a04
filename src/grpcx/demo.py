"""``python -m grpcx.demo``: a grpcx server and client on loopback, walking through all
four call types, a deadline, a cancellation and an error with rich details, and printing
what each side sees. The messages are protobuf's well-known wrapper types, so the demo
needs no generated code.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator

from google.protobuf.any_pb2 import Any as AnyMessage
from google.protobuf.wrappers_pb2 import Int64Value, StringValue
from google.rpc import error_details_pb2, status_pb2

import grpcx
import grpcx.aio
from grpcx import StatusCode

SERVICE = "grpcx.demo.Demo"


def _server_says(text: str) -> None:
    print(f"    server: {text}")


class DemoService:
    """The handlers; ``definition()`` describes them to the server."""

    async def greet(self, request: StringValue, context: grpcx.aio.ServicerContext) -> StringValue:
        if not request.value:
            detail = error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field="value", description="a name is required"
                    )
                ]
            )
            packed = AnyMessage()
            packed.Pack(detail)
            status = status_pb2.Status(
                code=StatusCode.INVALID_ARGUMENT, message="empty name", details=[packed]
            )
            _server_says("refusing an empty name with INVALID_ARGUMENT + BadRequest details")
            context.abort(StatusCode.INVALID_ARGUMENT, "empty name", status_details=status)
        who = context.invocation_metadata().get("x-demo-user", "anonymous")
        _server_says(f"greet({request.value!r}) from {context.peer()} as user {who!r}")
        context.set_trailing_metadata([("x-demo-served-by", "grpcx")])
        return StringValue(value=f"Hello, {request.value}!")

    async def count(
        self, request: Int64Value, context: grpcx.aio.ServicerContext
    ) -> AsyncIterator[Int64Value]:
        _server_says(f"count({request.value}) streaming")
        try:
            for i in range(request.value):
                yield Int64Value(value=i)
                await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            _server_says("count: the client cancelled; handler stopped")
            raise

    async def total(
        self, requests: AsyncIterator[Int64Value], context: grpcx.aio.ServicerContext
    ) -> Int64Value:
        values = [request.value async for request in requests]
        _server_says(f"total of {len(values)} numbers received as a stream")
        return Int64Value(value=sum(values))

    async def shout(
        self, requests: AsyncIterator[StringValue], context: grpcx.aio.ServicerContext
    ) -> AsyncIterator[StringValue]:
        async for request in requests:
            _server_says(f"shout heard {request.value!r}")
            yield StringValue(value=request.value.upper() + "!")

    async def slow(self, request: StringValue, context: grpcx.aio.ServicerContext) -> StringValue:
        _server_says(f"slow: {context.time_remaining():.2f}s left before the deadline")
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            _server_says("slow: deadline passed, handler cancelled")
            raise
        return request

    def definition(self) -> grpcx.ServiceDefinition:
        return grpcx.ServiceDefinition(
            SERVICE,
            [
                grpcx.unary_unary("Greet", self.greet, StringValue, StringValue),
                grpcx.unary_stream("Count", self.count, Int64Value, Int64Value),
                grpcx.stream_unary("Total", self.total, Int64Value, Int64Value),
                grpcx.stream_stream("Shout", self.shout, StringValue, StringValue),
                grpcx.unary_unary("Slow", self.slow, StringValue, StringValue),
            ],
        )


def _method(name: str) -> str:
    return f"/{SERVICE}/{name}"


async def run_client(channel: grpcx.aio.Channel) -> None:
    """The client's side of the demo."""
    ser_s, de_s = StringValue.SerializeToString, StringValue.FromString
    ser_i, de_i = Int64Value.SerializeToString, Int64Value.FromString

    print("1. unary: Greet")
    call = channel.unary_unary(_method("Greet"), ser_s, de_s)(
        StringValue(value="world"), metadata=[("x-demo-user", "ada")], timeout=5
    )
    reply = await call
    trailers = await call.trailing_metadata()
    print(f"    client: {reply.value!r}, trailing metadata {list(trailers)}")

    print("2. server streaming: Count(5)")
    numbers = [
        m.value
        async for m in channel.unary_stream(_method("Count"), ser_i, de_i)(Int64Value(value=5))
    ]
    print(f"    client: received {numbers}")

    print("3. client streaming: Total(1..10)")

    async def one_to_ten() -> AsyncIterator[Int64Value]:
        for i in range(1, 11):
            yield Int64Value(value=i)

    total = await channel.stream_unary(_method("Total"), ser_i, de_i)(one_to_ten())
    print(f"    client: total is {total.value}")

    print("4. bidirectional streaming: Shout")
    chat = channel.stream_stream(_method("Shout"), ser_s, de_s)()
    for word in ("hello", "grpcx"):
        await chat.write(StringValue(value=word))
        answer = await chat.read()
        assert isinstance(answer, StringValue)
        print(f"    client: sent {word!r}, got {answer.value!r}")
    await chat.done_writing()
    print(f"    client: after half-close, read() gives {await chat.read()!r}")

    print("5. deadline: Slow with a 0.3 s timeout")
    try:
        await channel.unary_unary(_method("Slow"), ser_s, de_s)(
            StringValue(value="zz"), timeout=0.3
        )
    except grpcx.RpcError as error:
        print(f"    client: {error.code().name}: {error.details()}")

    print("6. cancellation: Count(1000), cancelled after 3 messages")
    stream = channel.unary_stream(_method("Count"), ser_i, de_i)(Int64Value(value=1000))
    got = [(await stream.read()) for _ in range(3)]
    stream.cancel()
    print(f"    client: read {[m.value for m in got if isinstance(m, Int64Value)]}, cancelled")
    print(f"    client: call status {(await stream.code()).name}")
    await asyncio.sleep(0.05)

    print("7. error with details: Greet with an empty name")
    try:
        await channel.unary_unary(_method("Greet"), ser_s, de_s)(StringValue(value=""))
    except grpcx.RpcError as error:
        print(f"    client: {error.code().name}: {error.details()}")
        if error.status_details is not None:
            for detail in error.status_details.details:
                bad = error_details_pb2.BadRequest()
                if detail.Unpack(bad):
                    for violation in bad.field_violations:
                        print(
                            f"    client: detail BadRequest {violation.field}: "
                            f"{violation.description}"
                        )


async def main_async(port: int) -> None:
    server = grpcx.aio.Server()
    server.add_service(DemoService().definition())
    bound = await server.add_port(f"127.0.0.1:{port}")
    await server.start()
    print(f"grpcx server listening on 127.0.0.1:{bound}")
    try:
        async with grpcx.aio.Channel(f"127.0.0.1:{bound}") as channel:
            await run_client(channel)
    finally:
        await server.stop(1.0)
    print("done: server stopped gracefully")


def main(argv: list[str] | None = None) -> int:
    """Run the demo."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    asyncio.run(main_async(args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
