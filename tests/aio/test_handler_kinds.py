"""Which handlers ``Server.add_service`` accepts: the ones the asyncio server can run.

A plain ``def`` (or the wrong kind of ``async def``) is refused at registration with a
TypeError that names the method and what it needs, instead of failing every call.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import grpcx
from grpcx.aio import Server, ServicerContext
from grpcx.testing import in_memory_channel

WAIT = 10.0


def _same(data: bytes) -> bytes:
    return data


async def _echo(request: bytes, context: ServicerContext) -> bytes:
    return request


async def _echo_twice(request: bytes, context: ServicerContext) -> AsyncIterator[bytes]:
    yield request
    yield request


async def _prefixed(prefix: bytes, request: bytes, context: ServicerContext) -> bytes:
    return prefix + request


class _AsyncCallable:
    async def __call__(self, request: bytes, context: ServicerContext) -> bytes:
        return b"object " + request


class _Servicer:
    async def method(self, request: bytes, context: ServicerContext) -> bytes:
        return b"method " + request


def _logged(handler: Callable[..., Any]) -> Callable[..., Any]:
    """A decorator written as a plain def that keeps ``__wrapped__`` (functools.wraps)."""

    @functools.wraps(handler)
    def wrapper(request: bytes, context: ServicerContext) -> Any:
        return handler(request, context)

    return wrapper


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        (_echo, b"hi"),
        (_Servicer().method, b"method hi"),
        (functools.partial(_prefixed, b"partial "), b"partial hi"),
        (_AsyncCallable(), b"object hi"),
        (_logged(_echo), b"hi"),
    ],
    ids=["function", "bound method", "partial", "async __call__", "wraps decorator"],
)
async def test_async_unary_handlers_are_accepted(handler: Any, expected: bytes) -> None:
    server = Server()
    server.add_service(
        grpcx.ServiceDefinition("t.T", [grpcx.unary_unary("M", handler, _same, _same)])
    )
    async with in_memory_channel(server) as channel:
        reply = await asyncio.wait_for(channel.unary_unary("/t.T/M")(b"hi"), WAIT)
    assert reply == expected


async def test_async_generator_is_accepted_for_streamed_responses() -> None:
    server = Server()
    server.add_service(
        grpcx.ServiceDefinition("t.T", [grpcx.unary_stream("M", _echo_twice, _same, _same)])
    )
    async with in_memory_channel(server) as channel:
        call = channel.unary_stream("/t.T/M")(b"hi")
        replies = await asyncio.wait_for(_collect(call), WAIT)
    assert replies == [b"hi", b"hi"]


async def _collect(call: AsyncIterator[bytes]) -> list[bytes]:
    return [reply async for reply in call]


def _plain(request: Any, context: ServicerContext) -> bytes:
    return b""


@pytest.mark.parametrize(
    ("make", "handler", "found", "needed"),
    [
        (
            grpcx.unary_unary,
            _plain,
            "is not async (a plain def?)",
            "a coroutine function: async def handler(request, context) that returns the response",
        ),
        (
            grpcx.stream_unary,
            _plain,
            "is not async (a plain def?)",
            "async def handler(request_iterator, context) that returns the response",
        ),
        (
            grpcx.unary_stream,
            _plain,
            "is not async (a plain def?)",
            "an async generator: async def handler(request, context) that yields the responses",
        ),
        (
            grpcx.stream_stream,
            _plain,
            "is not async (a plain def?)",
            "async def handler(request_iterator, context) that yields the responses",
        ),
        (
            grpcx.unary_unary,
            _echo_twice,
            "is an async generator function (async def with yield)",
            "a coroutine function",
        ),
        (
            grpcx.unary_stream,
            _echo,
            "is a coroutine function (async def without yield)",
            "an async generator",
        ),
    ],
)
async def test_other_handlers_are_refused_at_registration(
    make: Callable[..., grpcx.MethodHandler], handler: Any, found: str, needed: str
) -> None:
    server = Server()
    with pytest.raises(TypeError) as raised:
        server.add_service(grpcx.ServiceDefinition("t.T", [make("M", handler, _same, _same)]))
    message = str(raised.value)
    assert message.startswith(f"the handler of /t.T/M ({make.__name__}), ")
    assert found in message
    assert needed in message
    assert not server.services  # nothing half-registered


async def test_generated_servicer_with_a_plain_def_is_refused() -> None:
    class Greeter:
        def say_hello(self, request: bytes, context: ServicerContext) -> bytes:
            return request

        def __grpcx_service__(self) -> grpcx.ServiceDefinition:
            return grpcx.ServiceDefinition(
                "helloworld.Greeter",
                [grpcx.unary_unary("SayHello", self.say_hello, _same, _same)],
            )

    with pytest.raises(TypeError, match=r"the handler of /helloworld\.Greeter/SayHello "):
        Server().add_service(Greeter())
