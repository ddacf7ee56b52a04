"""A gRPC server's HTTP/2 connection: grpcx's H2Connection vs python-hyper h2's, side by side.

Three workloads, each fed identically to both connections:

* receive 1,000 unary requests: HEADERS (typical gRPC request headers, HPACK-encoded by
  python-hyper's ``hpack``, as a third-party client would) + one DATA frame with END_STREAM
  per stream, delivered in 16 KiB reads; the application acknowledges each DATA;
* receive 1,000 small DATA frames (5-byte gRPC prefix + 100-byte message) on one stream,
  in 16 KiB reads, each acknowledged;
* send 1,000 unary responses: response headers + one DATA + trailers per call, then
  ``data_to_send()`` once per call (one transport write per call, as a driver does).

Both sides validate headers (their defaults) and return bytes header names and values.
Run: ``python bench/bench_connection.py [--quick]``. Prints a markdown table.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings
import hpack

from grpcx.http2 import frames as fr
from grpcx.http2.connection import H2Connection
from grpcx.http2.events import DataReceived
from grpcx.http2.settings import H2Config

CALLS = 1000
READ_SIZE = 16 * 1024
MESSAGE = b"\x00\x00\x00\x00\x64" + b"m" * 100

REQUEST = [
    (b":method", b"POST"),
    (b":scheme", b"http"),
    (b":path", b"/helloworld.Greeter/SayHello"),
    (b":authority", b"localhost:50051"),
    (b"content-type", b"application/grpc"),
    (b"te", b"trailers"),
    (b"grpc-accept-encoding", b"identity,deflate,gzip"),
    (b"user-agent", b"grpc-python/1.62.0 grpc-c/39.0.0 (linux; chttp2)"),
    (b"grpc-timeout", b"999m"),
]
RESPONSE = [(b":status", b"200"), (b"content-type", b"application/grpc")]
TRAILERS = [(b"grpc-status", b"0")]


# ------------------------------------------------------------------ inputs


def client_preface() -> bytes:
    """Preface, SETTINGS, the ACK of the server's, and a 16 MiB connection window (as gRPC
    clients open it), so that responses are never held by flow control."""
    return (
        fr.CONNECTION_PREFACE
        + fr.build_settings()
        + fr.build_settings(ack=True)
        + fr.build_window_update(0, 16 << 20)
    )


def unary_requests_wire(calls: int = CALLS) -> bytes:
    encoder = hpack.Encoder()
    out = [client_preface()]
    for i in range(calls):
        stream_id = 1 + 2 * i
        out.append(fr.build_headers(stream_id, bytes(encoder.encode(REQUEST))))
        out.append(fr.build_data(stream_id, MESSAGE, end_stream=True))
    return b"".join(out)


def data_stream_wire(frames: int = CALLS) -> bytes:
    encoder = hpack.Encoder()
    out = [client_preface(), fr.build_headers(1, bytes(encoder.encode(REQUEST)))]
    out += [fr.build_data(1, MESSAGE) for _ in range(frames)]
    return b"".join(out)


def reads(wire: bytes) -> list[bytes]:
    return [wire[i : i + READ_SIZE] for i in range(0, len(wire), READ_SIZE)]


# ------------------------------------------------------------------ the two servers
# Both allow more concurrent streams than the benchmark opens (unanswered unary requests stay
# half-closed, and count).


def grpcx_server() -> H2Connection:
    conn = H2Connection(client_side=False, config=H2Config(max_concurrent_streams=10 * CALLS))
    conn.initiate(0.0)
    conn.data_to_send()
    return conn


def h2_server() -> h2.connection.H2Connection:
    config = h2.config.H2Configuration(client_side=False, header_encoding=None)
    conn = h2.connection.H2Connection(config=config)
    conn.local_settings = h2.settings.Settings(
        client=False,
        initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 10 * CALLS},
    )
    conn.initiate_connection()
    conn.data_to_send()
    return conn


def receive_grpcx(chunks: list[bytes], conn: H2Connection | None = None) -> int:
    """Feed the reads; acknowledge each DATA. Returns the DATA bytes received."""
    conn = grpcx_server() if conn is None else conn
    received = 0
    for chunk in chunks:
        for event in conn.receive_data(chunk, 0.0):
            if type(event) is DataReceived:
                received += event.flow_controlled_length
                conn.acknowledge_received_data(event.stream_id, event.flow_controlled_length)
        conn.data_to_send()
    return received


def receive_h2(chunks: list[bytes], conn: h2.connection.H2Connection | None = None) -> int:
    conn = h2_server() if conn is None else conn
    received = 0
    data_received = h2.events.DataReceived
    for chunk in chunks:
        for event in conn.receive_data(chunk):
            if type(event) is data_received:
                received += event.flow_controlled_length
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        conn.data_to_send()
    return received


def send_grpcx(conn: Any) -> int:
    total = 0
    for i in range(CALLS):
        stream_id = 1 + 2 * i
        conn.send_headers(stream_id, RESPONSE)
        conn.send_data(stream_id, MESSAGE)
        conn.send_headers(stream_id, TRAILERS, end_stream=True)
        total += len(conn.data_to_send())
    return total


def send_h2(conn: Any) -> int:
    total = 0
    for i in range(CALLS):
        stream_id = 1 + 2 * i
        conn.send_headers(stream_id, RESPONSE)
        conn.send_data(stream_id, MESSAGE)
        conn.send_headers(stream_id, TRAILERS, end_stream=True)
        total += len(conn.data_to_send())
    return total


def server_with_requests(make: Callable[[], Any], receive: Callable[..., int]) -> Any:
    """A server connection that has received CALLS unary requests (setup, not timed)."""
    conn = make()
    receive(reads(unary_requests_wire()), conn)
    return conn


# ------------------------------------------------------------------ measuring


def best_of(
    repeats: int, run: Callable[[], object], setup: Callable[[], Any] | None = None
) -> float:
    """The best wall time of ``repeats`` runs; ``setup`` (untimed) feeds ``run``."""
    best = float("inf")
    for _ in range(repeats):
        arg = setup() if setup is not None else None
        start = time.perf_counter()
        run() if setup is None else run(arg)  # type: ignore[call-arg]
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    quick = "--quick" in sys.argv
    repeats = 3 if quick else 15
    unary = reads(unary_requests_wire())
    stream = reads(data_stream_wire())
    # Same work on both sides: every DATA byte received, every response byte sent.
    assert receive_grpcx(unary) == receive_h2(unary) == CALLS * len(MESSAGE)
    assert receive_grpcx(stream) == receive_h2(stream) == CALLS * len(MESSAGE)
    sent_grpcx = send_grpcx(server_with_requests(grpcx_server, receive_grpcx))
    sent_h2 = send_h2(server_with_requests(h2_server, receive_h2))
    assert sent_grpcx > CALLS * len(MESSAGE) and sent_h2 > CALLS * len(MESSAGE)

    rows = [
        (
            f"receive {CALLS} unary requests (HEADERS + DATA, END_STREAM)",
            best_of(repeats, lambda: receive_grpcx(unary)),
            best_of(repeats, lambda: receive_h2(unary)),
        ),
        (
            f"receive {CALLS} small DATA frames on one stream",
            best_of(repeats, lambda: receive_grpcx(stream)),
            best_of(repeats, lambda: receive_h2(stream)),
        ),
        (
            f"send {CALLS} unary responses (headers + DATA + trailers)",
            best_of(repeats, send_grpcx, lambda: server_with_requests(grpcx_server, receive_grpcx)),
            best_of(repeats, send_h2, lambda: server_with_requests(h2_server, receive_h2)),
        ),
    ]
    print(f"Python {sys.version.split()[0]}, h2 {version('h2')}, hpack {version('hpack')}")
    print()
    print("| benchmark (ops: requests, frames, responses) | grpcx ops/s | h2 ops/s | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for name, ours, theirs in rows:
        print(f"| {name} | {CALLS / ours:,.0f} | {CALLS / theirs:,.0f} | {theirs / ours:.1f}x |")


if __name__ == "__main__":
    main()
