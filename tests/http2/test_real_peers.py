"""The HTTP/2 core against real peers: nghttp2's nghttp, h2load and nghttpd, and
python-hyper's h2 as a client. Loopback only; every run is bounded in time."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import pytest

from grpcx.aio._http2_demo import GREETING, fetch, serve

pytestmark = pytest.mark.timeout(120)


def require(tool: str) -> str:
    path = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/usr/bin")
    if path is None:
        pytest.fail(f"{tool} is not installed: `make test` installs nghttp2-client/-server")
    return path


async def run(*argv: str, timeout: float = 60) -> str:
    return (await run_bytes(*argv, timeout=timeout)).decode(errors="replace")


async def run_bytes(*argv: str, timeout: float = 60) -> bytes:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode == 0, f"{argv[0]} exited {proc.returncode}:\n{out!r}\n{err!r}"
    return out


@pytest.fixture
async def server_port() -> AsyncIterator[int]:
    server = await serve("127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


async def test_nghttp_get_and_post(server_port: int, tmp_path: Path) -> None:
    nghttp = require("nghttp")
    url = f"http://127.0.0.1:{server_port}/"
    out = await run(nghttp, url)
    assert out.encode() == GREETING

    # A POST body larger than the default 64 KiB stream window nghttp starts with, so
    # both sides exercise flow control; -v shows the frames nghttp2 accepted.
    body = os.urandom(300_000)
    upload = tmp_path / "body.bin"
    upload.write_bytes(body)
    verbose = await run(nghttp, "-v", "-n", "-d", str(upload), url + "echo")
    assert "recv SETTINGS frame" in verbose
    assert ":status: 200" in verbose
    assert "recv DATA frame" in verbose and "END_STREAM" in verbose
    echoed = await run_bytes(nghttp, "-d", str(upload), url + "echo")
    assert hashlib.sha256(echoed).digest() == hashlib.sha256(body).digest()


async def test_h2load_many_concurrent_streams(server_port: int) -> None:
    h2load = require("h2load")
    out = await run(h2load, "-n", "4000", "-c", "4", "-m", "32", f"http://127.0.0.1:{server_port}/")
    assert "4000 succeeded, 0 failed, 0 errored" in out, out
    assert "status codes: 4000 2xx" in out, out


def _h2_client(port: int, bodies: list[bytes]) -> list[bytes]:
    """python-hyper h2 as a blocking client: several concurrent POSTs echoed back."""
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        conn.initiate_connection()
        pending: dict[int, bytes] = {}
        received: dict[int, bytearray] = {}
        done: set[int] = set()
        for body in bodies:
            sid = conn.get_next_available_stream_id()
            conn.send_headers(
                sid,
                [(":method", "POST"), (":scheme", "http"), (":authority", "x"), (":path", "/")],
            )
            pending[sid] = body
            received[sid] = bytearray()
        order = list(pending)
        sock.sendall(conn.data_to_send())
        while len(done) < len(order):
            for sid in order:  # send all that the flow-control windows allow
                rest = pending[sid]
                if rest is None:
                    continue
                while rest:
                    size = min(len(rest), conn.local_flow_control_window(sid))
                    size = min(size, conn.max_outbound_frame_size)
                    if size <= 0:
                        break
                    conn.send_data(sid, rest[:size])
                    rest = rest[size:]
                if not rest:
                    conn.end_stream(sid)
                    pending[sid] = None  # type: ignore[assignment]
                else:
                    pending[sid] = rest
            sock.sendall(conn.data_to_send())
            data = sock.recv(65_536)
            assert data, "server closed the connection"
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.DataReceived):
                    received[event.stream_id] += event.data
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    done.add(event.stream_id)
                elif isinstance(event, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
                    raise AssertionError(f"unexpected {event}")
            sock.sendall(conn.data_to_send())
        conn.close_connection()
        sock.sendall(conn.data_to_send())
    return [bytes(received[sid]) for sid in order]


async def test_python_hyper_h2_client(server_port: int) -> None:
    bodies = [os.urandom(n) for n in (0, 1, 70_000, 1_500_000, 33)]
    echoed = await asyncio.to_thread(_h2_client, server_port, bodies)
    assert echoed == bodies


@pytest.fixture
def nghttpd(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    binary = require("nghttpd")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    docroot = tmp_path / "www"
    docroot.mkdir()
    proc = subprocess.Popen(
        [binary, "--no-tls", "-a", "127.0.0.1", "-d", str(docroot), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail("nghttpd exited")
                subprocess.run(["sleep", "0.05"], check=True)
        yield port, docroot
    finally:
        proc.terminate()
        proc.wait(10)


async def test_client_fetches_from_nghttpd(nghttpd: tuple[int, Path]) -> None:
    port, docroot = nghttpd
    small = b"small file\n"
    big = os.urandom(3_000_000)  # far beyond the initial windows: exercises our acks
    (docroot / "small.txt").write_bytes(small)
    (docroot / "big.bin").write_bytes(big)
    response = await fetch("127.0.0.1", port, "/small.txt")
    assert (response.status, response.body) == (200, small)
    response = await fetch("127.0.0.1", port, "/big.bin")
    assert response.status == 200
    assert hashlib.sha256(response.body).digest() == hashlib.sha256(big).digest()
    response = await fetch("127.0.0.1", port, "/missing")
    assert response.status == 404
