"""The gRPC interop matrix: grpcx and grpcio (C core) as clients and servers, every case.

Each (client, server, security) pairing runs once: the server as a subprocess on
127.0.0.1 (port 0, reported on its first line of output), then one client process with
``--test_case=all`` that prints ``PASS name`` / ``FAIL name: reason`` per case. The lines
are parsed once per pairing (cached) and every case becomes its own test, so a failure
names its case, its pairing and the client's reason. grpcio client against grpcio server
checks the peer itself.

The in-process tests at the end run grpcx's client against grpcx's server in one event
loop through :func:`grpcx.interop.client.run_test_case`.
"""

from __future__ import annotations

import asyncio
import functools
import os
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import grpcx
import grpcx.aio
from grpcx.interop import (
    CA_FILE,
    CLIENT_CERT_FILE,
    CLIENT_KEY_FILE,
    SERVER_HOST_OVERRIDE,
    cases,
)
from grpcx.interop.client import CASE_TIMEOUT, client_ssl_context, run_test_case
from grpcx.interop.server import server_ssl_context, service_definition

PEER = str(Path(__file__).resolve().parent / "grpcio_peer.py")
IMPLEMENTATIONS = ("grpcx", "grpcio")
SECURITY = ("plaintext", "tls", "mtls")
SERVER_START_TIMEOUT = 30.0
CLIENT_RUN_TIMEOUT = 240.0  # all cases of one pairing, on a slow machine

try:
    import grpc  # noqa: F401

    HAVE_GRPCIO = True
except ImportError:  # grpcio is a test dependency; without it only grpcx x grpcx runs
    HAVE_GRPCIO = False


def _security_flags(security: str) -> list[str]:
    return [
        f"--use_tls={security != 'plaintext'}".lower(),
        f"--use_mtls={security == 'mtls'}".lower(),
    ]


def _server_command(implementation: str, security: str) -> list[str]:
    if implementation == "grpcx":
        base = [sys.executable, "-m", "grpcx.interop.server", "--port=0"]
    else:
        base = [sys.executable, PEER, "server", "--port=0"]
    return base + _security_flags(security)


def _client_command(implementation: str, security: str, port: int) -> list[str]:
    if implementation == "grpcx":
        base = [sys.executable, "-m", "grpcx.interop.client"]
    else:
        base = [sys.executable, PEER, "client"]
    return [
        *base,
        "--server_host=127.0.0.1",
        f"--server_port={port}",
        "--test_case=all",
        *_security_flags(security),
    ]


@dataclass(frozen=True)
class PairingRun:
    """What one client process reported: each case's failure reason (None: passed)."""

    results: dict[str, str | None]
    log: str


def _read_port(server: subprocess.Popen[str]) -> int:
    """Wait for the server's ``... listening on port N`` line."""
    assert server.stdout is not None
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    with selectors.DefaultSelector() as selector:
        selector.register(server.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=deadline - time.monotonic()):
                break
            line = server.stdout.readline()
            if not line:
                break
            if "listening on port" in line:
                return int(line.rsplit(maxsplit=1)[-1])
    raise RuntimeError(f"the interop server did not start: {server.args}")


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    if process.stdout is not None:
        process.stdout.close()


@functools.cache
def run_pairing(client: str, server: str, security: str) -> PairingRun:
    """Run every case of ``client`` against ``server`` once; cached for the session."""
    with tempfile.TemporaryFile(mode="w+") as server_log:
        server_process = subprocess.Popen(
            _server_command(server, security), stdout=subprocess.PIPE, stderr=server_log, text=True
        )
        try:
            port = _read_port(server_process)
            try:
                completed = subprocess.run(
                    _client_command(client, security, port),
                    capture_output=True,
                    text=True,
                    timeout=CLIENT_RUN_TIMEOUT,
                    check=False,
                )
                output, errors = completed.stdout, completed.stderr
            except subprocess.TimeoutExpired as expired:
                output = _text(expired.stdout)
                errors = _text(expired.stderr) + f"\nclient timed out after {CLIENT_RUN_TIMEOUT} s"
        finally:
            _stop(server_process)
        results: dict[str, str | None] = {}
        for line in output.splitlines():
            if line.startswith("PASS "):
                results[line[5:].strip()] = None
            elif line.startswith("FAIL "):
                name, _, reason = line[5:].partition(":")
                results[name.strip()] = reason.strip()
        server_log.seek(0)
        log = (
            f"client stdout:\n{output}\nclient stderr:\n{errors[-4000:]}\n"
            f"server stderr:\n{server_log.read()[-4000:]}"
        )
    return PairingRun(results, log)


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def _pairings() -> Iterator[object]:
    for client in IMPLEMENTATIONS:
        for server in IMPLEMENTATIONS:
            for security in SECURITY:
                marks = []
                if "grpcio" in (client, server) and not HAVE_GRPCIO:
                    marks.append(pytest.mark.skip(reason="grpcio is not installed"))
                yield pytest.param(
                    client, server, security, id=f"{client}-to-{server}-{security}", marks=marks
                )


@pytest.mark.parametrize("case", cases.TEST_CASES)
@pytest.mark.parametrize(("client", "server", "security"), list(_pairings()))
def test_interop(client: str, server: str, security: str, case: str) -> None:
    run = run_pairing(client, server, security)
    if case not in run.results:
        pytest.fail(f"{client} client reported nothing for {case}\n{run.log}")
    reason = run.results[case]
    if reason is not None:
        pytest.fail(f"{case} failed ({client} client, {server} server, {security}): {reason}")


# --- in process: grpcx client and server in one event loop -------------------------------


@pytest.fixture(params=["plaintext", "tls"])
async def channel(request: pytest.FixtureRequest) -> AsyncIterator[grpcx.aio.Channel]:
    tls = request.param == "tls"
    server = grpcx.aio.Server()
    server.add_service(service_definition())
    port = await server.add_port("127.0.0.1:0", ssl=server_ssl_context() if tls else None)
    await server.start()
    try:
        async with grpcx.aio.Channel(
            f"127.0.0.1:{port}",
            ssl=client_ssl_context() if tls else None,
            server_hostname=SERVER_HOST_OVERRIDE if tls else None,
        ) as channel:
            yield channel
    finally:
        await server.stop(grace=1.0)


@pytest.mark.parametrize("case", cases.TEST_CASES)
async def test_in_process(channel: grpcx.aio.Channel, case: str) -> None:
    await asyncio.wait_for(run_test_case(channel, case), CASE_TIMEOUT)


async def _serve_tls(*, mutual: bool) -> tuple[grpcx.aio.Server, int]:
    server = grpcx.aio.Server()
    server.add_service(service_definition())
    context = server_ssl_context(client_ca_file=CA_FILE if mutual else None)
    port = await server.add_port("127.0.0.1:0", ssl=context)
    await server.start()
    return server, port


async def test_tls_checks_the_server_name() -> None:
    server, port = await _serve_tls(mutual=False)
    try:
        async with grpcx.aio.Channel(
            f"127.0.0.1:{port}", ssl=client_ssl_context(), server_hostname="wrong.example.com"
        ) as channel:
            with pytest.raises(grpcx.RpcError) as raised:
                await asyncio.wait_for(run_test_case(channel, "empty_unary"), CASE_TIMEOUT)
        assert raised.value.code == grpcx.StatusCode.UNAVAILABLE
    finally:
        await server.stop(grace=1.0)


async def test_mutual_tls_needs_a_client_certificate() -> None:
    server, port = await _serve_tls(mutual=True)
    try:
        address = f"127.0.0.1:{port}"
        with_cert = client_ssl_context(cert_file=CLIENT_CERT_FILE, key_file=CLIENT_KEY_FILE)
        async with grpcx.aio.Channel(
            address, ssl=with_cert, server_hostname=SERVER_HOST_OVERRIDE
        ) as channel:
            await asyncio.wait_for(run_test_case(channel, "empty_unary"), CASE_TIMEOUT)
        async with grpcx.aio.Channel(
            address, ssl=client_ssl_context(), server_hostname=SERVER_HOST_OVERRIDE
        ) as channel:
            with pytest.raises(grpcx.RpcError) as raised:
                await asyncio.wait_for(run_test_case(channel, "empty_unary"), CASE_TIMEOUT)
        assert raised.value.code == grpcx.StatusCode.UNAVAILABLE
    finally:
        await server.stop(grace=1.0)


def test_unknown_case_is_refused() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "grpcx.interop.client", "--server_port=1", "--test_case=nope"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert completed.returncode != 0
    assert "unknown test case" in completed.stderr
