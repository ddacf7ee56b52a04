"""The side-by-side bench suite: every scenario against every implementation, one run.

    python -m bench.suite.run [--quick] [--only SCENARIO,...] [--impl IMPL,...]
                              [--duration S] [--workers N] [--json PATH] [--md PATH]

Servers run pinned to CPU 0 (``taskset -c 0``), load generators and clients to CPU 1;
grpc-go runs with GOMAXPROCS=1. Every child process has a hard timeout. Before each
throughput scenario the server is checked with real gRPC calls (status OK, payloads
echoed, message counts exact; see ``benchgo client -mode verify``), and after each
h2load run the server's own count of served calls must cover what h2load counted as
done (h2load only sees HTTP status, and gRPC errors travel as HTTP 200). A failed
call or check marks that figure FAILED and makes the run exit 1.

Prints a markdown table and writes it to bench/results/latest.md; writes every figure,
with its ratio to the best grpcio server mode and to grpc-go, to
bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import hashlib
import json
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

if __package__ in (None, ""):  # run as a script: python bench/suite/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.suite.common import BytesValue, grpc_frame, payload

ROOT = Path(__file__).resolve().parents[2]
SUITE = Path(__file__).resolve().parent
RESULTS = ROOT / "bench" / "results"
PY = sys.executable

# ----------------------------------------------------------------------------- scenarios


@dataclasses.dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    unit: str
    higher_is_better: bool
    group: str  # what --only selects


SCENARIOS = [
    Scenario(
        "unary_pipelined",
        "unary 100 B, h2load 4 conn x 32 streams",
        "calls/s",
        True,
        "h2load_pipelined",
    ),
    Scenario(
        "unary_one_in_flight",
        "unary 100 B, h2load 16 conn x 1 stream",
        "calls/s",
        True,
        "h2load_one",
    ),
    Scenario(
        "client_unary",
        "own client, 64 in flight, vs grpc-go server",
        "calls/s",
        True,
        "client_unary",
    ),
    Scenario(
        "server_streaming", "server streaming 200k x 100 B", "msgs/s", True, "server_streaming"
    ),
    Scenario(
        "client_streaming", "client streaming 200k x 100 B", "msgs/s", True, "client_streaming"
    ),
    Scenario("ping_pong", "bidi ping-pong, one stream", "round trips/s", True, "ping_pong"),
    Scenario(
        "ping_pong_own",
        "bidi ping-pong, one stream, own client and server",
        "round trips/s",
        True,
        "ping_pong_own",
    ),
    Scenario("unary_1mb", "unary 1 MiB echo, 4 in flight", "MiB/s", True, "unary_1mb"),
    Scenario("latency_p50", "p50 latency at fixed load", "ms", False, "latency"),
    Scenario("latency_p99", "p99 latency at fixed load", "ms", False, "latency"),
    Scenario("peak_rss", "server peak RSS over the load scenarios", "MiB", False, "rss"),
    Scenario(
        "idle_connection_memory",
        "memory per idle connection (1,000)",
        "KiB",
        False,
        "idle_connections",
    ),
    Scenario("open_stream_memory", "memory per open stream (10,000)", "KiB", False, "open_streams"),
]
GROUPS = sorted({s.group for s in SCENARIOS})
# The load scenarios that run against one server process (peak RSS is read after them).
LOAD_GROUPS = [
    "h2load_pipelined",
    "h2load_one",
    "server_streaming",
    "client_streaming",
    "ping_pong",
    "unary_1mb",
    "latency",
]

# ----------------------------------------------------------------------------- implementations

SERVER_IMPLS = [
    "grpcx",
    "grpcx-uvloop",
    "grpcx-workers",
    "grpcio-sync",
    "grpcio-aio",
    "grpclib",
    "grpc-go",
]
CLIENT_IMPLS = ["grpcx", "grpcx-uvloop", "grpcio-sync", "grpcio-aio", "grpclib", "grpc-go"]
GRPCIO = ("grpcio-sync", "grpcio-aio")
GRPCX = ("grpcx", "grpcx-uvloop", "grpcx-workers")
# Handlers per thread: only this many of the 10,000 open streams get an echo back.
SYNC_SERVER_THREADS = 64


class Skip(Exception):
    """This implementation cannot run here (e.g. grpcx without workers= yet)."""


class Failed(Exception):
    """A call failed or a check did not hold: the figure is not valid."""


@dataclasses.dataclass
class Config:
    duration: float
    warmup: float
    stream_count: int
    latency_rate: float
    idle_connections: int
    open_streams: int
    workers: int
    server_cpus: str
    load_cpus: str
    go_bin: Path
    go_no_bdp: bool
    verbose: bool


def server_command(impl: str, cfg: Config) -> tuple[list[str], dict[str, str]]:
    env = {"PYTHONPATH": str(ROOT)}
    if impl == "grpcx":
        return [PY, "-m", "bench.suite.grpcx_server"], env
    if impl == "grpcx-uvloop":
        return [PY, "-m", "bench.suite.grpcx_server", "--uvloop"], env
    if impl == "grpcx-workers":
        return [PY, "-m", "bench.suite.grpcx_server", "--workers", str(cfg.workers)], env
    if impl == "grpcio-sync":
        return [PY, "-m", "bench.suite.grpcio_server", "--mode", "sync"], env
    if impl == "grpcio-aio":
        return [PY, "-m", "bench.suite.grpcio_server", "--mode", "aio"], env
    if impl == "grpclib":
        return [PY, "-m", "bench.suite.grpclib_server"], env
    if impl == "grpc-go":
        extra = ["-no-bdp"] if cfg.go_no_bdp else []
        return [str(cfg.go_bin), "server", *extra], {"GOMAXPROCS": "1"}
    raise ValueError(impl)


# ----------------------------------------------------------------------------- processes


def child_env(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


def pinned(cpus: str, cmd: list[str]) -> list[str]:
    return ["taskset", "-c", cpus, *cmd] if cpus else cmd


def log(cfg: Config, *words: object) -> None:
    print(*words, file=sys.stderr, flush=True)


class Server:
    """A server process of one implementation, in its own process group."""

    started: ClassVar[list[Server]] = []  # every one, so that none outlives the run

    def __init__(
        self, impl: str, cfg: Config, command: tuple[list[str], dict[str, str]] | None = None
    ) -> None:
        self.impl = impl
        Server.started.append(self)
        cmd, env = command or server_command(impl, cfg)
        self.log_path = RESULTS / f"server-{impl}.log"
        self.log_file = open(self.log_path, "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            pinned(cfg.server_cpus, cmd),
            cwd=ROOT,
            env=child_env(env),
            stdout=subprocess.PIPE,
            stderr=self.log_file,
            text=True,
            start_new_session=True,
        )
        self.port = self._read_port(timeout=30)

    def _read_port(self, timeout: float) -> int:
        import selectors

        assert self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sel.select(timeout=0.2):
                line = self.proc.stdout.readline()
                if line.startswith("PORT "):
                    return int(line.split()[1])
                if not line and self.proc.poll() is not None:
                    break
            elif self.proc.poll() is not None:
                break
        code = self.proc.poll()
        self.stop()
        tail = self.log_path.read_text()[-2000:]
        if code == 3 and "SKIP" in tail:
            raise Skip(tail.strip().splitlines()[-1])
        raise Failed(f"{self.impl} server did not start (exit {code}): {tail.strip()[-500:]}")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def processes(self) -> list[Any]:
        import psutil

        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def rss(self) -> int:
        """Resident bytes now, summed over the server's processes."""
        total = 0
        for p in self.processes():
            with contextlib.suppress(Exception):
                total += p.memory_info().rss
        return total

    def peak_rss(self) -> int:
        """Peak resident bytes (VmHWM), summed over the server's processes."""
        total = 0
        for p in self.processes():
            with contextlib.suppress(Exception):
                status = Path(f"/proc/{p.pid}/status").read_text()
                m = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
                if m:
                    total += int(m.group(1)) * 1024
        return total

    def stop(self) -> None:
        if not hasattr(self, "proc"):
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        if self.proc.stdout is not None and not self.proc.stdout.closed:
            self.proc.stdout.close()
        self.log_file.close()


@contextlib.contextmanager
def running(
    impl: str, cfg: Config, command: tuple[list[str], dict[str, str]] | None = None
) -> Iterator[Server]:
    server = Server(impl, cfg, command)
    try:
        yield server
    finally:
        server.stop()


def run_load(cfg: Config, cmd: list[str], timeout: float, env: dict[str, str] | None = None) -> str:
    """Run a load generator pinned to the load CPU; its stdout, or Failed."""
    full = pinned(cfg.load_cpus, cmd)
    if cfg.verbose:
        log(cfg, "   $", " ".join(full))
    try:
        proc = subprocess.run(
            full,
            cwd=ROOT,
            env=child_env(env or {}),
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired as exc:
        raise Failed(f"timed out after {timeout:.0f}s: {' '.join(cmd[:4])}") from exc
    if proc.returncode != 0:
        detail = (proc.stderr.strip() or proc.stdout.strip())[-600:]
        raise Failed(f"{Path(cmd[0]).name} exited {proc.returncode}: {detail}")
    return proc.stdout


def go_client(
    cfg: Config, port: int, mode: str, *args: str, timeout: float | None = None
) -> dict[str, Any]:
    cmd = [str(cfg.go_bin), "client", "-addr", f"127.0.0.1:{port}", "-mode", mode, *args]
    if cfg.go_no_bdp:
        cmd.append("-no-bdp")
    budget = timeout if timeout is not None else cfg.warmup + cfg.duration + 60
    out = run_load(cfg, cmd, budget, {"GOMAXPROCS": "1"})
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        raise Failed(f"benchgo {mode}: no result in {out[-300:]!r}")
    return dict(json.loads(lines[-1]))


def verify(cfg: Config, server: Server) -> int:
    """Real gRPC calls with checks; returns the server's unary count."""
    if not server.alive():
        raise Failed(f"{server.impl} server died")
    result = go_client(cfg, server.port, "verify", timeout=30)
    if not result.get("ok"):
        raise Failed(f"verification failed: {result}")
    return int(result["unary_count"])


def unary_count(cfg: Config, server: Server) -> int:
    return int(go_client(cfg, server.port, "stats", timeout=30)["unary_count"])


# ----------------------------------------------------------------------------- scenarios


H2LOAD_RE = re.compile(
    r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
    r"(\d+) failed, (\d+) errored, (\d+) timeout"
)
STATUS_RE = re.compile(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx")


def body_file() -> Path:
    path = RESULTS / "unary-100b.grpc"
    path.write_bytes(grpc_frame(BytesValue(value=payload(100)).SerializeToString()))
    return path


def h2load_run(cfg: Config, port: int, connections: int, streams: int) -> int:
    """Requests h2load completed in the measured window; Failed on any error it saw."""
    cmd = [
        "h2load", "-t", "1", "-c", str(connections), "-m", str(streams),
        f"--warm-up-time={cfg.warmup * 1000:.0f}ms", "-D", f"{cfg.duration * 1000:.0f}ms",
        "-d", str(body_file()),
        "-H", "content-type: application/grpc", "-H", "te: trailers",
        f"http://127.0.0.1:{port}/bench.Bench/Unary",
    ]  # fmt: skip
    out = run_load(cfg, cmd, cfg.warmup + cfg.duration + 60)
    m, s = H2LOAD_RE.search(out), STATUS_RE.search(out)
    if not m or not s:
        raise Failed(f"h2load output not understood: {out[-400:]!r}")
    _total, _started, done, ok, failed, errored, timed_out = map(int, m.groups())
    two, three, four, five = map(int, s.groups())
    # Status codes are counted as headers arrive and requests as they complete, so the
    # two may differ by the calls in flight at the ends of the warm-up and measurement.
    in_flight = connections * streams
    if (
        failed
        or errored
        or timed_out
        or ok != done
        or three
        or four
        or five
        or abs(two - done) > in_flight
    ):
        raise Failed(f"h2load saw errors: {m.group(0)}; {s.group(0)}")
    if done == 0:
        raise Failed("h2load completed no request")
    return done


def h2load(cfg: Config, server: Server, connections: int, streams: int) -> dict[str, Any]:
    verify(cfg, server)
    before = unary_count(cfg, server)
    done = h2load_run(cfg, server.port, connections, streams)
    after = unary_count(cfg, server)
    # Warm-up calls are served but not counted by h2load: served >= done.
    if after - before < done:
        raise Failed(
            f"server served {after - before} Unary calls but h2load counted {done} 2xx: "
            "responses were not all real echoes"
        )
    verify(cfg, server)
    return {"value": done / cfg.duration, "calls": done, "seconds": cfg.duration,
            "served_by_handler": after - before}  # fmt: skip


def streaming(cfg: Config, server: Server, mode: str) -> dict[str, Any]:
    verify(cfg, server)
    r = go_client(cfg, server.port, mode, "-count", str(cfg.stream_count), timeout=180)
    if int(r["messages"]) != cfg.stream_count:
        raise Failed(f"{mode}: {r['messages']} messages, expected {cfg.stream_count}")
    return {"value": r["rate"], **r}


def ping_pong(cfg: Config, server: Server) -> dict[str, Any]:
    verify(cfg, server)
    r = go_client(
        cfg, server.port, "pingpong", "-warmup", f"{cfg.warmup}s", "-duration", f"{cfg.duration}s"
    )
    return {"value": r["rate"], **r}


def unary_1mb(cfg: Config, server: Server) -> dict[str, Any]:
    verify(cfg, server)
    size = 1 << 20
    r = go_client(
        cfg, server.port, "big", "-size", str(size), "-conc", "4",
        "-warmup", f"{cfg.warmup}s", "-duration", f"{cfg.duration}s",
    )  # fmt: skip
    return {"value": r["rate"] * size / (1 << 20), **r}


def latency(cfg: Config, server: Server) -> dict[str, Any]:
    verify(cfg, server)
    r = go_client(
        cfg, server.port, "latency", "-rate", f"{cfg.latency_rate:g}",
        "-warmup", f"{cfg.warmup}s", "-duration", f"{cfg.duration}s",
    )  # fmt: skip
    if r["achieved_rate"] < 0.9 * cfg.latency_rate:
        raise Failed(f"offered {cfg.latency_rate}/s but achieved {r['achieved_rate']:.0f}/s")
    return r


def client_unary(cfg: Config, client: str, port: int) -> dict[str, Any]:
    if client == "grpc-go":
        r = go_client(
            cfg,
            port,
            "unary",
            "-conc",
            "64",
            "-warmup",
            f"{cfg.warmup}s",
            "-duration",
            f"{cfg.duration}s",
        )
    else:
        r = own_client(cfg, client, port, "--conc", "64")
    if r["calls"] <= 0:
        raise Failed("no call completed")
    return {"value": r["rate"], **r}


def own_client(cfg: Config, client: str, port: int, *args: str) -> dict[str, Any]:
    """A Python implementation's own client (clients.py) on the load CPU; its JSON result."""
    cmd = [
        PY, "-m", "bench.suite.clients", "--impl", client, "--port", str(port), *args,
        "--warmup", f"{cfg.warmup}", "--duration", f"{cfg.duration}",
    ]  # fmt: skip
    out = run_load(cfg, cmd, cfg.warmup + cfg.duration + 60, {"PYTHONPATH": str(ROOT)})
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        raise Failed(f"clients {client}: no result in {out[-300:]!r}")
    return dict(json.loads(lines[-1]))


def ping_pong_own(cfg: Config, impl: str) -> dict[str, Any]:
    """``impl``'s own client against its own server: one PingPong stream, 100 B round trips.

    The client checks every echo and the stream's OK status (any failure exits non-zero);
    the server is checked by the grpc-go verifier before and after.
    """
    with running(impl, cfg) as server:
        verify(cfg, server)
        if impl == "grpc-go":
            r = go_client(
                cfg, server.port, "pingpong",
                "-warmup", f"{cfg.warmup}s", "-duration", f"{cfg.duration}s",
            )  # fmt: skip
        else:
            r = own_client(cfg, impl, server.port, "--mode", "pingpong")
        if int(r["round_trips"]) <= 0:
            raise Failed("no round trip completed")
        verify(cfg, server)
    return {"value": r["rate"], **r}


class Probe:
    """bench.suite.h2probe, driven step by step over its stdin/stdout."""

    def __init__(self, cfg: Config, args: list[str], timeout: float) -> None:
        cmd = pinned(cfg.load_cpus, [PY, "-m", "bench.suite.h2probe", *args])
        self.deadline = time.monotonic() + timeout
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=child_env({"PYTHONPATH": str(ROOT)}), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip

    def expect(self, word: str) -> list[str]:
        import selectors

        assert self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < self.deadline:
            if sel.select(timeout=0.2):
                line = self.proc.stdout.readline()
                if line.startswith(word):
                    return line.split()[1:]
                if not line:
                    break
        self.kill()
        err = self.proc.stderr.read() if self.proc.stderr else ""
        raise Failed(f"h2probe: no {word}: {err.strip()[-500:]}")

    def next(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def finish(self) -> None:
        self.next()
        try:
            _, err = self.proc.communicate(timeout=max(5.0, self.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.kill()
            raise Failed("h2probe did not finish") from None
        if self.proc.returncode != 0:
            raise Failed(f"h2probe failed: {err.strip()[-500:]}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)


def settle(server: Server) -> int:
    """RSS once it stops moving (the server may still be allocating)."""
    last = server.rss()
    for _ in range(20):
        time.sleep(0.25)
        now = server.rss()
        if abs(now - last) < 64 * 1024:
            return now
        last = now
    return last


def idle_connections(cfg: Config, impl: str) -> dict[str, Any]:
    with running(impl, cfg) as server:
        verify(cfg, server)
        before = settle(server)
        n = cfg.idle_connections
        probe = Probe(cfg, ["--port", str(server.port), "--connections", str(n)], 120)
        try:
            probe.expect("CONNS_READY")
            after = settle(server)
            probe.finish()
        finally:
            probe.kill()
        verify(cfg, server)
    return {
        "value": (after - before) / n / 1024,
        "connections": n,
        "rss_before": before,
        "rss_after": after,
    }


def open_streams(cfg: Config, impl: str) -> dict[str, Any]:
    n = cfg.open_streams
    with running(impl, cfg) as server:
        verify(cfg, server)
        args = ["--port", str(server.port), "--streams", str(n), "--timeout", "90"]
        if impl == "grpcio-sync":
            args += ["--min-echoed", str(min(n, SYNC_SERVER_THREADS))]
        probe = Probe(cfg, args, 180)
        try:
            conns = int(probe.expect("CONNS_READY")[0])
            before = settle(server)
            probe.next()
            _, echoed = probe.expect("STREAMS_READY")
            after = settle(server)
            probe.finish()
        finally:
            probe.kill()
        verify(cfg, server)
    return {
        "value": (after - before) / n / 1024, "streams": n, "connections": conns,
        "echoed": int(echoed), "rss_before": before, "rss_after": after,
    }  # fmt: skip


# ----------------------------------------------------------------------------- go build


def build_go(cache: Path) -> Path:
    """Build bench/suite/go offline in GOPATH mode from Debian's golang-*-dev packages."""
    src = SUITE / "go"
    digest = hashlib.sha256()
    for f in sorted(src.glob("*.go")):
        digest.update(f.read_bytes())
    go = shutil.which("go")
    if go is None:
        raise SystemExit("go not found: apt-get install golang-go golang-google-grpc-dev")
    version = subprocess.run([go, "version"], capture_output=True, text=True, check=True).stdout
    digest.update(version.encode())
    binary = cache / f"benchgo-{digest.hexdigest()[:12]}"
    if binary.exists():
        return binary
    cache.mkdir(parents=True, exist_ok=True)
    env = child_env({
        "GO111MODULE": "off", "GOPATH": "/usr/share/gocode", "GOFLAGS": "",
        "GOCACHE": str(cache / "gocache"), "CGO_ENABLED": "0",
    })  # fmt: skip
    proc = subprocess.run(
        [go, "build", "-o", str(binary), "."], cwd=src, env=env, capture_output=True,
        text=True, timeout=600,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(
            "building the grpc-go reference failed (apt-get install golang-go "
            f"golang-google-grpc-dev golang-google-protobuf-dev):\n{proc.stderr}"
        )
    return binary


# ----------------------------------------------------------------------------- report


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value:.2f}"
    if unit in ("KiB", "MiB"):
        return f"{value:,.1f}"
    return f"{value:,.0f}"


def best_of(values: list[float], higher: bool) -> float | None:
    return (max(values) if higher else min(values)) if values else None


def add_ratios(results: dict[str, dict[str, dict[str, Any]]]) -> None:
    for sc in SCENARIOS:
        row = results.get(sc.key, {})
        ok = {impl: r["value"] for impl, r in row.items() if r.get("value") is not None}
        grpcio = best_of([ok[i] for i in GRPCIO if i in ok], sc.higher_is_better)
        go = ok.get("grpc-go")
        for r in row.values():
            v = r.get("value")
            if v is None:
                continue
            r["ratio_vs_grpcio_best"] = v / grpcio if grpcio else None
            r["ratio_vs_grpc_go"] = v / go if go else None


def ratio_cell(r: dict[str, Any] | None, key: str) -> str:
    if not r or r.get(key) is None:
        return "-"
    return f"{r[key]:.2f}x"


def markdown(
    results: dict[str, dict[str, dict[str, Any]]], impls: list[str], meta: dict[str, Any]
) -> str:
    shown = [i for i in SERVER_IMPLS if i in impls]
    lines = [
        f"Run {meta['started']} on {meta['cpu']} ({meta['cores']} cores), load average "
        f"{meta['loadavg_start']} at start and {meta['loadavg_end']} at end; "
        f"{meta['duration']:g} s per scenario after {meta['warmup']:g} s warm-up. "
        f"Servers on CPU {meta['server_cpus']}, load on CPU {meta['load_cpus']}; "
        "grpc-go with GOMAXPROCS=1."
        + (
            " grpc-go client and server with static 64 KiB windows, so no BDP PINGs (--go-no-bdp)."
            if meta.get("go_no_bdp")
            else ""
        ),
        "",
        "| scenario | unit | " + " | ".join(shown) + " |",
        "| --- | --- | " + " | ".join("---:" for _ in shown) + " |",
    ]
    notes: list[str] = []
    for sc in SCENARIOS:
        row = results.get(sc.key)
        if not row:
            continue
        arrow = "higher is better" if sc.higher_is_better else "lower is better"
        cells = []
        for impl in shown:
            r = row.get(impl)
            if r is None:
                cells.append("-")
            elif r.get("skipped"):
                cells.append("skip")
            elif r.get("error"):
                notes.append(f"- {sc.key} / {impl}: FAILED: {r['error']}")
                cells.append("**FAILED**")
            else:
                cells.append(fmt(r["value"], sc.unit))
        lines.append(f"| {sc.title} | {sc.unit} ({arrow}) | " + " | ".join(cells) + " |")
    grpcx_shown = [i for i in GRPCX if i in shown]
    if grpcx_shown:
        lines += ["", "Ratios (figure / reference; for ms, KiB and MiB lower is better):", ""]
        head = []
        for i in grpcx_shown:
            head += [f"{i} / grpcio best", f"{i} / grpc-go"]
        lines += [
            "| scenario | " + " | ".join(head) + " |",
            "| --- | " + " | ".join("---:" for _ in head) + " |",
        ]
        for sc in SCENARIOS:
            row = results.get(sc.key)
            if not row:
                continue
            cells = []
            for i in grpcx_shown:
                cells += [
                    ratio_cell(row.get(i), "ratio_vs_grpcio_best"),
                    ratio_cell(row.get(i), "ratio_vs_grpc_go"),
                ]
            lines.append(f"| {sc.title} | " + " | ".join(cells) + " |")
    if notes:
        lines += ["", "Failures:", "", *notes]
    return "\n".join(lines) + "\n"


def machine_meta(cfg: Config, args: argparse.Namespace) -> dict[str, Any]:
    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break

    def version(mod: str) -> str | None:
        from importlib import metadata

        try:
            return metadata.version(mod)
        except metadata.PackageNotFoundError:
            return None

    def cmd_out(cmd: list[str]) -> str | None:
        try:
            return subprocess.run(
                cmd, capture_output=True, text=True, timeout=10, cwd=ROOT
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return None

    return {
        "started": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "loadavg_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(),
        "versions": {
            m: version(m) for m in ("grpcx", "grpcio", "grpclib", "uvloop", "protobuf", "h2")
        },
        "go": cmd_out(["go", "version"]),
        "grpc_go": cmd_out(["dpkg-query", "-W", "-f=${Version}", "golang-google-grpc-dev"]),
        "h2load": cmd_out(["h2load", "--version"]),
        "grpcx_commit": cmd_out(["git", "rev-parse", "--short", "HEAD"]),
        "grpcx_dirty": bool(cmd_out(["git", "status", "--porcelain", "--", "src"])),
        "duration": cfg.duration,
        "warmup": cfg.warmup,
        "server_cpus": cfg.server_cpus,
        "load_cpus": cfg.load_cpus,
        "go_no_bdp": cfg.go_no_bdp,
        "argv": sys.argv[1:],
    }


# ----------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1 s runs, fewer messages and streams")
    parser.add_argument("--only", help="scenario groups: " + ",".join(GROUPS))
    parser.add_argument("--impl", help="implementations: " + ",".join(SERVER_IMPLS))
    parser.add_argument("--duration", type=float, help="seconds measured per scenario (default 5)")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up (default 1)")
    parser.add_argument("--rate", type=float, default=1000.0, help="offered calls/s for latency")
    parser.add_argument(
        "--workers", type=int, default=0, help="also run grpcx with Server(workers=N)"
    )
    parser.add_argument("--server-cpus", default="0")
    parser.add_argument("--load-cpus", default="1")
    parser.add_argument(
        "--go-no-bdp", action="store_true",
        help="grpc-go clients with a static 64 KiB window (no BDP PINGs); for all servers",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, default=RESULTS / "latest.json")
    parser.add_argument("--md", type=Path, default=RESULTS / "latest.md")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()

    quick = args.quick
    groups = args.only.split(",") if args.only else GROUPS
    for g in groups:
        if g not in GROUPS:
            parser.error(f"unknown scenario group {g!r}; choose from {','.join(GROUPS)}")
    impls = args.impl.split(",") if args.impl else [i for i in SERVER_IMPLS if i != "grpcx-workers"]
    if args.workers and "grpcx-workers" not in impls:
        impls.insert(
            impls.index("grpcx-uvloop") + 1 if "grpcx-uvloop" in impls else 0, "grpcx-workers"
        )
    for i in impls:
        if i not in SERVER_IMPLS:
            parser.error(f"unknown implementation {i!r}; choose from {','.join(SERVER_IMPLS)}")
    if "grpcx-workers" in impls and not args.workers:
        args.workers = 2

    RESULTS.mkdir(parents=True, exist_ok=True)
    # 1,000 connections (and 10,000 streams) need file descriptors on both sides.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    cache = Path(os.environ.get("GRPCX_BENCH_CACHE", Path.home() / ".cache" / "grpcx-bench"))
    cfg = Config(
        duration=args.duration or (1.5 if quick else 5.0),
        warmup=args.warmup if args.warmup is not None else (0.5 if quick else 1.0),
        stream_count=20_000 if quick else 200_000,
        latency_rate=args.rate,
        idle_connections=200 if quick else 1000,
        open_streams=2000 if quick else 10_000,
        workers=args.workers,
        server_cpus=args.server_cpus,
        load_cpus=args.load_cpus,
        go_bin=build_go(cache),
        go_no_bdp=args.go_no_bdp,
        verbose=args.verbose,
    )
    meta = machine_meta(cfg, args)
    t_start = time.monotonic()
    results: dict[str, dict[str, dict[str, Any]]] = {}

    def record(key: str, impl: str, fn: Any, *fn_args: Any) -> None:
        t0 = time.monotonic()
        try:
            r = fn(*fn_args)
        except Skip as exc:
            r = {"value": None, "skipped": str(exc)}
        except Failed as exc:
            r = {"value": None, "error": str(exc)}
        r["elapsed"] = round(time.monotonic() - t0, 2)
        results.setdefault(key, {})[impl] = r
        shown = (
            "skip"
            if r.get("skipped")
            else ("FAILED " + r["error"][:300] if r.get("error") else f"{r['value']:,.2f}")
        )
        log(cfg, f"  {key:<24} {impl:<14} {shown}")

    load = [g for g in LOAD_GROUPS if g in groups]
    for impl in impls:
        if not load and "rss" not in groups:
            break
        log(cfg, f"== {impl}: load scenarios")
        try:
            server = Server(impl, cfg)
        except (Skip, Failed) as exc:
            for sc in SCENARIOS:
                if sc.group in load or (sc.group == "rss" and load):
                    record(sc.key, impl, _raise, exc)
            continue
        try:
            try:
                verify(cfg, server)
            except Failed as exc:
                first = Failed(f"verification failed before any load: {exc}")
                for sc in SCENARIOS:
                    if sc.group in load:
                        record(sc.key, impl, _raise, first)
                continue
            steps: list[tuple[str, Any, tuple[Any, ...]]] = [
                ("h2load_pipelined", h2load, (cfg, server, 4, 32)),
                ("h2load_one", h2load, (cfg, server, 16, 1)),
                ("server_streaming", streaming, (cfg, server, "sstream")),
                ("client_streaming", streaming, (cfg, server, "cstream")),
                ("ping_pong", ping_pong, (cfg, server)),
                ("unary_1mb", unary_1mb, (cfg, server)),
            ]
            keys = {"h2load_pipelined": "unary_pipelined", "h2load_one": "unary_one_in_flight"}
            for group, fn, fn_args in steps:
                if group in load:
                    record(keys.get(group, group), impl, fn, *fn_args)
            if "latency" in load:
                lat: dict[str, Any] = {}

                def measure_latency(
                    server: Server = server, lat: dict[str, Any] = lat
                ) -> dict[str, Any]:
                    lat.update(latency(cfg, server))
                    return {"value": lat["p50_ms"], **lat}

                record("latency_p50", impl, measure_latency)
                if lat:
                    results.setdefault("latency_p99", {})[impl] = {"value": lat["p99_ms"], **lat}
                else:
                    results.setdefault("latency_p99", {})[impl] = dict(results["latency_p50"][impl])
            if load:
                peak = server.peak_rss()
                if server.alive():
                    results.setdefault("peak_rss", {})[impl] = {
                        "value": peak / (1 << 20),
                        "bytes": peak,
                    }
                else:
                    results.setdefault("peak_rss", {})[impl] = {
                        "value": None,
                        "error": "server died",
                    }
        finally:
            server.stop()

    if "client_unary" in groups:
        common = "grpc-go"
        log(cfg, f"== own clients against the {common} server")
        clients = [
            c for c in CLIENT_IMPLS if c in impls or (c == "grpcx" and "grpcx-workers" in impls)
        ]
        with running(common, cfg) as server:
            for client in clients:
                record("client_unary", client, client_unary, cfg, client, server.port)
            with contextlib.suppress(Failed):
                verify(cfg, server)

    if "ping_pong_own" in groups:
        log(cfg, "== ping-pong, each implementation's own client against its own server")
        for impl in CLIENT_IMPLS:
            if impl in impls:
                record("ping_pong_own", impl, ping_pong_own, cfg, impl)

    for group, key, fn in (
        ("idle_connections", "idle_connection_memory", idle_connections),
        ("open_streams", "open_stream_memory", open_streams),
    ):
        if group not in groups:
            continue
        log(cfg, f"== {group}")
        for impl in impls:
            record(key, impl, fn, cfg, impl)

    add_ratios(results)
    meta["loadavg_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    meta["elapsed_s"] = round(time.monotonic() - t_start, 1)
    table = markdown(results, impls, meta)
    print(table)
    args.md.parent.mkdir(parents=True, exist_ok=True)
    args.md.write_text(table)
    scenarios = {s.key: dataclasses.asdict(s) for s in SCENARIOS}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps({"meta": meta, "scenarios": scenarios, "results": results}, indent=2) + "\n"
    )
    failed = [(k, i) for k, row in results.items() for i, r in row.items() if r.get("error")]
    log(cfg, f"wrote {args.md} and {args.json} in {meta['elapsed_s']} s")
    if failed:
        log(cfg, f"{len(failed)} figure(s) FAILED: " + ", ".join(f"{k}/{i}" for k, i in failed))
        return 1
    return 0


def _raise(exc: BaseException) -> None:
    raise exc


def stop_all_servers() -> None:
    for server in Server.started:
        with contextlib.suppress(Exception):
            server.stop()


if __name__ == "__main__":
    try:
        code = main()
    finally:
        stop_all_servers()
    sys.exit(code)
