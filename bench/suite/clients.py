"""Each Python implementation's own client: unary calls with N in flight on one channel.

    python -m bench.suite.clients --impl grpcx|grpcx-uvloop|grpcio-aio|grpcio-sync|grpclib
        --port P [--conc 64] [--warmup 1] [--duration 5]

First checks a few calls (status OK, payload echoed), then keeps ``--conc`` calls in
flight for warm-up + duration and prints one JSON line: calls counted during the
measured window, its length and the rate. Any failed call or wrong echo exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench.suite.common import UNARY, BytesValue, payload

SIZE = 100


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--impl",
        required=True,
        choices=("grpcx", "grpcx-uvloop", "grpcio-aio", "grpcio-sync", "grpclib"),
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--conc", type=int, default=64)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args()
    meter_args = (args.warmup, args.duration)
    if args.impl == "grpcio-sync":
        result = run_grpcio_sync(args.port, args.conc, meter_args)
    else:
        if args.impl == "grpcx-uvloop":
            from bench.suite.common import install_uvloop

            install_uvloop()
        runner = {
            "grpcx": run_grpcx,
            "grpcx-uvloop": run_grpcx,
            "grpcio-aio": run_grpcio_aio,
            "grpclib": run_grpclib,
        }[args.impl]
        budget = args.warmup + args.duration + 20
        result = asyncio.run(asyncio.wait_for(runner(args.port, args.conc, meter_args), budget))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # any failed call fails the run
        print(f"clients: {exc!r}", file=sys.stderr)
        sys.exit(1)
