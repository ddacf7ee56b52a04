"""``Server.serve(grace=...)``: run until SIGINT/SIGTERM, then stop gracefully.

The signal tests run a real server process (a script written to ``tmp_path``) and send
it real signals while a client in the test holds calls open on it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import grpcx
from grpcx.aio import Channel, Server

WAIT = 10.0  # seconds: the bound on any single wait here

SCRIPT = """
import asyncio, logging, sys
import grpcx, grpcx.aio

# serve()'s "SIGTERM received" log line tells the test the signal has been handled.
logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="log: %(message)s")
address, grace, runner = sys.argv[1], float(sys.argv[2]), sys.argv[3]


async def slow(request, context):
    try:
        yield b"started"
        await asyncio.sleep(float(request))
        yield b"done"
    finally:
        print("slow: finally ran", flush=True)


async def forever(request, context):
    try:
        yield b"started"
        await asyncio.sleep(3600)
    finally:
        print("forever: finally ran", flush=True)


async def echo(request, context):
    return request


async def main():
    server = grpcx.aio.Server()
    server.add_service(grpcx.ServiceDefinition("t.T", [
        grpcx.unary_stream("Slow", slow, bytes, bytes),
        grpcx.unary_stream("Forever", forever, bytes, bytes),
        grpcx.unary_unary("Echo", echo, bytes, bytes),
    ]))
    port = await server.add_port(address)
    await server.start()
    print(f"port {port}", flush=True)
    await server.serve(grace=grace)
    print("serve returned", flush=True)


if runner == "grpcx":
    grpcx.aio.run(main())
else:
    asyncio.run(main())
"""


class ServerProcess:
    def __init__(self, process: asyncio.subprocess.Process, target: str) -> None:
        self.process = process
        self.target = target
        self.lines: list[str] = []

    async def read_until(self, prefix: str) -> str:
        """The next stdout line starting with ``prefix`` (the lines before are kept)."""
        assert self.process.stdout is not None
        while True:
            raw = await asyncio.wait_for(self.process.stdout.readline(), WAIT)
            assert raw, f"the server exited before printing {prefix!r}: {self.lines}"
            line = raw.decode().rstrip("\n")
            self.lines.append(line)
            if line.startswith(prefix):
                return line

    async def finish(self) -> tuple[int, str, list[str]]:
        """Wait for the exit: (return code, stderr, every stdout line)."""
        stdout, stderr = await asyncio.wait_for(self.process.communicate(), WAIT)
        self.lines += stdout.decode().splitlines()
        assert self.process.returncode is not None
        return self.process.returncode, stderr.decode(), self.lines


async def start_server(tmp_path: Path, kind: str, grace: float, runner: str) -> ServerProcess:
    script = tmp_path / "server.py"
    script.write_text(SCRIPT)
    socket_path = tmp_path / "s.sock"
    address = f"unix:{socket_path}" if kind == "unix" else "127.0.0.1:0"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        address,
        str(grace),
        runner,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    server = ServerProcess(process, address)
    line = await server.read_until("port ")
    if kind == "tcp":
        server.target = f"127.0.0.1:{line.split()[1]}"
    return server


async def refused_eventually(channel: Channel) -> None:
    """Make calls on ``channel`` until one is refused with UNAVAILABLE (bounded)."""
    echo = channel.unary_unary("/t.T/Echo")
    give_up = time.monotonic() + WAIT
    while True:
        try:
            await asyncio.wait_for(echo(b"hi", timeout=WAIT), WAIT)
        except grpcx.RpcError as error:
            assert error.code() == grpcx.StatusCode.UNAVAILABLE, error
            return
        assert time.monotonic() < give_up, "calls still served long after the signal"
        await asyncio.sleep(0.01)


@pytest.fixture
async def processes() -> AsyncIterator[list[ServerProcess]]:
    started: list[ServerProcess] = []
    yield started
    for server in started:
        if server.process.returncode is None:
            server.process.kill()
            await asyncio.wait_for(server.process.wait(), WAIT)


@pytest.mark.parametrize(
    ("signum", "kind", "runner"),
    [
        (signal.SIGTERM, "unix", "asyncio"),
        (signal.SIGINT, "tcp", "grpcx"),
        (signal.SIGINT, "unix", "asyncio"),
    ],
)
async def test_signal_stops_gracefully(
    tmp_path: Path, processes: list[ServerProcess], signum: int, kind: str, runner: str
) -> None:
    grace = 5.0
    server = await start_server(tmp_path, kind, grace, runner)
    processes.append(server)
    async with Channel(server.target) as channel:
        slow = channel.unary_stream("/t.T/Slow")
        call = slow(b"1.0", timeout=WAIT)
        assert await asyncio.wait_for(call.read(), WAIT) == b"started"  # in flight

        os.kill(server.process.pid, signum)
        signalled = time.monotonic()
        name = signal.Signals(signum).name
        await server.read_until(f"log: {name} received")

        # New connections are refused once the signal is handled.
        async with Channel(server.target) as other:
            with pytest.raises(grpcx.RpcError) as refused:
                await asyncio.wait_for(other.unary_unary("/t.T/Echo")(b"hi", timeout=WAIT), WAIT)
            assert refused.value.code() == grpcx.StatusCode.UNAVAILABLE
        # This connection got a GOAWAY: calls the client started before it saw it are
        # still served (gRPC's graceful shutdown), the ones after are refused.
        await refused_eventually(channel)

        # The call in flight finishes, well within the grace.
        assert await asyncio.wait_for(call.read(), WAIT) == b"done"
        assert await asyncio.wait_for(call.code(), WAIT) == grpcx.StatusCode.OK

    returncode, stderr, lines = await server.finish()
    assert time.monotonic() - signalled < grace
    assert returncode == 0, stderr
    assert stderr == ""  # no traceback, no KeyboardInterrupt
    assert "slow: finally ran" in lines
    assert lines[-1] == "serve returned"
    if kind == "unix":
        assert not (tmp_path / "s.sock").exists()


async def test_second_signal_stops_at_once(tmp_path: Path, processes: list[ServerProcess]) -> None:
    grace = 60.0  # far longer than the test may take: only the second signal ends it
    server = await start_server(tmp_path, "unix", grace, "asyncio")
    processes.append(server)
    async with Channel(server.target) as channel:
        call = channel.unary_stream("/t.T/Forever")(b"", timeout=2 * grace)
        assert await asyncio.wait_for(call.read(), WAIT) == b"started"
        os.kill(server.process.pid, signal.SIGTERM)
        await server.read_until("log: SIGTERM received")
        signalled = time.monotonic()
        os.kill(server.process.pid, signal.SIGINT)
        with pytest.raises(grpcx.RpcError) as ended:
            await asyncio.wait_for(call.read(), WAIT)
        assert ended.value.code() == grpcx.StatusCode.UNAVAILABLE
    returncode, stderr, lines = await server.finish()
    assert time.monotonic() - signalled < WAIT
    assert returncode == 0, stderr
    assert stderr == ""
    assert "forever: finally ran" in lines
    assert lines[-1] == "serve returned"
    assert not (tmp_path / "s.sock").exists()


def _service() -> grpcx.ServiceDefinition:
    async def echo(request: bytes, context: grpcx.aio.ServicerContext) -> bytes:
        return request

    return grpcx.ServiceDefinition("t.T", [grpcx.unary_unary("Echo", echo, bytes, bytes)])


async def test_serve_starts_the_server_and_returns_on_stop(tmp_path: Path) -> None:
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    server = Server()
    server.add_service(_service())
    path = tmp_path / "s.sock"
    await server.add_port(f"unix:{path}")
    serving = asyncio.create_task(server.serve(grace=1.0))
    async with Channel(f"unix:{path}") as channel:
        # serve() started the server: a call works.
        assert await asyncio.wait_for(channel.unary_unary("/t.T/Echo")(b"hi"), WAIT) == b"hi"
    await server.stop(1.0)
    await asyncio.wait_for(serving, WAIT)  # returns once something else stopped the server
    after = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    assert after == before  # the handlers in place before serve() are back
    assert not path.exists()


async def test_cancelling_serve_stops_the_server(tmp_path: Path) -> None:
    server = Server()
    server.add_service(_service())
    path = tmp_path / "s.sock"
    await server.add_port(f"unix:{path}")
    serving = asyncio.create_task(server.serve(grace=60.0))
    async with Channel(f"unix:{path}") as channel:
        assert await asyncio.wait_for(channel.unary_unary("/t.T/Echo")(b"hi"), WAIT) == b"hi"
        serving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(serving, WAIT)
    assert await server.wait_for_termination(timeout=0)
    assert not path.exists()


def _slow_service(seconds: float) -> grpcx.ServiceDefinition:
    async def slow(request: bytes, context: grpcx.aio.ServicerContext) -> bytes:
        await asyncio.sleep(seconds)
        return request

    return grpcx.ServiceDefinition("t.T", [grpcx.unary_unary("Slow", slow, bytes, bytes)])


@pytest.mark.parametrize("order", ["stop, then a signal", "a signal, then stop"])
async def test_serve_and_stop_together(tmp_path: Path, order: str) -> None:
    """serve() and stop() from elsewhere, in either order, share one stop: both return
    (a signal after stop() cancels the calls at once, as a second signal would)."""
    server = Server()
    server.add_service(_slow_service(0.5 if order == "a signal, then stop" else 60.0))
    path = tmp_path / "s.sock"
    await server.add_port(f"unix:{path}")
    serving = asyncio.create_task(server.serve(grace=None))
    async with Channel(f"unix:{path}") as channel:
        call = asyncio.ensure_future(channel.unary_unary("/t.T/Slow")(b"x"))
        for _ in range(500):
            if any(c.calls for c in server._connections):
                break
            await asyncio.sleep(0.01)
        if order == "stop, then a signal":
            stopping = asyncio.create_task(server.stop(None))
            await asyncio.sleep(0.05)
            os.kill(os.getpid(), signal.SIGTERM)
        else:
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.sleep(0.05)
            stopping = asyncio.create_task(server.stop(None))
        await asyncio.wait_for(asyncio.gather(serving, stopping), WAIT)
        await asyncio.gather(call, return_exceptions=True)
    assert not path.exists()


async def test_serve_keeps_the_applications_own_loop_signal_handler(tmp_path: Path) -> None:
    """A loop handler the application set for SIGTERM stays in charge, during serve() and
    after it (replacing it would lose it for good)."""
    loop = asyncio.get_running_loop()
    seen = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, seen.set)
    try:
        server = Server()
        server.add_service(_service())
        path = tmp_path / "s.sock"
        await server.add_port(f"unix:{path}")
        serving = asyncio.create_task(server.serve(grace=1.0))
        await asyncio.sleep(0.05)
        await server.stop(1.0)
        await asyncio.wait_for(serving, WAIT)
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(seen.wait(), WAIT)
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
