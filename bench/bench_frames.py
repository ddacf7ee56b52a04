"""Parsing a stream of small DATA frames: grpcx's frame reader vs hyperframe, side by side.

The input is what a gRPC server sees for a stream of small messages: 1,000 DATA frames,
each carrying one 5-byte gRPC prefix and a 100-byte message, over a few streams.
Run: ``python bench/bench_frames.py [--quick]``. Prints ops/s and the ratio.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import hyperframe.frame as hf

from grpcx.http2 import frames as fr

FRAMES = 1000


def make_wire() -> bytes:
    message = b"\x00\x00\x00\x00\x64" + b"m" * 100
    return b"".join(fr.build_data(1 + 2 * (i % 4), message) for i in range(FRAMES))


def parse_grpcx(wire: bytes) -> int:
    reader = fr.FrameReader()
    reader.feed(wire)
    total = 0
    for frame_type, flags, stream_id, payload in reader.read_frames():
        if frame_type == fr.DATA:
            # As the connection does: padding is rare, so only padded frames pay a call.
            data = fr.parse_data(flags, stream_id, payload) if flags & fr.FLAG_PADDED else payload
            total += len(data)
    return total


def parse_hyperframe(wire: bytes) -> int:
    view = memoryview(wire)
    pos = 0
    total = 0
    end = len(wire)
    while pos < end:
        frame, length = hf.Frame.parse_frame_header(view[pos : pos + 9])
        frame.parse_body(view[pos + 9 : pos + 9 + length])
        pos += 9 + length
        if isinstance(frame, hf.DataFrame):
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
    repeats = 5 if quick else 30
    wire = make_wire()
    assert parse_grpcx(wire) == parse_hyperframe(wire) == FRAMES * 105
    ours = measure(parse_grpcx, wire, repeats)
    theirs = measure(parse_hyperframe, wire, repeats)
    print("| benchmark | grpcx frames/s | hyperframe frames/s | ratio |")
    print("| --- | ---: | ---: | ---: |")
    ratio = ours / theirs
    print(f"| parse {FRAMES} small DATA frames | {ours:,.0f} | {theirs:,.0f} | {ratio:.1f}x |")


if __name__ == "__main__":
    main()
