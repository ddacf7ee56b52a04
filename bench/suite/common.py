"""What every bench server and client shares: the service, its messages, its payloads.

The service ``bench.Bench`` uses protobuf's well-known wrapper messages, so every
implementation (Python and Go) uses real generated protobuf classes and its default
code path, with no protoc step:

- ``Unary(BytesValue) -> BytesValue``: echo; the server counts these calls.
- ``Stats(Int64Value) -> Int64Value``: the number of ``Unary`` calls served so far, so
  the suite can check that load generators which only see HTTP status (h2load) really
  reached the handler.
- ``ServerStream(Int64Value) -> stream BytesValue``: ``value`` messages of 100 bytes.
- ``ClientStream(stream BytesValue) -> Int64Value``: how many messages arrived.
- ``PingPong(stream BytesValue) -> stream BytesValue``: echo each message.
"""

from __future__ import annotations

import os
import struct
import sys

from google.protobuf.wrappers_pb2 import BytesValue, Int64Value

SERVICE = "bench.Bench"
UNARY = f"/{SERVICE}/Unary"
STATS = f"/{SERVICE}/Stats"
SERVER_STREAM = f"/{SERVICE}/ServerStream"
CLIENT_STREAM = f"/{SERVICE}/ClientStream"
PING_PONG = f"/{SERVICE}/PingPong"

STREAM_PAYLOAD_SIZE = 100
STREAM_ITEM = BytesValue(value=b"x" * STREAM_PAYLOAD_SIZE)

__all__ = [
    "CLIENT_STREAM",
    "PING_PONG",
    "SERVER_STREAM",
    "SERVICE",
    "STATS",
    "STREAM_ITEM",
    "STREAM_PAYLOAD_SIZE",
    "UNARY",
    "BytesValue",
    "Int64Value",
    "announce_port",
    "grpc_frame",
    "payload",
]


def payload(size: int, seed: int = 0) -> bytes:
    """Deterministic, not-all-equal bytes (the Go client makes the same ones)."""
    return bytes((seed + i * 7) & 0xFF for i in range(size))


def grpc_frame(message: bytes) -> bytes:
    """One uncompressed gRPC length-prefixed message."""
    return struct.pack(">BI", 0, len(message)) + message


def announce_port(port: int) -> None:
    """Tell the orchestrator the server is listening (it reads this line)."""
    sys.stdout.write(f"PORT {port}\n")
    sys.stdout.flush()


def install_uvloop() -> None:
    import asyncio

    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    os.environ["GRPCX_BENCH_LOOP"] = "uvloop"
