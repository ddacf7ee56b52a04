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


async def _h2_request(port: int, stream_ids: list[int], body: bytes) -> dict[int, Any]:
    """python-hyper's h2 as the client: what each stream got back."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
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


async def test_minimal_client_fails_when_a_call_brings_no_echo() -> None:
    async def refuse(request: BytesValue, context: Any) -> BytesValue:
        raise grpcx.RpcError(grpcx.StatusCode.UNAVAILABLE, "no")

    server, port = await _grpcx_server(refuse)
    try:
        with pytest.raises(SystemExit, match="without its echo"):
            await _run_client(port)
    finally:
        await server.stop(0)


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
