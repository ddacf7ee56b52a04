"""Harnesses for the asyncio driver's behaviour suite.

tests/ is not a package (``--import-mode=importlib``), so everything shared is a fixture:

* ``serve``: a factory starting a :class:`grpcx.aio.Server` with the given methods of the
  service ``grpcx.test.Test`` on loopback (stopped at teardown);
* ``connect``: a factory of :class:`grpcx.aio.Channel` objects (closed at teardown);
* ``echo``: a server with the standard test methods (:func:`standard_methods`) and a
  channel to it, with the :class:`Probe` the handlers report into;
* ``raw_client``: a factory of :class:`RawClient`, python-hyper's ``h2`` over a socket,
  to send what a well-behaved client never would;
* ``attack``: a factory of :class:`Attacker`, a raw HTTP/2 client that asks for
  responses and never opens its stream windows (or never reads at all);
* ``certs``: a throwaway CA, server and client certificate made with the openssl CLI.

Every wait in here is bounded (``WAIT``), so a hang fails the test instead of the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import pytest

import grpcx
from grpcx.aio import Channel, Server, ServicerContext
from grpcx.http2 import frames as fr
from grpcx.http2.hpack import Encoder
from grpcx.service import MethodHandler

SERVICE = "grpcx.test.Test"
WAIT = 10.0  # seconds: the bound on any single wait in this suite


def path(name: str) -> str:
    """The ``:path`` of method ``name`` of the test service."""
    return f"/{SERVICE}/{name}"


def _identity(data: bytes) -> bytes:
    return data


def unary(name: str, handler: Callable[..., Any]) -> MethodHandler:
    return grpcx.unary_unary(name, handler, _identity, _identity)


def server_stream(name: str, handler: Callable[..., Any]) -> MethodHandler:
    return grpcx.unary_stream(name, handler, _identity, _identity)


def client_stream(name: str, handler: Callable[..., Any]) -> MethodHandler:
    return grpcx.stream_unary(name, handler, _identity, _identity)


def bidi(name: str, handler: Callable[..., Any]) -> MethodHandler:
    return grpcx.stream_stream(name, handler, _identity, _identity)


@dataclass
class Probe:
    """What the standard handlers report: started/ended events per method, contexts."""

    started: dict[str, asyncio.Event] = field(default_factory=dict)
    cancelled: dict[str, asyncio.Event] = field(default_factory=dict)
    finished: dict[str, asyncio.Event] = field(default_factory=dict)
    contexts: list[ServicerContext] = field(default_factory=list)
    produced: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def event(self, kind: str, name: str) -> asyncio.Event:
        table: dict[str, asyncio.Event] = getattr(self, kind)
        return table.setdefault(name, asyncio.Event())


def standard_methods(probe: Probe) -> list[MethodHandler]:
    """The test service: small handlers each exercising one part of the driver."""

    async def echo(request: bytes, context: ServicerContext) -> bytes:
        return request

    async def describe(request: bytes, context: ServicerContext) -> bytes:
        probe.contexts.append(context)
        metadata = [
            (key, value.hex() if isinstance(value, bytes) else value)
            for key, value in context.invocation_metadata()
            if key != "user-agent"
        ]
        return json.dumps(
            {
                "method": context.method,
                "peer": context.peer(),
                "metadata": metadata,
                "time_remaining": context.time_remaining(),
                "compressed": context.request_compressed(),
                "cancelled": context.cancelled(),
                "cert": context.peer_certificate(),
            }
        ).encode()

    async def hang(request: bytes, context: ServicerContext) -> bytes:
        """Waits until released; records start and cancellation."""
        name = request.decode() or "hang"
        probe.event("started", name).set()
        try:
            await probe.release.wait()
        except asyncio.CancelledError:
            probe.event("cancelled", name).set()
            raise
        finally:
            probe.event("finished", name).set()
        return b"released"

    async def count(request: bytes, context: ServicerContext) -> AsyncIterator[bytes]:
        """Streams int(request) numbered messages."""
        for i in range(int(request)):
            probe.produced += 1
            yield b"%d" % i

    async def hang_stream(request: bytes, context: ServicerContext) -> AsyncIterator[bytes]:
        name = request.decode() or "hang_stream"
        yield b"first"
        probe.event("started", name).set()
        try:
            await probe.release.wait()
        except asyncio.CancelledError:
            probe.event("cancelled", name).set()
            raise
        yield b"second"

    async def concat(requests: AsyncIterator[bytes], context: ServicerContext) -> bytes:
        parts = [request async for request in requests]
        return b"|".join(parts)

    async def hang_client_stream(requests: AsyncIterator[bytes], context: ServicerContext) -> bytes:
        probe.event("started", "hang_client_stream").set()
        try:
            async for _ in requests:
                pass
        except asyncio.CancelledError:
            probe.event("cancelled", "hang_client_stream").set()
            raise
        return b"done"

    async def echo_stream(
        requests: AsyncIterator[bytes], context: ServicerContext
    ) -> AsyncIterator[bytes]:
        async for request in requests:
            yield request
        yield b"end"

    async def size(request: bytes, context: ServicerContext) -> bytes:
        """A response of int(request) bytes."""
        return b"x" * int(request)

    async def fail(request: bytes, context: ServicerContext) -> bytes:
        raise RuntimeError("secret internal detail 42")

    return [
        unary("Echo", echo),
        unary("Describe", describe),
        unary("Hang", hang),
        unary("Size", size),
        unary("Fail", fail),
        server_stream("Count", count),
        server_stream("HangStream", hang_stream),
        client_stream("Concat", concat),
        client_stream("HangClientStream", hang_client_stream),
        bidi("EchoStream", echo_stream),
    ]


ServeFactory = Callable[..., Awaitable[tuple[Server, int]]]
ConnectFactory = Callable[..., Channel]


@pytest.fixture
async def serve() -> AsyncIterator[ServeFactory]:
    """``await serve(*methods, address="127.0.0.1:0", ssl=None, **server_kwargs)``."""
    servers: list[Server] = []

    async def start(
        *methods: MethodHandler,
        address: str = "127.0.0.1:0",
        ssl: ssl.SSLContext | None = None,
        **kwargs: Any,
    ) -> tuple[Server, int]:
        server = Server(**kwargs)
        server.add_service(grpcx.ServiceDefinition(SERVICE, list(methods)))
        port = await server.add_port(address, ssl=ssl)
        await server.start()
        servers.append(server)
        return server, port

    yield start
    for server in servers:
        await asyncio.wait_for(server.stop(0), WAIT)


@pytest.fixture
async def connect() -> AsyncIterator[ConnectFactory]:
    """``connect(target, **channel_kwargs)``: a channel, closed at teardown."""
    channels: list[Channel] = []

    def make(target: str, **kwargs: Any) -> Channel:
        channel = Channel(target, **kwargs)
        channels.append(channel)
        return channel

    yield make
    for channel in channels:
        await asyncio.wait_for(channel.close(), WAIT)


@dataclass
class Echo:
    server: Server
    port: int
    channel: Channel
    probe: Probe

    def unary(self, name: str) -> Any:
        return self.channel.unary_unary(path(name))

    def unary_stream(self, name: str) -> Any:
        return self.channel.unary_stream(path(name))

    def stream_unary(self, name: str) -> Any:
        return self.channel.stream_unary(path(name))

    def stream_stream(self, name: str) -> Any:
        return self.channel.stream_stream(path(name))


@pytest.fixture
async def echo(serve: ServeFactory, connect: ConnectFactory) -> Echo:
    probe = Probe()
    server, port = await serve(*standard_methods(probe))
    return Echo(server, port, connect(f"127.0.0.1:{port}"), probe)


@pytest.fixture
def make_probe() -> Callable[[], Probe]:
    return Probe


@pytest.fixture
def methods() -> Callable[[Probe], list[MethodHandler]]:
    """:func:`standard_methods`, for tests that build their own server."""
    return standard_methods


@pytest.fixture
def handlers() -> Any:
    """Method-handler builders for the identity-codec test service."""

    class Builders:
        SERVICE = SERVICE
        path = staticmethod(path)
        unary = staticmethod(unary)
        server_stream = staticmethod(server_stream)
        client_stream = staticmethod(client_stream)
        bidi = staticmethod(bidi)

    return Builders


# ---------------------------------------------------------------------- raw h2 client


@dataclass
class RawResponse:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    data: bytes = b""
    trailers: dict[bytes, bytes] = field(default_factory=dict)
    reset: int | None = None
    ended: bool = False

    @property
    def grpc_status(self) -> int | None:
        # Trailers-Only puts grpc-status in the headers.
        value = self.trailers.get(b"grpc-status", self.headers.get(b"grpc-status"))
        return int(value) if value is not None else None


class RawClient:
    """python-hyper's h2 client over a plain socket, for crafting bad requests."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.responses: dict[int, RawResponse] = {}
        self.h2.initiate_connection()
        self.flush()

    def flush(self) -> None:
        self.writer.write(self.h2.data_to_send())

    def request(
        self,
        method: str,
        *,
        port: int,
        content_type: bytes = b"application/grpc",
        extra: list[tuple[bytes, bytes]] | None = None,
        end_stream: bool = False,
    ) -> int:
        headers = [
            (b":method", b"POST"),
            (b":scheme", b"http"),
            (b":path", path(method).encode()),
            (b":authority", b"127.0.0.1:%d" % port),
            (b"content-type", content_type),
            (b"te", b"trailers"),
            *(extra or []),
        ]
        stream_id: int = self.h2.get_next_available_stream_id()
        self.h2.send_headers(stream_id, headers, end_stream=end_stream)
        self.flush()
        return stream_id

    def send(self, stream_id: int, data: bytes, *, end_stream: bool = False) -> None:
        self.h2.send_data(stream_id, data, end_stream=end_stream)
        self.flush()

    def reset(self, stream_id: int, code: int = 8) -> None:
        self.h2.reset_stream(stream_id, code)
        self.flush()

    async def response(self, stream_id: int) -> RawResponse:
        """Read until ``stream_id`` ends (trailers or reset) or the connection closes."""

        async def pump() -> RawResponse:
            while True:
                response = self.responses.get(stream_id)
                if response is not None and (response.ended or response.reset is not None):
                    return response
                data = await self.reader.read(65536)
                if not data:
                    return self.responses.setdefault(stream_id, RawResponse())
                self._handle(self.h2.receive_data(data))
                self.flush()

        return await asyncio.wait_for(pump(), WAIT)

    def _handle(self, events: list[Any]) -> None:
        for event in events:
            sid = getattr(event, "stream_id", None)
            if sid is None:
                continue
            response = self.responses.setdefault(sid, RawResponse())
            if isinstance(event, h2.events.ResponseReceived):
                response.headers = dict(event.headers)
            elif isinstance(event, h2.events.TrailersReceived):
                response.trailers = dict(event.headers)
            elif isinstance(event, h2.events.DataReceived):
                response.data += event.data
                self.h2.acknowledge_received_data(event.flow_controlled_length, sid)
            elif isinstance(event, h2.events.StreamReset):
                response.reset = event.error_code
            if isinstance(event, h2.events.StreamEnded) or getattr(event, "stream_ended", None):
                response.ended = True

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), WAIT)


@pytest.fixture
async def raw_client() -> AsyncIterator[Callable[[int], Awaitable[RawClient]]]:
    """``await raw_client(port)``: an h2 client connected to 127.0.0.1:port."""
    clients: list[RawClient] = []

    async def make(port: int) -> RawClient:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), WAIT)
        client = RawClient(reader, writer)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


def grpc_frame(payload: bytes, *, compressed: bool = False) -> bytes:
    return bytes([1 if compressed else 0]) + len(payload).to_bytes(4, "big") + payload


@pytest.fixture
def frame() -> Callable[..., bytes]:
    """``frame(payload, compressed=False)``: a length-prefixed gRPC message."""
    return grpc_frame


# ---------------------------------------------------------------------- certificates


@dataclass(frozen=True)
class Certs:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def server_context(self, *, require_client_cert: bool = False) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.server_cert, self.server_key)
        if require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(self.ca)
        return context

    def client_context(self, *, with_cert: bool = False) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.ca))
        if with_cert:
            context.load_cert_chain(self.client_cert, self.client_key)
        return context


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    """A CA, a server certificate for ``grpcx.test.example`` only (so connecting to
    127.0.0.1 needs ``server_hostname=``), and a client certificate (CN
    ``grpcx-test-client``)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl CLI is needed to make test certificates")
    d = tmp_path_factory.mktemp("certs")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=grpcx test CA", cwd=d)  # fmt: skip

    def issue(name: str, cn: str, ext: str) -> None:
        (d / f"{name}.ext").write_text(ext)
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={cn}", cwd=d)  # fmt: skip
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
                 "-extfile", f"{name}.ext", cwd=d)  # fmt: skip

    issue(
        "server",
        "grpcx.test.example",
        "subjectAltName=DNS:grpcx.test.example\nextendedKeyUsage=serverAuth\n",
    )
    issue("client", "grpcx-test-client", "extendedKeyUsage=clientAuth\n")
    return Certs(
        d / "ca.pem", d / "server.pem", d / "server.key", d / "client.pem", d / "client.key"
    )


# ---------------------------------------------------------------------- a peer that never reads


class Attacker:
    """A raw HTTP/2 client that asks for responses and does not take them.

    ``read``: it drains the socket and opens the connection window wide, but never a
    stream window (65,535 bytes each): the stream windows alone hold the server back.
    Otherwise it reads nothing at all, and with ``open_windows`` it first grants every
    window in full, so that nothing but its not reading holds the server back.
    """

    def __init__(self, port: int, *, read: bool, open_windows: bool = False) -> None:
        self.port = port
        self.read = read
        self.open_windows = open_windows
        self.encoder = Encoder()
        self.next_id = 1
        self.received = 0
        self.writer: asyncio.StreamWriter | None = None
        self.reader_task: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        settings = [(fr.SETTINGS_INITIAL_WINDOW_SIZE, 2**31 - 1)] if self.open_windows else []
        self.writer.write(
            fr.CONNECTION_PREFACE + fr.build_settings(settings) + fr.build_settings(ack=True)
        )
        if self.read or self.open_windows:
            self.writer.write(fr.build_window_update(0, 2**31 - 1 - 65_535))
        if self.read:
            self.reader_task = asyncio.ensure_future(self._drain(reader))

    async def _drain(self, reader: asyncio.StreamReader) -> None:
        while data := await reader.read(1 << 16):
            self.received += len(data)

    def request(
        self,
        path: str,
        payload: bytes,
        count: int,
        *,
        extra: tuple[tuple[bytes, bytes], ...] = (),
        end_stream: bool = True,
    ) -> list[int]:
        """``count`` requests for ``path``, each with one message ``payload``, in one
        write; returns their stream ids."""
        assert self.writer is not None
        out = []
        sids = []
        for _ in range(count):
            headers = [
                (b":method", b"POST"),
                (b":scheme", b"http"),
                (b":path", path.encode()),
                (b":authority", b"localhost"),
                (b"content-type", b"application/grpc"),
                (b"te", b"trailers"),
                *extra,
            ]
            sid = self.next_id
            self.next_id += 2
            sids.append(sid)
            message = b"\x00" + len(payload).to_bytes(4, "big") + payload
            out.append(fr.build_headers(sid, self.encoder.encode(headers)))
            out.append(fr.build_data(sid, message, end_stream=end_stream))
        self.writer.write(b"".join(out))
        return sids

    def reset(self, stream_id: int) -> None:
        assert self.writer is not None
        self.writer.write(fr.build_rst_stream(stream_id, 8))

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        if self.reader_task is not None:
            self.reader_task.cancel()
            with contextlib.suppress(BaseException):
                await self.reader_task


@pytest.fixture
async def attack() -> AsyncIterator[Callable[..., Awaitable[Attacker]]]:
    """``await attack(port, read=True, open_windows=False)``: a connected :class:`Attacker`,
    closed at teardown."""
    attackers: list[Attacker] = []

    async def make(port: int, *, read: bool, open_windows: bool = False) -> Attacker:
        attacker = Attacker(port, read=read, open_windows=open_windows)
        await asyncio.wait_for(attacker.connect(), WAIT)
        attackers.append(attacker)
        return attacker

    yield make
    for attacker in attackers:
        await attacker.close()
