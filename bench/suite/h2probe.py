"""Hold many idle HTTP/2 connections or open gRPC streams against a server, for memory.

The orchestrator reads the server's RSS between steps, talking over stdin/stdout:

    python -m bench.suite.h2probe --port P --connections 1000
        -> "CONNS_READY n" once every connection finished its handshake (SETTINGS
           both ways and a PING answered); then waits for a line on stdin and closes.

    python -m bench.suite.h2probe --port P --streams 10000
        -> "CONNS_READY n" after the connections the streams will need (as many per
           connection as the server's SETTINGS_MAX_CONCURRENT_STREAMS allows, at most
           --per-connection), waits for a line, opens the streams: each a PingPong
           call that sends one 100-byte message and gets it echoed, and stays open;
           -> "STREAMS_READY n echoed" then waits for a line and closes.

Any stream reset or call that ends early is an error (exit 1). The same client (the
``h2`` library) is used against every server, so only the server differs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

import h2.config
import h2.connection
import h2.events
from bench.suite.common import PING_PONG, BytesValue, grpc_frame, payload

CONNECT_CONCURRENCY = 50


class ProbeError(Exception):
    pass


class Conn(asyncio.Protocol):
    def __init__(self, authority: str) -> None:
        self.h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.authority = authority.encode()
        self.transport: asyncio.Transport | None = None
        self.ready = asyncio.get_running_loop().create_future()
        self.settings_seen = False
        self.ping_acked = False
        self.pending: dict[int, bytes] = {}
        self.streams: set[int] = set()
        self.echoed: set[int] = set()
        self.error: str | None = None
        self.closing = False

    # asyncio
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.h2.initiate_connection()
        self.h2.ping(b"probe-01")
        self.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closing:
            self.fail(f"connection lost: {exc}")

    def data_received(self, data: bytes) -> None:
        try:
            events = self.h2.receive_data(data)
        except Exception as exc:
            self.fail(f"protocol error: {exc!r}")
            return
        for ev in events:
            if isinstance(ev, h2.events.RemoteSettingsChanged):
                self.settings_seen = True
            elif isinstance(ev, h2.events.PingAckReceived):
                self.ping_acked = True
            elif isinstance(ev, h2.events.DataReceived):
                self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                if ev.stream_id in self.streams:
                    self.echoed.add(ev.stream_id)
            elif isinstance(ev, h2.events.StreamReset):
                self.fail(f"stream {ev.stream_id} reset: {ev.error_code!r}")
            elif isinstance(ev, h2.events.ResponseReceived):
                status = dict(ev.headers).get(b":status")
                if status != b"200":
                    self.fail(f"stream {ev.stream_id}: HTTP status {status!r}")
                grpc_status = dict(ev.headers).get(b"grpc-status")
                if grpc_status is not None:  # trailers-only: the call ended
                    message = dict(ev.headers).get(b"grpc-message", b"")
                    self.fail(f"stream {ev.stream_id}: grpc-status {grpc_status!r} {message!r}")
            elif isinstance(ev, h2.events.TrailersReceived):
                self.fail(f"stream {ev.stream_id} ended: {dict(ev.headers)!r}")
            elif isinstance(ev, h2.events.WindowUpdated):
                pass
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.fail(f"GOAWAY {ev.error_code!r}")
        self.send_pending()
        if self.settings_seen and self.ping_acked and not self.ready.done():
            self.ready.set_result(None)

    def fail(self, message: str) -> None:
        if self.error is None:
            self.error = message
        if not self.ready.done():
            self.ready.set_exception(ProbeError(message))

    def flush(self) -> None:
        out = self.h2.data_to_send()
        if out and self.transport is not None:
            self.transport.write(out)

    def send_pending(self) -> None:
        for stream_id, body in list(self.pending.items()):
            if self.h2.local_flow_control_window(stream_id) >= len(body):
                self.h2.send_data(stream_id, body)
                del self.pending[stream_id]
        self.flush()

    def open_streams(self, n: int, body: bytes) -> None:
        headers = [
            (b":method", b"POST"),
            (b":scheme", b"http"),
            (b":path", PING_PONG.encode()),
            (b":authority", self.authority),
            (b"content-type", b"application/grpc"),
            (b"te", b"trailers"),
        ]
        for _ in range(n):
            sid = self.h2.get_next_available_stream_id()
            self.h2.send_headers(sid, headers)
            self.streams.add(sid)
            self.pending[sid] = body
        self.send_pending()

    @property
    def max_streams(self) -> int:
        return int(self.h2.remote_settings.max_concurrent_streams)


async def connect(port: int, sem: asyncio.Semaphore) -> Conn:
    loop = asyncio.get_running_loop()
    async with sem:
        _, conn = await loop.create_connection(lambda: Conn(f"127.0.0.1:{port}"), "127.0.0.1", port)
        await asyncio.wait_for(conn.ready, 30)
    return conn


async def wait_line() -> None:
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


def say(*words: object) -> None:
    print(*words, flush=True)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    sem = asyncio.Semaphore(CONNECT_CONCURRENCY)
    info: dict[str, Any] = {}
    if args.connections:
        conns = await asyncio.gather(*(connect(args.port, sem) for _ in range(args.connections)))
        info["connections"] = len(conns)
        say("CONNS_READY", len(conns))
        await wait_line()
    else:
        first = await connect(args.port, sem)
        limit = min(first.max_streams, args.per_connection)
        needed = -(-args.streams // limit)
        conns = [
            first,
            *await asyncio.gather(*(connect(args.port, sem) for _ in range(needed - 1))),
        ]
        info.update(connections=len(conns), per_connection=limit, server_limit=first.max_streams)
        say("CONNS_READY", len(conns))
        await wait_line()
        body = grpc_frame(BytesValue(value=payload(100, 9)).SerializeToString())
        # Streams open in batches, each batch echoed before the next: a burst of
        # thousands of new calls at once is another test (grpcio cancels calls past
        # its pending-request queue). A server that runs a handler per thread (grpcio
        # sync) only echoes on as many streams as it has threads (--min-echoed).
        need = args.min_echoed if args.min_echoed >= 0 else args.streams
        loop = asyncio.get_running_loop()
        deadline = loop.time() + args.timeout
        opened = 0
        for conn in conns:
            while len(conn.streams) < limit and opened < args.streams:
                n = min(args.batch, limit - len(conn.streams), args.streams - opened)
                conn.open_streams(n, body)
                opened += n
                want = min(opened, need)
                if want < opened:
                    # No echo to wait for (a thread-per-call server with every thread
                    # taken): pace the batches instead of bursting them.
                    await asyncio.sleep(args.pace)
                while True:
                    for c in conns:
                        if c.error:
                            raise ProbeError(c.error)
                    echoed = sum(len(c.echoed) for c in conns)
                    if echoed >= want:
                        break
                    if loop.time() > deadline:
                        raise ProbeError(
                            f"only {echoed} of {opened} streams echoed in {args.timeout} s"
                        )
                    await asyncio.sleep(0.005)
        await asyncio.sleep(0.5)
        echoed = sum(len(c.echoed) for c in conns)
        # A PING round trip on each connection: the server has read everything before.
        for conn in conns:
            conn.ping_acked = False
            conn.h2.ping(b"probe-02")
            conn.flush()
        while not all(c.ping_acked for c in conns):
            if any(c.error for c in conns):
                raise ProbeError(next(c.error for c in conns if c.error))
            if loop.time() > deadline:
                raise ProbeError("PING not answered")
            await asyncio.sleep(0.02)
        info.update(streams=args.streams, echoed=echoed)
        say("STREAMS_READY", args.streams, echoed)
        await wait_line()
    for conn in conns:
        if conn.error:
            raise ProbeError(conn.error)
    for conn in conns:
        conn.closing = True
        if conn.transport is not None:
            conn.transport.close()
    return info


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--connections", type=int, default=0)
    parser.add_argument("--streams", type=int, default=0)
    parser.add_argument("--per-connection", type=int, default=1000)
    parser.add_argument("--min-echoed", type=int, default=-1)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--pace", type=float, default=0.1)
    parser.add_argument("--timeout", type=float, default=60.0)
    ns = parser.parse_args()
    try:
        result = asyncio.run(main(ns))
    except (ProbeError, OSError, asyncio.TimeoutError) as exc:
        print(f"h2probe: {exc!r}", file=sys.stderr)
        sys.exit(1)
    say("RESULT", json.dumps(result))
