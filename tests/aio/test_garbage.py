"""Finished calls leave no reference cycles behind, on either side.

Objects in a cycle are not freed when the call ends but wait for the cyclic garbage
collector, which a busy server then runs every few hundred calls, walking every object
still alive (a tenth of the server's time before the call and its servicer context
stopped pointing at each other). So each call type, and the usual ways a call ends, are
run here with the collector off, and whatever the next collection finds is checked for
objects of grpcx's own classes.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from grpcx import RpcError, StatusCode

WAIT = 10.0


def _ours(garbage: list[Any]) -> list[str]:
    names = []
    for obj in garbage:
        cls = type(obj)
        if cls.__module__.startswith("grpcx"):
            names.append(f"{cls.__module__}.{cls.__qualname__}")
    return sorted(set(names))


async def _requests(*items: bytes) -> AsyncIterator[bytes]:
    for item in items:
        yield item


def _kinds(echo: Any) -> dict[str, Callable[[], Awaitable[Any]]]:
    async def unary() -> None:
        assert await echo.unary("Echo")(b"x" * 100) == b"x" * 100

    async def unary_timeout() -> None:
        assert await echo.unary("Echo")(b"x" * 100, timeout=WAIT) == b"x" * 100

    async def unary_error() -> None:
        # (Not pytest.raises: its ExceptionInfo and the traceback make a cycle of their own.)
        try:
            await echo.unary("Fail")(b"")
        except RpcError as exc:
            assert exc.code() == StatusCode.UNKNOWN
        else:
            raise AssertionError("the call did not fail")

    names = (f"hang-{i}" for i in range(1000))

    async def unary_deadline() -> None:
        name = next(names)
        try:
            await echo.unary("Hang")(name.encode(), timeout=0.02)
        except RpcError as exc:
            assert exc.code() == StatusCode.DEADLINE_EXCEEDED
        else:
            raise AssertionError("the call did not fail")
        # The server cancels the handler at its deadline too.
        await asyncio.wait_for(echo.probe.event("cancelled", name).wait(), WAIT)

    async def unary_cancelled() -> None:
        name = next(names)
        task = asyncio.ensure_future(echo.unary("Hang")(name.encode()))
        await asyncio.wait_for(echo.probe.event("started", name).wait(), WAIT)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.wait_for(echo.probe.event("cancelled", name).wait(), WAIT)

    async def server_stream() -> None:
        assert [m async for m in echo.unary_stream("Count")(b"3")] == [b"0", b"1", b"2"]

    async def client_stream() -> None:
        assert await echo.stream_unary("Concat")(_requests(b"a", b"b")) == b"a|b"

    async def bidi() -> None:
        replies = [m async for m in echo.stream_stream("EchoStream")(_requests(b"a", b"b"))]
        assert replies == [b"a", b"b", b"end"]

    return {
        "unary": unary,
        "unary with a timeout": unary_timeout,
        "unary ending in an error": unary_error,
        "unary past its deadline": unary_deadline,
        "unary cancelled by the client": unary_cancelled,
        "server streaming": server_stream,
        "client streaming": client_stream,
        "bidi streaming": bidi,
    }


@pytest.mark.parametrize(
    "kind",
    [
        "unary",
        "unary with a timeout",
        "unary ending in an error",
        "unary past its deadline",
        "unary cancelled by the client",
        "server streaming",
        "client streaming",
        "bidi streaming",
    ],
)
async def test_finished_calls_leave_no_cycles(echo: Any, kind: str) -> None:
    call = _kinds(echo)[kind]
    for _ in range(5):  # the connection, caches and lazily made objects settle first
        await asyncio.wait_for(call(), WAIT)
    await asyncio.sleep(0.01)
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(20):
            await asyncio.wait_for(call(), WAIT)
        await asyncio.sleep(0.01)  # what the last call scheduled has run
        gc.collect()
        assert _ours(gc.garbage) == []
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


async def test_a_closed_connection_leaves_no_cycles(
    serve: Any, methods: Any, make_probe: Any, attack: Any
) -> None:
    """A connection closed with everything a connection can hold: calls running and held
    back, responses queued behind flow control. Reference counting alone frees it (the
    collector finds nothing of grpcx's once it is gone)."""
    server, port = await serve(*methods(make_probe()), max_unsent_bytes_per_connection=1 << 20)

    async def one_connection() -> None:
        attacker = await attack(port, read=False)
        attacker.request("/grpcx.test.Test/Size", b"%d" % (1 << 20), 8)
        attacker.request("/grpcx.test.Test/Count", b"1000000", 2)
        for _ in range(100):  # until the server holds calls back
            held = [c for c in server._connections if c._waiting]
            if held:
                break
            await asyncio.sleep(0.01)
        assert held
        del held
        await attacker.close()

    await asyncio.wait_for(one_connection(), WAIT)  # lazily made objects, first
    for _ in range(100):
        if not server._connections:
            break
        await asyncio.sleep(0.01)
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        await asyncio.wait_for(one_connection(), WAIT)
        for _ in range(100):
            if not server._connections:
                break
            await asyncio.sleep(0.01)
        assert not server._connections
        await asyncio.sleep(0.01)
        gc.collect()
        assert _ours(gc.garbage) == []
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
