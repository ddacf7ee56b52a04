"""The side-by-side bench suite (bench/suite): its report logic, and opt-in end to end.

The end-to-end smoke run starts real servers and load generators for a few seconds;
it runs only with GRPCX_BENCH_SMOKE=1 (and h2load, taskset and go installed) so that
`make test` stays quick and does not compete for the CPU with other tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.suite import run  # noqa: E402
from bench.suite.common import BytesValue, grpc_frame, payload  # noqa: E402


def test_grpc_frame_matches_the_h2load_body() -> None:
    message = BytesValue(value=payload(100)).SerializeToString()
    frame = grpc_frame(message)
    assert frame[:5] == b"\x00\x00\x00\x00\x66"  # uncompressed, 102 bytes
    assert frame[5:] == message
    assert BytesValue.FromString(frame[5:]).value == payload(100)


def sample_results() -> dict[str, dict[str, dict[str, Any]]]:
    return {
        "unary_pipelined": {
            "grpcx": {"value": 100_000.0},
            "grpcio-sync": {"value": 8_000.0},
            "grpcio-aio": {"value": 10_000.0},
            "grpc-go": {"value": 50_000.0},
            "grpclib": {"value": None, "error": "h2load saw errors"},
        },
        "latency_p99": {
            "grpcx": {"value": 1.0},
            "grpcio-sync": {"value": 2.0},
            "grpcio-aio": {"value": 4.0},
            "grpc-go": {"value": 0.5},
        },
    }


def test_ratios_use_the_best_grpcio_mode_in_each_direction() -> None:
    results = sample_results()
    run.add_ratios(results)
    unary = results["unary_pipelined"]["grpcx"]
    assert unary["ratio_vs_grpcio_best"] == pytest.approx(10.0)  # best = aio, higher
    assert unary["ratio_vs_grpc_go"] == pytest.approx(2.0)
    p99 = results["latency_p99"]["grpcx"]
    assert p99["ratio_vs_grpcio_best"] == pytest.approx(0.5)  # best = sync, lower
    assert p99["ratio_vs_grpc_go"] == pytest.approx(2.0)
    assert "ratio_vs_grpcio_best" not in results["unary_pipelined"]["grpclib"]


def test_table_marks_failures_and_never_shows_them_as_figures() -> None:
    results = sample_results()
    run.add_ratios(results)
    meta = {
        "started": "now", "cpu": "cpu", "cores": 2, "loadavg_start": "0", "loadavg_end": "0",
        "duration": 5.0, "warmup": 1.0, "server_cpus": "0", "load_cpus": "1",
    }  # fmt: skip
    impls = ["grpcx", "grpcio-sync", "grpcio-aio", "grpclib", "grpc-go"]
    table = run.markdown(results, impls, meta)
    row = next(line for line in table.splitlines() if line.startswith("| unary 100 B, h2load 4"))
    assert "100,000" in row and "**FAILED**" in row
    assert "- unary_pipelined / grpclib: FAILED: h2load saw errors" in table
    assert "| 10.00x | 2.00x |" in table


def test_ping_pong_has_a_go_client_row_and_an_own_client_row() -> None:
    by_key = {s.key: s for s in run.SCENARIOS}
    assert by_key["ping_pong"].group == "ping_pong"
    own = by_key["ping_pong_own"]
    assert own.group == "ping_pong_own" and own.group in run.GROUPS
    assert own.unit == "round trips/s" and own.higher_is_better
    assert own.group not in run.LOAD_GROUPS  # a fresh server per implementation
    # Every implementation with its own client has its own server to pair it with.
    assert set(run.CLIENT_IMPLS) <= set(run.SERVER_IMPLS)


def test_own_ping_pong_row_gets_ratios() -> None:
    results: dict[str, dict[str, dict[str, Any]]] = {
        "ping_pong_own": {
            "grpcx": {"value": 30_000.0},
            "grpcio-sync": {"value": 10_000.0},
            "grpcio-aio": {"value": 12_000.0},
            "grpclib": {"value": None, "error": "ping-pong echo mismatch"},
            "grpc-go": {"value": 20_000.0},
        }
    }
    run.add_ratios(results)
    row = results["ping_pong_own"]["grpcx"]
    assert row["ratio_vs_grpcio_best"] == pytest.approx(2.5)
    assert row["ratio_vs_grpc_go"] == pytest.approx(1.5)
    meta = {
        "started": "now", "cpu": "cpu", "cores": 2, "loadavg_start": "0", "loadavg_end": "0",
        "duration": 5.0, "warmup": 1.0, "server_cpus": "0", "load_cpus": "1",
    }  # fmt: skip
    table = run.markdown(results, ["grpcx", "grpcio-sync", "grpcio-aio", "grpclib"], meta)
    assert "| bidi ping-pong, one stream, own client and server | 2.50x | 1.50x |" in table
    assert "- ping_pong_own / grpclib: FAILED: ping-pong echo mismatch" in table


def test_h2load_output_is_checked() -> None:
    good = (
        "requests: 100 total, 100 started, 100 done, 100 succeeded, 0 failed, 0 errored, "
        "0 timeout\nstatus codes: 100 2xx, 0 3xx, 0 4xx, 0 5xx\n"
    )
    assert run.H2LOAD_RE.search(good) and run.STATUS_RE.search(good)


needs_tools = pytest.mark.skipif(
    os.environ.get("GRPCX_BENCH_SMOKE") != "1"
    or not all(shutil.which(t) for t in ("h2load", "taskset", "go")),
    reason="end-to-end bench smoke run: set GRPCX_BENCH_SMOKE=1 (needs h2load, taskset, go)",
)


@needs_tools
@pytest.mark.timeout(600)
def test_quick_run_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    proc = subprocess.run(
        [
            sys.executable, "-m", "bench.suite.run", "--quick", "--duration", "1",
            "--impl", "grpcx,grpc-go", "--only",
            "h2load_pipelined,server_streaming,ping_pong,ping_pong_own",
            "--json", str(out), "--md", str(tmp_path / "out.md"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=540,
    )  # fmt: skip
    report = json.loads(out.read_text())
    go = report["results"]["unary_pipelined"]["grpc-go"]
    assert go["value"] > 0 and go["served_by_handler"] >= go["calls"], proc.stderr
    own = report["results"]["ping_pong_own"]
    assert set(own) == {"grpcx", "grpc-go"}, proc.stderr
    assert own["grpc-go"]["value"] > 0 and own["grpc-go"]["round_trips"] > 0, proc.stderr
    failed = [
        (k, i) for k, row in report["results"].items() for i, r in row.items() if r.get("error")
    ]
    assert (proc.returncode == 0) == (not failed), proc.stderr
