"""The gRPC interop matrix: grpcx, grpcio (C core) and grpc-go as clients and servers.

Each (client, server, security) pairing runs once: the server as a subprocess on
127.0.0.1 (port 0, reported on its first line of output), then one client process with
``--test_case=all`` that prints ``PASS name`` / ``FAIL name: reason`` per case. The lines
are parsed once per pairing (cached) and every case becomes its own test, so a failure
names its case, its pairing and the client's reason. grpcio client against grpcio server
checks the peer itself.

grpc-go is the 1.33 that Debian 12 ships, through ``tests/interop/go`` (a client and
server written here, as Debian packages no interop programs), built offline in GOPATH
mode from Debian's golang packages once per source digest. It is paired with grpcx only,
both ways. Without ``go`` or those packages the grpc-go tests fail (``make test``
installs them). What grpc-go 1.33 cannot do is listed in :data:`KNOWN_LIMITS`.

The in-process tests at the end run grpcx's client against grpcx's server in one event
loop through :func:`grpcx.interop.client.run_test_case`.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import selectors
import shutil
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
GO_PEER_SOURCE = Path(__file__).resolve().parent / "go"
CERTS_DIR = str(Path(CA_FILE).parent)
IMPLEMENTATIONS = ("grpcx", "grpcio", "grpc-go")
SECURITY = ("plaintext", "tls", "mtls")
SERVER_START_TIMEOUT = 30.0
CLIENT_RUN_TIMEOUT = 240.0  # all cases of one pairing, on a slow machine
GO_BUILD_TIMEOUT = 600.0
GO_DEBIAN_PACKAGES = "golang-go golang-google-grpc-dev golang-google-protobuf-dev"
GO_PACKAGES_DIR = Path("/usr/share/gocode")

#: (client, server, case) pairs that cannot pass because of what one side's API lacks;
#: they are expected to fail, and a test fails when one of them starts passing.
KNOWN_LIMITS = {
    ("grpcx", "grpc-go", case): (
        "grpc-go 1.33's server cannot choose response compression per call or per message "
        "(it compresses only with the request's own encoding), so it ignores "
        "response_compressed / ResponseParameters.compressed"
    )
    for case in ("server_compressed_unary", "server_compressed_streaming")
}

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


def build_go_peer(cache: Path) -> Path:
    """Build tests/interop/go (once per source digest and Go version) into ``cache``.

    Offline, in GOPATH mode, from Debian's golang-google-grpc-dev (grpc-go 1.33) and
    golang-google-protobuf-dev, as ``bench/suite/run.py`` builds its grpc-go reference.
    Fails the calling test when Go or those packages are missing.
    """
    go = shutil.which("go")
    if go is None:
        pytest.fail(
            f"go is not installed: `make test` installs it (apt-get install {GO_DEBIAN_PACKAGES})"
        )
    for package in ("google.golang.org/grpc", "google.golang.org/protobuf"):
        if not (GO_PACKAGES_DIR / "src" / package).is_dir():
            pytest.fail(
                f"{package} is not in {GO_PACKAGES_DIR}: `make test` installs it "
                f"(apt-get install {GO_DEBIAN_PACKAGES})"
            )
    digest = hashlib.sha256()
    for source in sorted(GO_PEER_SOURCE.glob("*.go")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    version = subprocess.run(
        [go, "version"], capture_output=True, text=True, check=True, timeout=60
    )
    digest.update(version.stdout.encode())
    binary = cache / f"gointerop-{digest.hexdigest()[:16]}"
    if binary.exists():
        return binary
    cache.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "GO111MODULE": "off",
        "GOPATH": str(GO_PACKAGES_DIR),
        "GOFLAGS": "",
        "GOCACHE": str(cache / "gocache"),
        "CGO_ENABLED": "0",
    }
    partial = binary.with_suffix(".partial")
    completed = subprocess.run(
        [go, "build", "-o", str(partial), "."],
        cwd=GO_PEER_SOURCE,
        env=env,
        capture_output=True,
        text=True,
        timeout=GO_BUILD_TIMEOUT,
        check=False,
    )
    if completed.returncode != 0:
        pytest.fail(
            "building the grpc-go interop peer failed (`make test` installs "
            f"{GO_DEBIAN_PACKAGES}):\n{completed.stderr[-4000:]}"
        )
    partial.replace(binary)
    return binary


@pytest.fixture(scope="session")
def go_peer(request: pytest.FixtureRequest) -> Path:
    """The grpc-go interop peer's binary, built once per session (cached across runs)."""
    cache_provider = getattr(request.config, "cache", None)
    if cache_provider is not None:
        cache = Path(cache_provider.mkdir("grpcx-go-interop"))
    else:  # -p no:cacheprovider
        cache = Path(tempfile.gettempdir()) / f"grpcx-go-interop-{os.getuid()}"
    return build_go_peer(cache)


def _server_command(implementation: str, security: str, go_peer: Path | None) -> list[str]:
    if implementation == "grpcx":
        base = [sys.executable, "-m", "grpcx.interop.server", "--port=0"]
    elif implementation == "grpc-go":
        assert go_peer is not None
        base = [str(go_peer), "server", "--port=0", f"--certs_dir={CERTS_DIR}"]
    else:
        base = [sys.executable, PEER, "server", "--port=0"]
    return base + _security_flags(security)


def _client_command(
    implementation: str, security: str, port: int, go_peer: Path | None
) -> list[str]:
    if implementation == "grpcx":
        base = [sys.executable, "-m", "grpcx.interop.client"]
    elif implementation == "grpc-go":
        assert go_peer is not None
        base = [str(go_peer), "client", f"--certs_dir={CERTS_DIR}"]
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
def run_pairing(client: str, server: str, security: str, go_peer: Path | None = None) -> PairingRun:
    """Run every case of ``client`` against ``server`` once; cached for the session."""
    with tempfile.TemporaryFile(mode="w+") as server_log:
        server_process = subprocess.Popen(
            _server_command(server, security, go_peer),
            stdout=subprocess.PIPE,
            stderr=server_log,
            text=True,
        )
        try:
            port = _read_port(server_process)
            try:
                completed = subprocess.run(
                    _client_command(client, security, port, go_peer),
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
            if "grpc-go" in (client, server) and "grpcx" not in (client, server):
                continue  # grpc-go is paired with grpcx only
            for security in SECURITY:
                marks = []
                if "grpcio" in (client, server) and not HAVE_GRPCIO:
                    marks.append(pytest.mark.skip(reason="grpcio is not installed"))
                yield pytest.param(
                    client, server, security, id=f"{client}-to-{server}-{security}", marks=marks
                )


@pytest.mark.parametrize("case", cases.TEST_CASES)
@pytest.mark.parametrize(("client", "server", "security"), list(_pairings()))
def test_interop(
    request: pytest.FixtureRequest, client: str, server: str, security: str, case: str
) -> None:
    go_peer = request.getfixturevalue("go_peer") if "grpc-go" in (client, server) else None
    run = run_pairing(client, server, security, go_peer)
    if case not in run.results:
        pytest.fail(f"{client} client reported nothing for {case}\n{run.log}")
    reason = run.results[case]
    limit = KNOWN_LIMITS.get((client, server, case))
    if limit is not None:
        if reason is None:
            pytest.fail(f"{case} now passes ({client} client, {server} server): drop its limit")
        pytest.xfail(f"{limit} ({reason})")
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
        assert raised.value.code() == grpcx.StatusCode.UNAVAILABLE
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
        assert raised.value.code() == grpcx.StatusCode.UNAVAILABLE
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
