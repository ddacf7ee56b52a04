"""Each Python implementation's own client: unary calls with N in flight, or bidi ping-pong.

    python -m bench.suite.clients --impl grpcx|grpcx-uvloop|grpcio-aio|grpcio-sync|grpclib
        --port P [--mode unary|pingpong] [--conc 64] [--warmup 1] [--duration 5]

``--mode unary`` (the default) first checks a few calls (status OK, payload echoed), then
keeps ``--conc`` calls in flight on one channel for warm-up + duration and prints one JSON
line: calls counted during the measured window, its length and the rate.

``--mode pingpong`` opens one ``PingPong`` stream, checks a few echoes of other sizes on
it, then sends one 100-byte message and reads its echo before sending the next, for
warm-up + duration; it half-closes, expects the end of the stream with status OK, and
prints the round trips counted in the measured window, its length and the rate.

Any failed call or wrong echo exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from bench.suite.common import PING_PONG, UNARY, BytesValue, payload

SIZE = 100
# Echoes of other sizes checked on the ping-pong stream before the measured loop.
PING_PONG_CHECK_SIZES = (0, 1, 5000)


class Meter:
    """Counts calls completed inside the measured window."""

    def __init__(self, warmup: float, duration: float) -> None:
        now = time.perf_counter()
        self.start = now + warmup
        self.stop = self.start + duration
        self.calls = 0

    def tick(self) -> bool:
        """Count one call; False once the window is over."""
        now = time.perf_counter()
        if now >= self.stop:
            return False
        if now >= self.start:
            self.calls += 1
        return True

    def result(self) -> dict[str, Any]:
        seconds = self.stop - self.start
        return {"calls": self.calls, "seconds": seconds, "rate": self.calls / seconds}


async def check(call: Callable[[BytesValue], Awaitable[BytesValue]]) -> None:
    for i, size in enumerate((0, 1, 100, 5000)):
        data = payload(size, i)
        reply = await call(BytesValue(value=data))
        if reply.value != data:
            raise SystemExit(f"echo mismatch for {size} bytes")


async def drive(
    call: Callable[[BytesValue], Awaitable[BytesValue]], conc: int, meter: Meter
) -> None:
    async def worker(w: int) -> None:
        data = payload(SIZE, w)
        request = BytesValue(value=data)
        while True:
            reply = await call(request)
            if reply.value != data:
                raise SystemExit("echo mismatch")
            if not meter.tick():
                return

    await asyncio.gather(*(worker(w) for w in range(conc)))


async def run_grpcx(port: int, conc: int, meter_args: tuple[float, float]) -> dict[str, Any]:
    import grpcx.aio

    async with grpcx.aio.Channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(UNARY, BytesValue.SerializeToString, BytesValue.FromString)
        await check(call)
        meter = Meter(*meter_args)
        await drive(call, conc, meter)
    return meter.result()


async def run_grpcio_aio(port: int, conc: int, meter_args: tuple[float, float]) -> dict[str, Any]:
    import grpc

    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(
            UNARY,
            request_serializer=BytesValue.SerializeToString,
            response_deserializer=BytesValue.FromString,
        )
        await check(call)
        meter = Meter(*meter_args)
        await drive(call, conc, meter)
    return meter.result()


async def run_grpclib(port: int, conc: int, meter_args: tuple[float, float]) -> dict[str, Any]:
    from grpclib.client import Channel, UnaryUnaryMethod

    channel = Channel("127.0.0.1", port)
    try:
        method: Any = UnaryUnaryMethod(channel, UNARY, BytesValue, BytesValue)
        await check(method)
        meter = Meter(*meter_args)
        await drive(method, conc, meter)
    finally:
        channel.close()
    return meter.result()


def run_grpcio_sync(port: int, conc: int, meter_args: tuple[float, float]) -> dict[str, Any]:
    """Blocking API: ``conc`` futures in flight, each completion starts the next call."""
    import grpc

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(
            UNARY,
            request_serializer=BytesValue.SerializeToString,
            response_deserializer=BytesValue.FromString,
        )
        for i, size in enumerate((0, 1, 100, 5000)):
            data = payload(size, i)
            if call(BytesValue(value=data)).value != data:
                raise SystemExit("echo mismatch")
        meter = Meter(*meter_args)
        lock = threading.Lock()
        done = threading.Event()
        running = [conc]
        errors: list[BaseException] = []

        def start(data: bytes) -> None:
            future = call.future(BytesValue(value=data))
            future.add_done_callback(lambda f: finished(f, data))

        def finished(future: Any, data: bytes) -> None:
            try:
                ok = future.result().value == data
                if not ok:
                    raise ValueError("echo mismatch")
            except BaseException as exc:
                errors.append(exc)
                ok = False
            with lock:
                more = ok and meter.tick()
                if not more:
                    running[0] -= 1
                    if running[0] == 0:
                        done.set()
            if more:
                start(data)

        for w in range(conc):
            start(payload(SIZE, w))
        if not done.wait(meter.stop - time.perf_counter() + 30):
            raise SystemExit("calls did not finish")
        if errors:
            raise SystemExit(f"{len(errors)} calls failed: {errors[0]!r}")
    return meter.result()


# ----------------------------------------------------------------------------- ping-pong


def ping_pong_result(meter: Meter) -> dict[str, Any]:
    r = meter.result()
    return {"round_trips": r["calls"], "seconds": r["seconds"], "rate": r["rate"]}


def check_echo(reply: Any, data: bytes, what: str = "") -> None:
    """Exit (the run fails) unless ``reply`` is the BytesValue echo of ``data``."""
    if not isinstance(reply, BytesValue) or reply.value != data:
        raise SystemExit(f"ping-pong echo mismatch{what}: {reply!r:.80}")


async def ping_pong_loop(
    send: Callable[[BytesValue], Awaitable[None]],
    recv: Callable[[], Awaitable[Any]],
    meter_args: tuple[float, float],
) -> Meter:
    """Checks, then one message out and its echo back per round trip until the window ends."""
    for i, size in enumerate(PING_PONG_CHECK_SIZES):
        data = payload(size, i)
        await send(BytesValue(value=data))
        reply = await recv()
        check_echo(reply, data, f" for {size} bytes")
    data = payload(SIZE, 3)
    request = BytesValue(value=data)
    meter = Meter(*meter_args)
    while True:
        await send(request)
        reply = await recv()
        check_echo(reply, data)
        if not meter.tick():
            return meter


async def ping_pong_grpcx(port: int, meter_args: tuple[float, float]) -> dict[str, Any]:
    import grpcx.aio

    async with grpcx.aio.Channel(f"127.0.0.1:{port}") as channel:
        method = channel.stream_stream(
            PING_PONG, BytesValue.SerializeToString, BytesValue.FromString
        )
        call = method(timeout=sum(meter_args) + 20)
        meter = await ping_pong_loop(call.write, call.read, meter_args)
        await call.done_writing()
        end = await call.read()  # raises RpcError unless the status is OK
        if end is not grpcx.aio.EOF:
            raise SystemExit(f"ping-pong: a response after the half-close: {end!r:.80}")
    return ping_pong_result(meter)


async def ping_pong_grpcio_aio(port: int, meter_args: tuple[float, float]) -> dict[str, Any]:
    import grpc

    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        method = channel.stream_stream(
            PING_PONG,
            request_serializer=BytesValue.SerializeToString,
            response_deserializer=BytesValue.FromString,
        )
        call = method(timeout=sum(meter_args) + 20)
        meter = await ping_pong_loop(call.write, call.read, meter_args)
        await call.done_writing()
        end = await call.read()
        if end is not grpc.aio.EOF:
            raise SystemExit(f"ping-pong: a response after the half-close: {end!r:.80}")
        code = await call.code()
        if code != grpc.StatusCode.OK:
            raise SystemExit(f"ping-pong ended with {code}: {await call.details()}")
    return ping_pong_result(meter)


async def ping_pong_grpclib(port: int, meter_args: tuple[float, float]) -> dict[str, Any]:
    from grpclib.client import Channel, StreamStreamMethod

    channel = Channel("127.0.0.1", port)
    try:
        method: Any = StreamStreamMethod(channel, PING_PONG, BytesValue, BytesValue)
        # Leaving the block reads the trailers and raises GRPCError unless the status is OK.
        async with method.open(timeout=sum(meter_args) + 20) as stream:
            meter = await ping_pong_loop(stream.send_message, stream.recv_message, meter_args)
            await stream.end()
            end = await stream.recv_message()
            if end is not None:
                raise SystemExit(f"ping-pong: a response after the half-close: {end!r:.80}")
    finally:
        channel.close()
    return ping_pong_result(meter)


def ping_pong_grpcio_sync(port: int, meter_args: tuple[float, float]) -> dict[str, Any]:
    """Blocking API: a request iterator fed through a queue; each echo read before the next."""
    import queue

    import grpc

    requests: queue.Queue[BytesValue | None] = queue.Queue()

    def request_iterator() -> Iterator[BytesValue]:
        while (item := requests.get()) is not None:
            yield item

    def round_trip(request: BytesValue) -> Any:
        requests.put(request)
        return next(responses, None)

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        method = channel.stream_stream(
            PING_PONG,
            request_serializer=BytesValue.SerializeToString,
            response_deserializer=BytesValue.FromString,
        )
        responses = method(request_iterator(), timeout=sum(meter_args) + 20)
        try:
            for i, size in enumerate(PING_PONG_CHECK_SIZES):
                data = payload(size, i)
                reply = round_trip(BytesValue(value=data))
                check_echo(reply, data, f" for {size} bytes")
            data = payload(SIZE, 3)
            request = BytesValue(value=data)
            meter = Meter(*meter_args)
            while True:
                reply = round_trip(request)
                check_echo(reply, data)
                if not meter.tick():
                    break
        finally:
            requests.put(None)  # half-close (and never leave the request thread waiting)
        rest = list(responses)  # raises RpcError unless the status is OK
        if rest:
            raise SystemExit(f"ping-pong: {len(rest)} responses after the half-close")
        if responses.code() != grpc.StatusCode.OK:
            raise SystemExit(f"ping-pong ended with {responses.code()}")
    return ping_pong_result(meter)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--impl",
        required=True,
        choices=("grpcx", "grpcx-uvloop", "grpcio-aio", "grpcio-sync", "grpclib"),
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=("unary", "pingpong"), default="unary")
    parser.add_argument("--conc", type=int, default=64)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args()
    meter_args = (args.warmup, args.duration)
    budget = args.warmup + args.duration + 20
    if args.impl == "grpcio-sync":
        if args.mode == "pingpong":
            result = ping_pong_grpcio_sync(args.port, meter_args)
        else:
            result = run_grpcio_sync(args.port, args.conc, meter_args)
    else:
        if args.impl == "grpcx-uvloop":
            from bench.suite.common import install_uvloop

            install_uvloop()
        coro: Awaitable[dict[str, Any]]
        if args.mode == "pingpong":
            pinger = {
                "grpcx": ping_pong_grpcx,
                "grpcx-uvloop": ping_pong_grpcx,
                "grpcio-aio": ping_pong_grpcio_aio,
                "grpclib": ping_pong_grpclib,
            }[args.impl]
            coro = pinger(args.port, meter_args)
        else:
            runner = {
                "grpcx": run_grpcx,
                "grpcx-uvloop": run_grpcx,
                "grpcio-aio": run_grpcio_aio,
                "grpclib": run_grpclib,
            }[args.impl]
            coro = runner(args.port, args.conc, meter_args)
        result = asyncio.run(asyncio.wait_for(coro, budget))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # any failed call fails the run
        print(f"clients: {exc!r}", file=sys.stderr)
        sys.exit(1)
