"""examples/: each server and client run as a user would, on a free port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from grpcx.cli import main as grpcx_main

EXAMPLES = Path(__file__).parents[2] / "examples"

EXPECTED = {
    "helloworld": ["Hello, world!", "Hello #1, world!", "Hello #2, world!"],
    "route_guide": [
        "GetFeature: 'Stone bridge over the canal'",
        "GetFeature: '' (nothing there)",
        "ListFeatures: Old lighthouse, north pier",
        "ListFeatures: Stone bridge over the canal",
        "ListFeatures: Railway museum",
        "RecordRoute: 3 points, 3 features, 2619 m",
        "RouteChat: 'first' was left at (0, 1)",
        "RouteChat: 'second' was left at (0, 2)",
    ],
}


@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_server_and_client(example: str) -> None:
    directory = EXAMPLES / example
    env = dict(os.environ, PYTHONWARNINGS="error")
    server = subprocess.Popen(
        [sys.executable, str(directory / "server.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert line.startswith("listening on 127.0.0.1:"), line + server.stderr.read()
        port = line.rsplit(":", 1)[1].strip()
        client = subprocess.run(
            [sys.executable, str(directory / "client.py"), "--port", port],
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
            check=False,
        )
        assert client.returncode == 0, client.stderr
        assert client.stdout.splitlines() == EXPECTED[example]
    finally:
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=10)
    assert server.returncode == 0
    assert stderr == ""  # Ctrl-C ends the server quietly: no traceback


@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_generated_code_is_current(example: str, tmp_path: Path) -> None:
    directory = EXAMPLES / example
    proto = f"{example}.proto"
    assert grpcx_main(["generate", "-q", "-I", str(directory), "--out", str(tmp_path), proto]) == 0
    module = f"{example}_grpcx.py"
    assert (tmp_path / module).read_text() == (directory / module).read_text(), (
        f"regenerate: cd examples/{example} && grpcx generate -I . --out . {proto}"
    )


@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_mypy_strict(example: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--cache-dir",
            str(tmp_path),
            "server.py",
            "client.py",
        ],
        cwd=EXAMPLES / example,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
