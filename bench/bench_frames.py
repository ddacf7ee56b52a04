"""Parsing streams of frames: grpcx's frame reader vs hyperframe, side by side.

The main input is what a gRPC server sees for a stream of small messages: 1,000 DATA
frames, each carrying one 5-byte gRPC prefix and a 100-byte message, over a few streams.
The same with message sizes varying frame to frame shows the per-frame path alone.
A second input mixes sizes and types (DATA of 0-1,000 bytes, WINDOW_UPDATE, PING, HEADERS)
so that no single frame length dominates. Both sides produce the type, flags, stream id and
payload of every frame. Run: ``python bench/bench_frames.py [--quick]``.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable

import hyperframe.frame as hf

from grpcx.http2 import frames as fr

FRAMES = 1000


def make_wire() -> bytes:
    message = b"\x00\x00\x00\x00\x64" + b"m" * 100
    return b"".join(fr.build_data(1 + 2 * (i % 4), message) for i in range(FRAMES))


def make_varied_wire() -> bytes:
    """Small DATA frames as above, but messages of 90-120 bytes: no two neighbours need be
    alike, so read_frames' run path (frames alike, in one C call) rarely applies."""
    rng = random.Random(2)
    out = []
    for i in range(FRAMES):
        size = rng.randrange(90, 121)
        out.append(fr.build_data(1 + 2 * (i % 4), b"\x00" + size.to_bytes(4, "big") + b"m" * size))
    return b"".join(out)


def make_mixed_wire() -> bytes:
    rng = random.Random(1)
    out = []
    for i in range(FRAMES):
        sid = 1 + 2 * (i % 8)
        kind = rng.random()
        if kind < 0.7:
            out.append(fr.build_data(sid, b"d" * rng.randrange(0, 1000)))
        elif kind < 0.8:
            out.append(fr.build_window_update(sid, rng.randrange(1, 70_000)))
        elif kind < 0.9:
            out.append(fr.build_headers(sid, b"\x88" + b"h" * rng.randrange(0, 60)))
        else:
            out.append(fr.build_ping(b"%08d" % i))
    return b"".join(out)


def parse_grpcx(wire: bytes) -> int:
    """Read the frames and parse each body as the connection does (hyperframe's
    ``parse_body`` parses every frame type it knows)."""
    data_type = fr.DATA
    padded = fr.FLAG_PADDED
    parse_data = fr.parse_data
    # The other frame types' parsers, by type, as the connection dispatches them.
    parsers: dict[int, Callable[[int, int, bytes], object]] = {
        fr.HEADERS: fr.parse_headers,
        fr.WINDOW_UPDATE: lambda flags, stream_id, payload: fr.parse_window_update(
            stream_id, payload
        ),
        fr.PING: lambda flags, stream_id, payload: fr.parse_ping(stream_id, payload),
    }
    reader = fr.FrameReader()
    reader.feed(wire)
    total = 0
    for frame_type, flags, stream_id, payload in reader.read_frames():
        if frame_type == data_type:
            # As the connection does: padding is rare, so only padded frames pay a call.
            data = parse_data(flags, stream_id, payload) if flags & padded else payload
            total += len(data)
        else:
            parsers[frame_type](flags, stream_id, payload)
    return total


def parse_hyperframe(wire: bytes) -> int:
    parse_header = hf.Frame.parse_frame_header
    data_frame = hf.DataFrame
    view = memoryview(wire)
    pos = 0
    total = 0
    end = len(wire)
    while pos < end:
        frame, length = parse_header(view[pos : pos + 9])
        frame.parse_body(view[pos + 9 : pos + 9 + length])
        pos += 9 + length
        if isinstance(frame, data_frame):
            total += len(frame.data)
    return total


def measure(fn: Callable[[bytes], int], wire: bytes, repeats: int) -> float:
    """Frames per second: the best of ``repeats`` runs."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(wire)
        best = min(best, time.perf_counter() - start)
    return FRAMES / best


def main() -> None:
    quick = "--quick" in sys.argv
    repeats = 5 if quick else 50
    print(f"Python {sys.version.split()[0]}, hyperframe {_version()}")
    print()
    print("| benchmark | grpcx frames/s | hyperframe frames/s | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for name, wire in (
        (f"parse {FRAMES} small DATA frames", make_wire()),
        (f"parse {FRAMES} small DATA frames of 95-125 B, sizes varying", make_varied_wire()),
        (
            f"parse {FRAMES} mixed frames (DATA 0-1000 B, WINDOW_UPDATE, HEADERS, PING)",
            make_mixed_wire(),
        ),
    ):
        assert parse_grpcx(wire) == parse_hyperframe(wire)
        ours = measure(parse_grpcx, wire, repeats)
        theirs = measure(parse_hyperframe, wire, repeats)
        print(f"| {name} | {ours:,.0f} | {theirs:,.0f} | {ours / theirs:.1f}x |")


def _version() -> str:
    from importlib.metadata import version

    return version("hyperframe")


if __name__ == "__main__":
    main()
