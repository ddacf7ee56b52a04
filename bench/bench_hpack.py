"""HPACK encoding and decoding: grpcx's Encoder/Decoder vs python-hyper's ``hpack``, side by side.

The header blocks are the ones a gRPC connection carries call after call, in one compression
context per connection:

* a unary request as the grpc C-core client sends it, with a ``grpc-timeout`` that differs
  on every call (decoded as a server sees it; encoded as a client produces it);
* response headers (``:status: 200``, ``content-type``, ``grpc-accept-encoding``);
* response trailers (``grpc-status: 0``, ``grpc-message: ''``).

Each decoder decodes the same block sequence (one encoder's output, so both decoders see
identical bytes), each encoder encodes the same header lists. Run:
``python bench/bench_hpack.py [--quick]``. Prints a markdown table of ops/s and the ratio, and
writes it into bench/README.md under "## HPACK".
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import hpack

from grpcx.http2.hpack import Decoder, Encoder

Headers = list[tuple[bytes, bytes]]

CALLS = 2000

REQUEST: Headers = [
    (b":method", b"POST"),
    (b":scheme", b"http"),
    (b":path", b"/helloworld.Greeter/SayHello"),
    (b":authority", b"localhost:50051"),
    (b"te", b"trailers"),
    (b"content-type", b"application/grpc"),
    (b"user-agent", b"grpc-python/1.66.0 grpc-c/43.0.0 (linux; chttp2)"),
    (b"grpc-accept-encoding", b"identity, deflate, gzip"),
]
RESPONSE_HEADERS: Headers = [
    (b":status", b"200"),
    (b"content-type", b"application/grpc"),
    (b"grpc-accept-encoding", b"identity, deflate, gzip"),
]
TRAILERS: Headers = [(b"grpc-status", b"0"), (b"grpc-message", b"")]


def request_lists() -> list[Headers]:
    """One request per call; the deadline's remaining time differs each time."""
    return [[*REQUEST, (b"grpc-timeout", b"%du" % (999834 - 7 * i))] for i in range(CALLS)]


def constant_lists(headers: Headers) -> list[Headers]:
    return [headers] * CALLS


def encode_grpcx(lists: list[Headers]) -> list[bytes]:
    encoder = Encoder()
    return [encoder.encode(headers) for headers in lists]


def encode_hpack(lists: list[Headers]) -> list[bytes]:
    encoder = hpack.Encoder()
    return [encoder.encode(headers) for headers in lists]


def decode_grpcx(blocks: list[bytes]) -> int:
    decoder = Decoder()
    total = 0
    for block in blocks:
        total += len(decoder.decode(block))
    return total


def decode_hpack(blocks: list[bytes]) -> int:
    decoder = hpack.Decoder()
    total = 0
    for block in blocks:
        total += len(decoder.decode(block, raw=True))  # type: ignore[arg-type]
    return total


def measure(fn: Callable[[], object], repeats: int) -> float:
    """Operations (header blocks) per second: the best of ``repeats`` runs over CALLS."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return CALLS / best


def check(lists: list[Headers], blocks: list[bytes]) -> None:
    """Both decoders agree with the input on the benchmark's own blocks."""
    ours, theirs = Decoder(), hpack.Decoder()
    for headers, block in zip(lists, blocks, strict=True):
        assert ours.decode(block) == headers
        assert [tuple(h) for h in theirs.decode(block, raw=True)] == headers


def run(repeats: int) -> list[tuple[str, float, float]]:
    rows = []
    workloads = [
        ("unary request", request_lists()),
        ("response headers", constant_lists(RESPONSE_HEADERS)),
        ("response trailers", constant_lists(TRAILERS)),
    ]
    for name, lists in workloads:
        blocks = encode_grpcx(lists)
        check(lists, blocks)
        check(lists, encode_hpack(lists))
        rows.append(
            (
                f"decode {name}",
                measure(lambda b=blocks: decode_grpcx(b), repeats),  # type: ignore[misc]
                measure(lambda b=blocks: decode_hpack(b), repeats),  # type: ignore[misc]
            )
        )
        rows.append(
            (
                f"encode {name}",
                measure(lambda h=lists: encode_grpcx(h), repeats),  # type: ignore[misc]
                measure(lambda h=lists: encode_hpack(h), repeats),  # type: ignore[misc]
            )
        )
    # The same requests as hpack's encoder sends them: it indexes every grpc-timeout, so
    # each block inserts an entry and shifts every dynamic index (no block repeats).
    lists = request_lists()
    blocks = encode_hpack(lists)
    rows.append(
        (
            "decode unary request (hpack-encoded: indexes each grpc-timeout)",
            measure(lambda: decode_grpcx(blocks), repeats),
            measure(lambda: decode_hpack(blocks), repeats),
        )
    )
    return rows


def table(rows: list[tuple[str, float, float]]) -> str:
    lines = [
        f"| benchmark ({CALLS} blocks, one connection) | grpcx ops/s | hpack ops/s | ratio |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, ours, theirs in rows:
        lines.append(f"| {name} | {ours:,.0f} | {theirs:,.0f} | {ours / theirs:.1f}x |")
    return "\n".join(lines)


def write_readme(text: str) -> None:
    """Replace (or add) the "## HPACK" section of bench/README.md, keeping the others."""
    readme = Path(__file__).resolve().parent / "README.md"
    section = (
        "## HPACK\n\n"
        "`python bench/bench_hpack.py`: grpcx.http2.hpack vs python-hyper `hpack` "
        f"{hpack.__version__}, Python {sys.version.split()[0]}.\n\n{text}\n"
    )
    current = readme.read_text() if readme.exists() else "# Benchmarks\n"
    pattern = re.compile(r"^## HPACK\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(current):
        updated = pattern.sub(lambda _: section + "\n", current, count=1).rstrip("\n") + "\n"
    else:
        updated = current.rstrip("\n") + "\n\n" + section
    readme.write_text(updated)


def main() -> None:
    quick = "--quick" in sys.argv
    text = table(run(repeats=3 if quick else 15))
    print(text)
    if not quick:
        write_readme(text)


if __name__ == "__main__":
    main()
