"""`make demo` runs `python -m grpcx.demo`: it must walk through every step and succeed."""

from __future__ import annotations

import subprocess
import sys


def test_demo_runs_every_step() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "grpcx.demo"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "client: 'Hello, world!', trailing metadata [('x-demo-served-by', 'grpcx')]" in out
    assert "client: received [0, 1, 2, 3, 4]" in out
    assert "client: total is 55" in out
    assert "client: sent 'grpcx', got 'GRPCX!'" in out
    assert "client: DEADLINE_EXCEEDED" in out
    assert "server: slow: deadline passed, handler cancelled" in out
    assert "client: call status CANCELLED" in out
    assert "server: count: the client cancelled; handler stopped" in out
    assert "client: detail BadRequest value: a name is required" in out
    assert "done: server stopped gracefully" in out
