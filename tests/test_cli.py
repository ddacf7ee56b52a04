"""``grpcx --version``: the one part of the ``grpcx`` command that needs no codegen extra
(``grpcx generate`` is tested in tests/codegen/test_cli.py)."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

import grpcx
from grpcx.cli import main, version

SRC = Path(__file__).parents[1] / "src"


def test_version_is_the_distributions_or_the_packages() -> None:
    try:
        expected = importlib.metadata.version("grpcx")
    except importlib.metadata.PackageNotFoundError:
        expected = grpcx.__version__
    assert version() == expected


def test_version_falls_back_to_dunder_version(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_installed(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    assert version() == grpcx.__version__


def test_version_option_prints_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"grpcx {version()}\n"


def test_version_from_the_command_line() -> None:
    path = os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}
    result = subprocess.run(
        [sys.executable, "-m", "grpcx.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, f"grpcx {version()}\n", "")
