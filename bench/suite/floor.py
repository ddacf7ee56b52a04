"""What Python itself allows on this machine: peers that do almost nothing, next to grpcx.

    python -m bench.suite.floor [--duration S] [--warmup S]    (the comparison, one run)

Each scenario whose target the suite has not met is run against a peer written to be as
cheap as Python can be, and against grpcx and grpcio, pinned as the suite pins them
(servers on CPU 0, load on CPU 1):

- ``minimal``: an HTTP/2 responder with no state machine, no HPACK decoding, no gRPC and
  no handler; flow control is one connection WINDOW_UPDATE per half window. It scans
  frames and answers each request's last DATA frame with constant headers, the DATA
  echoed and constant trailers (framed around the stream id in two C calls), in one write
  per read. h2load drives it exactly as the suite drives the servers.
- ``tcp-echo``: ping-pong of 100 bytes over bare TCP, no HTTP/2 at all, on asyncio
  (``--blocking``: plain blocking sockets, no event loop).
- ``minimal-client``: 64 unary calls in flight on one connection from constant request
  frames (header fields indexed in the server's HPACK table after the first request, as
  real clients send them). Every response is checked: its DATA is the echo, byte for
  byte, and its trailers (through a real HPACK decoder) carry grpc-status 0. It reports its
  own CPU time per call, since the grpc-go server it talks to, not the client, sets its
  rate.

The answers of ``minimal`` are checked only by h2load's HTTP status: it is a bound, not
a server. Whatever the peers skip only raises the floor; a target near or above it asks a
complete implementation for what a peer doing none of the work barely reaches. Under
h2load's pipelined load the floor is h2load's own limit on its core rather than Python's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.suite.clients import Meter, ping_pong_result
from bench.suite.common import announce_port, grpc_frame, payload

from grpcx.http2.hpack import Decoder

_U32 = struct.Struct(">I")
# A frame header as (length's top 16 bits, its low 8, type, flags, stream id): one C call.
_FRAME_HEADER = struct.Struct(">HBBBI")
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
ECHO_SIZE = 100
IN_FLIGHT = 64
WINDOW = 1 << 30  # what each side grants the other's connection, topped up at half


def frame(kind: int, flags: int, stream_id: int, body: bytes) -> bytes:
    return _U32.pack(len(body))[1:] + bytes((kind, flags)) + _U32.pack(stream_id) + body


def literal_block(fields: list[tuple[bytes, bytes]], indexing: bool = False) -> bytes:
    """HPACK literals with new names, no Huffman (with ``indexing``: added to the table)."""
    kind = b"\x40" if indexing else b"\x00"
    return b"".join(kind + bytes((len(n),)) + n + bytes((len(v),)) + v for n, v in fields)


RESPONSE_HEADERS = literal_block([(b":status", b"200"), (b"content-type", b"application/grpc")])
TRAILERS = literal_block([(b"grpc-status", b"0")])
SETTINGS_ACK = frame(4, 1, 0, b"")
BIG_WINDOW = frame(8, 0, 0, _U32.pack(WINDOW))
# A response, framed around its stream id and echoed payload in two C calls: HEADERS with
# its block and the DATA frame's header, then the payload, then the trailers.
_HEAD_AND_DATA = struct.Struct(f">3sBBI{len(RESPONSE_HEADERS)}s3sBBI")
_TRAILERS = struct.Struct(f">3sBBI{len(TRAILERS)}s")
_HEAD_SIZE = len(RESPONSE_HEADERS).to_bytes(3, "big")
_TRAILERS_SIZE = len(TRAILERS).to_bytes(3, "big")

# One read buffer for every connection of the process (as grpcx's H2Protocol does: a plain
# Protocol would get a fresh 256 KiB bytes object per read, an mmap and munmap each).
_BUFFER = memoryview(bytearray(256 * 1024))


class _Buffered(asyncio.BufferedProtocol):
    """Every floor peer on asyncio: reads into the shared buffer, small writes sent now."""

    transport: asyncio.Transport

    def get_buffer(self, sizehint: int) -> memoryview:
        return _BUFFER

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _Peer(_Buffered):
    """The HTTP/2 peers: whole frames handed on, the rest kept; the connection window."""

    def __init__(self) -> None:
        self.pending = b""
        self.unacked = 0  # DATA received since our last WINDOW_UPDATE

    def buffer_updated(self, nbytes: int) -> None:
        data = bytes(_BUFFER[:nbytes])
        if self.pending:
            data = self.pending + data
        out: list[bytes] = []
        self.pending = data[self.frames(data, out) :]
        if out:
            self.transport.write(b"".join(out))

    def frames(self, data: bytes, out: list[bytes]) -> int:
        """Handle every whole frame of ``data``, answers into ``out``; where they end."""
        raise NotImplementedError

    def control(self, kind: int, flags: int, data: bytes, start: int, end: int) -> bytes:
        """The answer to a frame that is not a response's or request's own (or b"")."""
        if kind == 4 and not flags & 1:
            return SETTINGS_ACK
        if kind == 6 and not flags & 1:
            return frame(6, 1, 0, data[start:end])  # PING ACK
        if kind == 7 or kind == 3:
            self.fail(f"the peer sent {'GOAWAY' if kind == 7 else 'RST_STREAM'}")
        return b""

    def credit(self, nbytes: int) -> bytes:
        """Count received DATA; the connection WINDOW_UPDATE once half the window is used."""
        self.unacked += nbytes
        if self.unacked < WINDOW >> 1:
            return b""
        window, self.unacked = self.unacked, 0
        return frame(8, 0, 0, _U32.pack(window))

    def fail(self, why: str) -> None:
        self.transport.close()


class MinimalServer(_Peer):
    """Answers each request's last DATA frame: headers, the DATA echoed, trailers."""

    def __init__(self) -> None:
        super().__init__()
        self.preface_seen = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.transport.write(frame(4, 0, 0, b"") + BIG_WINDOW)

    def frames(self, data: bytes, out: list[bytes]) -> int:
        pos = 0
        if not self.preface_seen:
            if len(data) < len(PREFACE):
                return 0
            if not data.startswith(PREFACE):
                self.fail("not HTTP/2")
                return len(data)
            self.preface_seen = True
            pos = len(PREFACE)
        size = len(data)
        unpack = _FRAME_HEADER.unpack_from
        append = out.append
        received = 0
        while size - pos >= 9:
            high, low, kind, flags, sid = unpack(data, pos)
            start = pos + 9
            end = start + (high << 8 | low)
            if end > size:
                break
            if kind == 0:
                received += end - start
                if flags & 1:
                    sid &= 0x7FFFFFFF
                    length = (end - start).to_bytes(3, "big")
                    append(_HEAD_AND_DATA.pack(_HEAD_SIZE, 1, 4, sid, RESPONSE_HEADERS,
                                               length, 0, 0, sid))  # fmt: skip
                    append(data[start:end])
                    append(_TRAILERS.pack(_TRAILERS_SIZE, 1, 5, sid, TRAILERS))
            elif kind != 1:  # (request HEADERS need no answer of their own)
                append(self.control(kind, flags, data, start, end))
            pos = end
        if received:
            append(self.credit(received))
        return pos


class MinimalClient(_Peer):
    """Unary calls, ``IN_FLIGHT`` at a time, from constant frames; counts checked echoes."""

    def __init__(self, done: asyncio.Future[dict[str, Any]], warmup: float, duration: float):
        super().__init__()
        self.done = done
        self.next_id = 1
        fields = [
            (b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/bench.Bench/Unary"),
            (b":authority", b"127.0.0.1"), (b"content-type", b"application/grpc"),
            (b"te", b"trailers"),
        ]  # fmt: skip
        # The first request adds its fields to the server's HPACK table; every later one
        # names them by index (62 is the newest entry), as real clients do.
        self.first_block = literal_block(fields, indexing=True)
        self.block = bytes(0x80 | (62 + i) for i in reversed(range(len(fields))))
        # BytesValue(value=payload(100)) by hand: field 1, length-delimited.
        self.message = grpc_frame(b"\x0a" + bytes((ECHO_SIZE,)) + payload(ECHO_SIZE))
        # Responses' header blocks go through a real HPACK decoder (the server's table
        # must be followed), so each call's grpc-status is read, not assumed.
        self.decoder = Decoder()
        self.echoed: set[int] = set()  # streams whose echo arrived
        self.meter = Meter(warmup, duration)
        self.cpu_start = 0.0
        self.finished = False

    def request(self) -> bytes:
        sid = self.next_id
        self.next_id += 2
        block = self.block if sid > 1 else self.first_block
        return frame(1, 4, sid, block) + frame(0, 1, sid, self.message)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        first = [PREFACE, frame(4, 0, 0, b""), BIG_WINDOW]
        self.transport.write(b"".join(first + [self.request() for _ in range(IN_FLIGHT)]))

    def frames(self, data: bytes, out: list[bytes]) -> int:
        pos, size = 0, len(data)
        received = 0
        message = self.message
        while size - pos >= 9:
            high, low, kind, flags, sid = _FRAME_HEADER.unpack_from(data, pos)
            start = pos + 9
            end = start + (high << 8 | low)
            if end > size:
                break
            if kind == 0:
                received += end - start
                if end - start == len(message) and data.startswith(message, start):
                    self.echoed.add(sid)
                else:
                    self.fail(f"stream {sid}: not the echo")
            elif kind == 1:
                if not flags & 4:
                    self.fail("CONTINUATION frames are not expected here")
                headers = self.decoder.decode(data[start:end])
                if flags & 1:  # trailers: a call ended
                    self.ended(sid, headers, out)
            else:
                out.append(self.control(kind, flags, data, start, end))
            pos = end
        if received:
            out.append(self.credit(received))
        return pos

    def ended(self, sid: int, trailers: list[tuple[bytes, bytes]], out: list[bytes]) -> None:
        if (b"grpc-status", b"0") not in trailers:
            self.fail(f"stream {sid}: trailers without grpc-status 0: {trailers!r:.200}")
        elif sid not in self.echoed:
            self.fail(f"stream {sid} ended without its echo")
        self.echoed.discard(sid)
        if self.finished:
            return
        meter = self.meter
        if not meter.tick():
            self.finished = True
            cpu = _cpu() - self.cpu_start
            self.done.set_result({**meter.result(), "cpu_us_per_call": cpu / meter.calls * 1e6})
            return
        if meter.calls == 1 and not self.cpu_start:
            self.cpu_start = _cpu()  # the first call counted: the measured window is open
        out.append(self.request())

    def fail(self, why: str) -> None:
        if not self.done.done():
            self.done.set_exception(SystemExit(why))
        super().fail(why)

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail("connection lost")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Echo(_Buffered):
    def buffer_updated(self, nbytes: int) -> None:
        self.transport.write(bytes(_BUFFER[:nbytes]))


class _Pinger(_Echo):
    def __init__(self, done: asyncio.Future[dict[str, Any]], warmup: float, duration: float):
        self.done = done
        self.meter = Meter(warmup, duration)
        self.message = payload(ECHO_SIZE)
        self.got = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.transport.write(self.message)

    def buffer_updated(self, nbytes: int) -> None:
        got = bytes(_BUFFER[:nbytes])
        if self.got:
            got = self.got + got
        if len(got) < ECHO_SIZE:
            self.got = got
            return
        self.got = b""
        if got != self.message:
            self.fail("echo mismatch")
            return
        if not self.meter.tick():
            self.done.set_result(ping_pong_result(self.meter))
            return
        self.transport.write(self.message)

    def fail(self, why: str) -> None:
        if not self.done.done():
            self.done.set_exception(SystemExit(why))

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail("connection lost")


def _blocking_echo_server(sock: socket.socket) -> None:
    conn, _ = sock.accept()
    with conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while data := conn.recv(65536):
            conn.sendall(data)


def _blocking_pinger(port: int, warmup: float, duration: float) -> dict[str, Any]:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        message = payload(ECHO_SIZE)
        meter = Meter(warmup, duration)
        while True:
            sock.sendall(message)
            got = b""
            while len(got) < ECHO_SIZE:
                chunk = sock.recv(65536)
                if not chunk:
                    raise SystemExit("connection closed")
                got += chunk
            if got != message:
                raise SystemExit("echo mismatch")
            if not meter.tick():
                return ping_pong_result(meter)


async def _serve(factory: Any) -> None:
    server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
    announce_port(server.sockets[0].getsockname()[1])
    await asyncio.sleep(3600)


async def _connect(factory: Any, port: int, budget: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[dict[str, Any]] = loop.create_future()
    transport, _ = await loop.create_connection(lambda: factory(done), "127.0.0.1", port)
    try:
        return await asyncio.wait_for(done, budget)
    finally:
        transport.close()


def peer_main(argv: list[str]) -> None:
    """The peers, one per process: ``server``, ``echo-server``, ``client``, ``echo-client``."""
    parser = argparse.ArgumentParser(prog="bench.suite.floor")
    parser.add_argument("role", choices=("server", "echo-server", "client", "echo-client"))
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--blocking", action="store_true")
    parser.add_argument("--uvloop", action="store_true")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args(argv)
    if args.uvloop:
        from bench.suite.common import install_uvloop

        install_uvloop()
    budget = args.warmup + args.duration + 20
    if args.role == "server":
        asyncio.run(_serve(MinimalServer))
    elif args.role == "echo-server" and args.blocking:
        sock = socket.create_server(("127.0.0.1", 0))
        announce_port(sock.getsockname()[1])
        _blocking_echo_server(sock)
    elif args.role == "echo-server":
        asyncio.run(_serve(_Echo))
    else:
        if args.role == "echo-client" and args.blocking:
            result = _blocking_pinger(args.port, args.warmup, args.duration)
        else:
            kind = MinimalClient if args.role == "client" else _Pinger
            result = asyncio.run(
                _connect(lambda done: kind(done, args.warmup, args.duration), args.port, budget)
            )
        print(json.dumps(result), flush=True)


# ----------------------------------------------------------------------------- comparison

PEER = [sys.executable, "-m", "bench.suite.floor"]
GROUPS = ["pipelined", "one", "ping_pong", "client"]


def _row(
    title: str,
    unit: str,
    floor: dict[str, float],
    impls: dict[str, float],
    reference: str,
    factor: float,
    note: str = "",
) -> dict[str, Any]:
    """One scenario: the floor peers, grpcx, grpcio, and the target measured against them."""
    grpcio = [v for k, v in impls.items() if k.startswith("grpcio")]
    base = max(grpcio) if reference == "grpcio best" else impls[reference]
    target = factor * base
    best_floor = max(floor.values())
    return {
        "title": title, "unit": unit, "floor": floor, "impls": impls, "target": target,
        "target_rule": f"{factor:g}x {reference}", "target_over_floor": target / best_floor,
        "grpcx_over_floor": impls["grpcx"] / best_floor, "note": note,
    }  # fmt: skip


def compare(cfg: Any, only: set[str]) -> list[dict[str, Any]]:
    from bench.suite import run as suite

    rows: list[dict[str, Any]] = []
    impls = ["grpcx", "grpcx-uvloop", "grpcio-sync", "grpcio-aio"]
    env = {"PYTHONPATH": str(suite.ROOT)}
    window = ["--warmup", str(cfg.warmup), "--duration", str(cfg.duration)]
    if only & {"pipelined", "one"}:
        shapes = [(k, c, m) for k, c, m in (("pipelined", 4, 32), ("one", 16, 1)) if k in only]
        rates: dict[str, dict[str, float]] = {k: {} for k, _, _ in shapes}
        floors: dict[str, dict[str, float]] = {k: {} for k, _, _ in shapes}
        servers = [(f"minimal{s}", ([*PEER, "server", *a], env)) for s, a in (
            ("", []), ("-uvloop", ["--uvloop"]))] + [(i, None) for i in impls]  # fmt: skip
        for name, command in servers:
            with suite.running(name, cfg, command) as server:
                for key, conns, streams in shapes:
                    if command is None:
                        value = suite.h2load(cfg, server, conns, streams)["value"]
                        rates[key][name] = value
                    else:
                        done = suite.h2load_run(cfg, server.port, conns, streams)
                        floors[key][name] = value = done / cfg.duration
                    suite.log(cfg, f"  {key:<10} {name:<16} {value:,.0f} calls/s")
        for key, conns, streams in shapes:
            factor = 20.0 if key == "pipelined" else 10.0
            title = f"unary 100 B, h2load {conns} conn x {streams} stream{'s' * (streams > 1)}"
            rows.append(_row(title, "calls/s", floors[key], rates[key], "grpcio best", factor))
    if "ping_pong" in only:
        floor: dict[str, float] = {}
        for name, extra in (("tcp-echo", []), ("tcp-echo-blocking", ["--blocking"])):
            with suite.running(name, cfg, ([*PEER, "echo-server", *extra], env)) as server:
                out = suite.run_load(
                    cfg,
                    [*PEER, "echo-client", "--port", str(server.port), *extra, *window],
                    cfg.warmup + cfg.duration + 60, env,
                )  # fmt: skip
                floor[name] = json.loads(out.strip().splitlines()[-1])["rate"]
                suite.log(cfg, f"  ping-pong  {name:<16} {floor[name]:,.0f} round trips/s")
        pairs: dict[str, float] = {}
        for impl in impls:
            pairs[impl] = suite.ping_pong_own(cfg, impl)["value"]
            suite.log(cfg, f"  ping-pong  {impl:<16} {pairs[impl]:,.0f} round trips/s")
        rows.append(_row(
            "bidi ping-pong, own client and server", "round trips/s", floor, pairs,
            "grpcio best", 2.5, "the floor is bare TCP: no HTTP/2, no gRPC",
        ))  # fmt: skip
    if "client" in only:
        clients: dict[str, float] = {}
        with suite.running("grpc-go", cfg) as server:
            out = suite.run_load(
                cfg,
                [*PEER, "client", "--port", str(server.port), *window],
                cfg.warmup + cfg.duration + 60, env,
            )  # fmt: skip
            minimal = json.loads(out.strip().splitlines()[-1])
            suite.log(cfg, f"  client     minimal-client   {minimal['rate']:,.0f} calls/s "
                           f"({minimal['cpu_us_per_call']:.1f} us CPU per call)")  # fmt: skip
            for impl in ("grpcx", "grpcx-uvloop", "grpcio-aio"):
                clients[impl] = suite.client_unary(cfg, impl, server.port)["value"]
                suite.log(cfg, f"  client     {impl:<16} {clients[impl]:,.0f} calls/s")
        cpu = minimal["cpu_us_per_call"]
        rows.append(_row(
            "own client, 64 in flight, vs grpc-go server", "calls/s",
            {"minimal-client": minimal["rate"]}, clients, "grpcio-aio", 5.0,
            f"the floor client used {cpu:.1f} us of CPU per call: the grpc-go server "
            f"set its rate, and on its own it would make about {1e6 / cpu:,.0f} calls/s",
        ))  # fmt: skip
    return rows


def markdown(rows: list[dict[str, Any]], meta: str) -> str:
    lines = [
        meta, "",
        "| scenario | Python floor | grpcx | grpcx-uvloop | grpcio best | target "
        "| target / floor | grpcx / floor |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]  # fmt: skip
    notes = []
    for r in rows:
        floor = ", ".join(f"{v:,.0f} ({k})" for k, v in r["floor"].items())
        grpcio = max(v for k, v in r["impls"].items() if k.startswith("grpcio"))
        lines.append(
            f"| {r['title']} ({r['unit']}) | {floor} | {r['impls']['grpcx']:,.0f} "
            f"| {r['impls']['grpcx-uvloop']:,.0f} | {grpcio:,.0f} "
            f"| {r['target']:,.0f} ({r['target_rule']}) | {r['target_over_floor']:.2f}x "
            f"| {r['grpcx_over_floor']:.2f}x |"
        )
        if r["note"]:
            notes.append(f"- {r['title']}: {r['note']}.")
    return "\n".join([*lines, "", *notes]) + "\n"


def main() -> int:
    from bench.suite import run as suite

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--only", default=",".join(GROUPS), help=",".join(GROUPS))
    parser.add_argument("--md", type=Path, default=suite.RESULTS / "floor.md")
    parser.add_argument("--json", type=Path, default=suite.RESULTS / "floor.json")
    args = parser.parse_args()
    cache = Path.home() / ".cache" / "grpcx-bench"
    cfg = suite.Config(
        duration=args.duration, warmup=args.warmup, stream_count=0, latency_rate=0.0,
        idle_connections=0, open_streams=0, workers=0, server_cpus="0", load_cpus="1",
        go_bin=suite.build_go(cache), go_no_bdp=False, verbose=False,
    )  # fmt: skip
    only = set(args.only.split(","))
    if only - set(GROUPS):
        parser.error(f"unknown --only {sorted(only - set(GROUPS))}; choose from {GROUPS}")
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    try:
        rows = compare(cfg, only)
    except suite.Failed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        suite.stop_all_servers()
    meta = (
        f"Run {started}, {cfg.duration:g} s per scenario after {cfg.warmup:g} s of warm-up; "
        "servers on CPU 0, load on CPU 1."
    )
    table = markdown(rows, meta)
    print(table)
    args.md.write_text(table)
    args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        peer_main(sys.argv[1:])
    else:
        sys.exit(main())
