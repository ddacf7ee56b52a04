"""The floor peers of bench/suite/floor.py answer real peers correctly, and the report's
arithmetic (target against floor) is right. Loopback only, a fraction of a second each."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import pytest
from google.protobuf.wrappers_pb2 import BytesValue

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.suite import floor  # noqa: E402
from bench.suite.common import grpc_frame, payload  # noqa: E402

import grpcx  # noqa: E402
import grpcx.aio  # noqa: E402


def _h2_client(stream_ids: list[int], body: bytes) -> h2.connection.H2Connection:
    """python-hyper's h2 as the client, a unary request with ``body`` on each stream sent."""
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    for sid in stream_ids:
        conn.send_headers(
            sid,
            [(":method", "POST"), (":scheme", "http"), (":path", "/bench.Bench/Unary"),
             (":authority", "127.0.0.1"), ("content-type", "application/grpc"),
             ("te", "trailers")],
        )  # fmt: skip
        conn.send_data(sid, body, end_stream=True)
    return conn


async def _h2_request(port: int, stream_ids: list[int], body: bytes) -> dict[int, Any]:
    """The requests of ``_h2_client`` over a socket: what each stream got back."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    conn = _h2_client(stream_ids, body)
    writer.write(conn.data_to_send())
    got: dict[int, Any] = {
        sid: {"headers": None, "data": b"", "trailers": None} for sid in stream_ids
    }
    ended: set[int] = set()
    while len(ended) < len(stream_ids):
        data = await asyncio.wait_for(reader.read(65536), 5)
        assert data, "the minimal server closed the connection"
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived):
                got[event.stream_id]["headers"] = dict(event.headers)
            elif isinstance(event, h2.events.DataReceived):
                got[event.stream_id]["data"] += event.data
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.TrailersReceived):
                got[event.stream_id]["trailers"] = dict(event.headers)
            elif isinstance(event, h2.events.StreamEnded):
                ended.add(event.stream_id)
        writer.write(conn.data_to_send())
    writer.close()
    return got


async def test_minimal_server_answers_each_request_with_its_echo() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(floor.MinimalServer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    body = grpc_frame(BytesValue(value=payload(100)).SerializeToString())
    try:
        # h2 checks every frame and HPACK block it is sent: a malformed answer fails here.
        got = await _h2_request(port, [1, 3, 5], body)
    finally:
        server.close()
    for sid in (1, 3, 5):
        assert got[sid]["headers"] == {b":status": b"200", b"content-type": b"application/grpc"}
        assert got[sid]["data"] == body
        assert got[sid]["trailers"] == {b"grpc-status": b"0"}


async def _echo(request: BytesValue, context: Any) -> BytesValue:
    return request


async def _grpcx_server(handler: Any) -> tuple[grpcx.aio.Server, int]:
    server = grpcx.aio.Server()
    server.add_service(
        grpcx.ServiceDefinition(
            "bench.Bench", [grpcx.unary_unary("Unary", handler, BytesValue, BytesValue)]
        )
    )
    port = await server.add_port("127.0.0.1:0")
    await server.start()
    return server, port


async def _run_client(port: int) -> dict[str, Any]:
    return await floor._connect(lambda d: floor.MinimalClient(d, 0.05, 0.2), port, 10)


async def test_minimal_client_counts_real_echoes_from_a_grpc_server() -> None:
    server, port = await _grpcx_server(_echo)
    try:
        result = await _run_client(port)
    finally:
        await server.stop(0)
    assert result["calls"] > 0
    assert result["rate"] == pytest.approx(result["calls"] / result["seconds"])
    assert result["cpu_us_per_call"] > 0


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        (None, "without grpc-status 0"),  # the handler fails: a non-OK status
        (BytesValue(value=b"short"), "not the echo"),  # a message of another size
        (BytesValue(value=b"z" * 100), "not the echo"),  # the right size, other bytes
    ],
)
async def test_minimal_client_fails_unless_each_call_is_an_ok_echo(
    reply: BytesValue | None, why: str
) -> None:
    async def handler(request: BytesValue, context: Any) -> BytesValue:
        if reply is None:
            raise grpcx.RpcError(grpcx.StatusCode.UNAVAILABLE, "no")
        return reply

    server, port = await _grpcx_server(handler)
    try:
        with pytest.raises(SystemExit, match=why):
            await _run_client(port)
    finally:
        await server.stop(0)


class _Transport(asyncio.Transport):
    """Collects what a protocol writes; its "socket" only takes socket options."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.sock = socket.socket()
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.sock if name == "socket" else default

    def write(self, data: Any) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True
        self.sock.close()


@pytest.mark.parametrize("chunk", [1, 7, 13, 100, 1 << 16])
def test_minimal_server_reads_frames_and_the_preface_split_anywhere(chunk: int) -> None:
    """Fed in pieces of ``chunk`` bytes (splitting the preface and frames), the server
    acknowledges SETTINGS and PING, keeps the connection window open, and answers every
    request; python-hyper's h2 checks all of it."""
    body = grpc_frame(BytesValue(value=payload(100)).SerializeToString())
    client = _h2_client([1, 3, 5], body)
    client.ping(b"12345678")
    wire = client.data_to_send()
    server = floor.MinimalServer()
    transport = _Transport()
    server.connection_made(transport)
    for i in range(0, len(wire), chunk):
        piece = wire[i : i + chunk]
        buffer = server.get_buffer(len(piece))
        buffer[: len(piece)] = piece
        server.buffer_updated(len(piece))
    transport.close()
    assert server.pending == b""
    events = client.receive_data(bytes(transport.written))
    kinds = [type(e).__name__ for e in events]
    assert "RemoteSettingsChanged" in kinds and "SettingsAcknowledged" in kinds
    assert any(isinstance(e, h2.events.PingAckReceived) and e.ping_data == b"12345678"
               for e in events)  # fmt: skip
    assert client.outbound_flow_control_window >= 1 << 30  # the server's WINDOW_UPDATE
    echoes = {e.stream_id: e.data for e in events if isinstance(e, h2.events.DataReceived)}
    assert echoes == {1: body, 3: body, 5: body}
    ended = {e.stream_id for e in events if isinstance(e, h2.events.StreamEnded)}
    assert ended == {1, 3, 5}


def test_minimal_server_credits_the_connection_window_at_half() -> None:
    server = floor.MinimalServer()
    assert server.credit(floor.WINDOW // 2 - 1) == b""
    update = server.credit(1)
    assert update == floor.frame(8, 0, 0, (floor.WINDOW // 2).to_bytes(4, "big"))
    assert server.unacked == 0


async def test_pinger_counts_round_trips_and_checks_the_echo() -> None:
    loop = asyncio.get_running_loop()
    echo = await loop.create_server(floor._Echo, "127.0.0.1", 0)
    port = echo.sockets[0].getsockname()[1]
    try:
        result = await floor._connect(lambda d: floor._Pinger(d, 0.05, 0.2), port, 10)
    finally:
        echo.close()
    assert result["round_trips"] > 0

    class Corrupting(floor._Echo):
        def buffer_updated(self, nbytes: int) -> None:
            self.transport.write(b"y" * nbytes)

    bad = await loop.create_server(Corrupting, "127.0.0.1", 0)
    try:
        with pytest.raises(SystemExit, match="echo mismatch"):
            await floor._connect(
                lambda d: floor._Pinger(d, 0.0, 0.2), bad.sockets[0].getsockname()[1], 10
            )
    finally:
        bad.close()


def test_blocking_pinger_against_the_blocking_echo_server() -> None:
    import threading

    sock = socket.create_server(("127.0.0.1", 0))
    thread = threading.Thread(target=floor._blocking_echo_server, args=(sock,), daemon=True)
    thread.start()
    try:
        result = floor._blocking_pinger(sock.getsockname()[1], 0.05, 0.2)
    finally:
        thread.join(5)  # the server's loop ends when the pinger closes its socket
        sock.close()
    assert not thread.is_alive()
    assert result["round_trips"] > 0


def test_rows_measure_the_target_against_the_best_floor() -> None:
    row = floor._row(
        "one", "calls/s", {"minimal": 100_000.0, "minimal-uvloop": 120_000.0},
        {"grpcx": 60_000.0, "grpcx-uvloop": 66_000.0, "grpcio-sync": 10_000.0,
         "grpcio-aio": 6_000.0},
        "grpcio best", 10.0,
    )  # fmt: skip
    assert row["target"] == pytest.approx(100_000.0)  # 10x the better grpcio mode
    assert row["target_over_floor"] == pytest.approx(100_000 / 120_000)
    assert row["grpcx_over_floor"] == pytest.approx(0.5)
    client = floor._row(
        "client", "calls/s", {"minimal-client": 130_000.0},
        {"grpcx": 80_000.0, "grpcx-uvloop": 84_000.0, "grpcio-aio": 25_000.0},
        "grpcio-aio", 5.0,
    )  # fmt: skip
    assert client["target"] == pytest.approx(125_000.0)
    table = floor.markdown([row, client], "meta")
    assert "| 100,000 (10x grpcio best) | 0.83x | 0.50x |" in table
    assert "| 125,000 (5x grpcio-aio) | 0.96x | 0.62x |" in table
