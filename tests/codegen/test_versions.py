"""protoc's version against the protobuf runtime: ``grpcx generate`` refuses to write code
the installed runtime would refuse, and says which runtime the code needs.

The probes (``protoc --version`` and the runtime's version) are replaced here, so that no
other protoc needs installing; ``test_cli`` runs the real one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grpcx.cli import main as grpcx_main
from grpcx.codegen import protoc
from grpcx.codegen.protoc import Version, check_versions, gencode_version, parse_protoc_version

from .conftest import PROTOS

SYSTEM = ["/usr/bin/protoc"]
BUNDLED = ["/venv/bin/python", "-m", "grpc_tools.protoc"]


def release(text: str) -> Version:
    parsed = parse_protoc_version(f"libprotoc {text}\n")
    assert parsed is not None
    return parsed


def probes(monkeypatch: pytest.MonkeyPatch, protoc_says: str | None, runtime: str) -> None:
    """Make protoc answer ``--version`` with ``protoc_says`` and the runtime be ``runtime``."""
    found = None if protoc_says is None else release(protoc_says)
    monkeypatch.setattr(protoc, "protoc_release", lambda command: found)
    major, minor, patch = (int(part) for part in runtime.split("."))
    monkeypatch.setattr(protoc, "runtime_version", lambda: Version(major, minor, patch))


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("libprotoc 35.1", Version(0, 35, 1)),
        ("libprotoc 30.0-rc1", Version(0, 30, 0)),
        ("libprotoc 3.21.12", Version(0, 21, 12)),  # Debian 12's /usr/bin/protoc
        ("libprotoc 3.19.6", Version(0, 19, 6)),
        ("protoc: command not found", None),
    ],
)
def test_parse_protoc_version(output: str, expected: Version | None) -> None:
    assert parse_protoc_version(output) == expected


@pytest.mark.parametrize(
    ("protoc_says", "runtime", "gencode"),
    [
        ("35.1", Version(7, 36, 2), Version(7, 35, 1)),
        ("34.0", Version(7, 36, 2), Version(7, 34, 0)),
        ("33.4", Version(7, 36, 2), Version(6, 33, 4)),
        ("30.0", Version(5, 26, 0), Version(6, 30, 0)),
        ("29.3", Version(5, 26, 0), Version(5, 29, 3)),
        ("26.1", Version(5, 26, 0), Version(5, 26, 1)),
        ("25.1", Version(5, 26, 0), Version(4, 25, 1)),
        ("3.21.12", Version(7, 36, 2), Version(4, 21, 12)),
        ("3.20.3", Version(7, 36, 2), Version(3, 20, 3)),
        # A major version newer than grpcx knows, learnt from the runtime.
        ("40.0", Version(8, 39, 0), Version(8, 40, 0)),
        ("38.2", Version(8, 38, 0), Version(8, 38, 2)),
    ],
)
def test_gencode_version(protoc_says: str, runtime: Version, gencode: Version) -> None:
    assert gencode_version(release(protoc_says), runtime) == gencode


def test_the_same_release_is_fine(monkeypatch: pytest.MonkeyPatch) -> None:
    probes(monkeypatch, "35.1", "7.35.1")
    check = check_versions(BUNDLED)
    assert check.gencode == Version(7, 35, 1)
    assert check.error is None and check.warning is None


def test_older_release_of_the_same_major_is_fine(monkeypatch: pytest.MonkeyPatch) -> None:
    probes(monkeypatch, "34.0", "7.36.2")
    check = check_versions(SYSTEM)
    assert check.error is None and check.warning is None


def test_code_newer_than_the_runtime_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    probes(monkeypatch, "35.1", "5.26.0")
    check = check_versions(BUNDLED)
    assert check.error == (
        "grpcio-tools' protoc (libprotoc 35.1) writes code for protobuf 7.35.1, newer than "
        "the installed protobuf runtime 5.26.0, which refuses to import it; upgrade "
        "protobuf: pip install -U 'protobuf>=7.35.1'"
    )


def test_a_newer_patch_is_newer(monkeypatch: pytest.MonkeyPatch) -> None:
    probes(monkeypatch, "35.1", "7.35.0")
    assert check_versions(BUNDLED).error is not None


def test_system_protoc_newer_than_the_runtime_suggests_grpcio_tools(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    probes(monkeypatch, "33.0", "6.31.1")
    error = check_versions(SYSTEM).error
    assert error is not None
    assert error.startswith("/usr/bin/protoc (libprotoc 33.0) writes code for protobuf 6.33.0")
    assert "pip install -U 'protobuf>=6.33.0'" in error
    assert "pip install 'grpcio-tools" in error


def test_debian_protoc_is_refused_on_a_current_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    """The newcomer's case: no codegen extra, so Debian's protoc 3.21, on protobuf 7."""
    probes(monkeypatch, "3.21.12", "7.36.2")
    check = check_versions(SYSTEM)
    assert check.error is not None
    assert check.error.startswith(
        "/usr/bin/protoc (libprotoc 3.21.12) writes code for protobuf 4.21.12, 3 major "
        "versions older than the installed protobuf runtime 7.36.2, which supports "
        "generated code at most one major version older; install grpcio-tools, whose "
        "protoc grpcx prefers to /usr/bin/protoc: pip install 'grpcio-tools"
    )


def test_one_major_version_older_is_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    probes(monkeypatch, "33.1", "7.36.2")
    check = check_versions(BUNDLED)
    assert check.error is None
    assert check.warning is not None
    assert "protobuf 6.33.1, one major version older than" in check.warning
    assert "upgrade grpcio-tools: pip install -U 'grpcio-tools" in check.warning


def test_a_protoc_that_does_not_say_its_version_is_a_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    probes(monkeypatch, None, "7.36.2")
    check = check_versions(SYSTEM)
    assert check.error is None and check.gencode is None
    assert check.warning is not None and "did not say its version" in check.warning


def test_generate_refuses_before_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    probes(monkeypatch, "3.21.12", "7.36.2")
    out = tmp_path / "out"
    status = grpcx_main(
        ["generate", "-I", str(PROTOS), "--out", str(out), "grpcx_codegen_test/twins.proto"]
    )
    assert status == 1
    err = capsys.readouterr().err
    assert err.startswith("grpcx generate: ")
    assert "3.21.12" in err and "7.36.2" in err
    assert not list(out.rglob("*.py"))


def test_generate_warns_and_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    probes(monkeypatch, "33.1", "7.36.2")
    status = grpcx_main(
        ["generate", "-I", str(PROTOS), "--out", str(tmp_path), "grpcx_codegen_test/twins.proto"]
    )
    assert status == 0
    err = capsys.readouterr().err
    assert "grpcx generate: warning: " in err and "one major version older" in err
    assert (tmp_path / "grpcx_codegen_test" / "twins_pb2.py").is_file()


def test_the_real_probe_runs_protoc_version(tmp_path: Path) -> None:
    """A stand-in for Debian's protoc, asked for its version the way grpcx asks the real one."""
    fake = tmp_path / "protoc"
    fake.write_text('#!/bin/sh\n[ "$1" = --version ] && echo "libprotoc 3.21.12"\n')
    fake.chmod(0o755)
    check = check_versions([str(fake)])
    assert check.release == Version(0, 21, 12)
    assert check.gencode == Version(4, 21, 12)
    # The test environment's runtime is protobuf 7 (grpcio-tools 1.85 needs it).
    assert check.error is not None and "3 major versions older" in check.error
    missing = check_versions([str(tmp_path / "absent")])
    assert missing.release is None and missing.warning is not None
