"""Serving on more than one core: N worker processes, each with its own event loop and
its own :class:`~grpcx.aio.Server`, listening on one port with SO_REUSEPORT so the kernel
spreads connections across them. They start and stop as one server::

    def setup(server: grpcx.aio.Server) -> None:
        server.add_service(GreeterServicer())

    with grpcx.aio.WorkerGroup(setup, "0.0.0.0:50051", workers=4) as group:
        group.wait()          # until SIGINT/SIGTERM, or group.stop() from another thread

``setup`` runs in every worker (it may be a coroutine function). Workers are forked, so
``setup`` and everything it refers to need not be picklable; each worker builds its own
event loop (uvloop when installed, see :func:`grpcx.aio.new_event_loop`). Linux only, as
SO_REUSEPORT's load balancing is. A worker that dies is reported by :meth:`wait`, and the
group stops the others: a supervisor (systemd, Kubernetes) restarts the whole server.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import multiprocessing
import os
import signal
import socket
import ssl as _ssl
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from typing import Any

from grpcx.aio.server import Server, _parse_address

__all__ = ["WorkerGroup", "new_event_loop", "run"]

Setup = Callable[[Server], Awaitable[None] | None]


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new event loop: uvloop's when it is installed (``grpcx[uvloop]``), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def run(main: Awaitable[Any]) -> Any:
    """``asyncio.run`` on [`new_event_loop()`][grpcx.aio.new_event_loop] (uvloop when installed)."""
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(main)
    finally:
        with contextlib.suppress(Exception):
            loop.run_until_complete(loop.shutdown_asyncgens())
        asyncio.set_event_loop(None)
        loop.close()


def _worker(
    setup: Setup,
    address: str,
    ssl: _ssl.SSLContext | None,
    options: dict[str, Any],
    grace: float,
    ready: Connection,
) -> None:
    """A worker process: serve until SIGTERM, then stop gracefully."""
    # The parent's signal handlers and running-loop state came along with fork().
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    asyncio.events._set_running_loop(None)

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        stopping: asyncio.Future[None] = loop.create_future()

        def on_sigterm() -> None:
            if not stopping.done():
                stopping.set_result(None)

        loop.add_signal_handler(signal.SIGTERM, on_sigterm)
        server = Server(**options)
        result = setup(server)
        if inspect.isawaitable(result):
            await result
        await server.add_port(address, ssl=ssl, reuse_port=True)
        await server.start()
        ready.send(os.getpid())
        ready.close()
        await stopping
        await server.stop(grace)

    run(serve())


class WorkerGroup:
    """``workers`` processes serving ``address`` together (see the module docs).

    ``options`` are [`Server`][grpcx.aio.Server] keyword arguments; ``grace`` is the grace
    period each worker gives its calls on [`stop()`][grpcx.aio.WorkerGroup.stop].
    """

    def __init__(
        self,
        setup: Setup,
        address: str,
        *,
        workers: int,
        ssl: _ssl.SSLContext | None = None,
        grace: float = 5.0,
        **options: Any,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        host, port = _parse_address(address)
        if host == "unix":
            raise ValueError("worker groups listen on TCP host:port")
        self._setup = setup
        self._host = host
        self._port = int(port)
        self._ssl = ssl
        self._grace = grace
        self._options = options
        self._count = workers
        self._processes: list[multiprocessing.process.BaseProcess] = []
        self._reservation: socket.socket | None = None
        self.port = 0
        """The port the workers listen on, once started (0 before)."""

    def start(self, timeout: float = 30.0) -> int:
        """Start the workers and return once all listen; returns the port."""
        port = self._port
        if port == 0:
            # Port 0: pick one here and keep it bound (not listening) with SO_REUSEPORT,
            # so every worker joins the same port and nobody else takes it meanwhile.
            family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
            reservation = socket.socket(family, socket.SOCK_STREAM)
            reservation.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            reservation.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            reservation.bind((self._host or "0.0.0.0", 0))
            port = reservation.getsockname()[1]
            self._reservation = reservation
        self.port = port
        host = f"[{self._host}]" if ":" in self._host else self._host
        address = f"{host}:{port}"
        context = multiprocessing.get_context("fork")
        pipes = []
        for _ in range(self._count):
            receiver, sender = context.Pipe(duplex=False)
            child = context.Process(
                target=_worker,
                args=(self._setup, address, self._ssl, self._options, self._grace, sender),
                daemon=True,
            )
            child.start()
            sender.close()
            self._processes.append(child)
            pipes.append(receiver)
        deadline = time.monotonic() + timeout
        for receiver, process in zip(pipes, self._processes, strict=True):
            remaining = max(0.0, deadline - time.monotonic())
            if not receiver.poll(remaining):
                self.stop(0)
                raise RuntimeError(f"worker {process.pid} did not start listening")
            try:
                receiver.recv()
            except EOFError:
                self.stop(0)
                raise RuntimeError(f"worker {process.pid} failed during setup") from None
            receiver.close()
        return port

    @property
    def pids(self) -> list[int]:
        """The worker processes' ids."""
        return [p.pid for p in self._processes if p.pid is not None]

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a worker exits (then stop the rest), SIGINT/SIGTERM, or ``timeout``.

        Returns True if the group stopped, False if ``timeout`` passed first.
        """
        stop_requested = False

        def request_stop(signum: int, frame: Any) -> None:
            nonlocal stop_requested
            stop_requested = True

        previous = {}
        with contextlib.suppress(ValueError):  # not the main thread: no signal handling
            for signum in (signal.SIGINT, signal.SIGTERM):
                previous[signum] = signal.signal(signum, request_stop)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while not stop_requested:
                if any(not p.is_alive() for p in self._processes):
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                time.sleep(0.1)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        self.stop()
        return True

    def stop(self, grace: float | None = None) -> None:
        """Stop every worker: each stops gracefully, then is killed if it overstays."""
        grace = self._grace if grace is None else grace
        for process in self._processes:
            if process.is_alive() and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace + 5.0
        for process in self._processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(5.0)
        self._processes.clear()
        if self._reservation is not None:
            self._reservation.close()
            self._reservation = None

    def __enter__(self) -> WorkerGroup:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
