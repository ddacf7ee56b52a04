"""``grpcx generate``: one step from .proto files to importable, typed modules."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import google.protobuf
import pytest

from grpcx.cli import main as grpcx_main

from .conftest import CORPUS, PROTOS, generate


def test_writes_messages_stubs_and_services(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = grpcx_main(
        ["generate", "-I", str(PROTOS), "--out", str(tmp_path), "grpcx_codegen_test/twins.proto"]
    )
    assert status == 0
    captured = capsys.readouterr()
    listed = captured.out.split()
    assert sorted(Path(p).relative_to(tmp_path).as_posix() for p in listed) == [
        "grpcx_codegen_test/__init__.py",
        "grpcx_codegen_test/twins_grpcx.py",
        "grpcx_codegen_test/twins_pb2.py",
        "grpcx_codegen_test/twins_pb2.pyi",
    ]
    # mypy-protobuf wrote the stubs (grpcx[codegen] brings it).
    assert "mypy-protobuf" in (tmp_path / "grpcx_codegen_test/twins_pb2.pyi").read_text()
    # The runtime it names is the one protoc's own check in the module asks for.
    pb2 = (tmp_path / "grpcx_codegen_test/twins_pb2.py").read_text()
    check = re.search(r"ValidateProtobufRuntimeVersion\(\s*\S+,\s*(\d+),\s*(\d+),\s*(\d+),", pb2)
    assert check is not None
    needed = ".".join(check.groups())
    assert captured.err == (
        f"grpcx generate: the _pb2 modules need the protobuf runtime >= {needed} "
        f"(installed: {google.protobuf.__version__})\n"
    )


def test_init_files_make_the_output_packages(tmp_path: Path) -> None:
    """Each directory below --out with modules becomes a package; --out is the import root
    (absolute imports), so it gets none; an existing __init__.py is left as it is."""
    out = tmp_path / "out"
    (out / "grpcx_codegen_test").mkdir(parents=True)
    (out / "grpcx_codegen_test" / "__init__.py").write_text("MINE = 1\n")
    generate(out)
    inits = sorted(p.relative_to(out).as_posix() for p in out.rglob("__init__.py"))
    assert inits == [
        "grpcx_codegen_test/__init__.py",
        "grpcx_codegen_test/common/__init__.py",
        "grpcx_codegen_test/nested/__init__.py",
        "grpcx_codegen_test/nested/deep/__init__.py",
    ]
    assert (out / "grpcx_codegen_test" / "__init__.py").read_text() == "MINE = 1\n"
    assert (out / "grpcx_codegen_test" / "nested" / "__init__.py").read_text() == ""


def test_relative_imports_make_the_output_a_package(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    generate(out, "--relative-imports", files=["grpcx_codegen_test/twins.proto"])
    assert (out / "__init__.py").read_text() == ""
    assert (out / "grpcx_codegen_test" / "__init__.py").is_file()


def test_file_paths_on_disk_are_made_relative_to_the_include(tmp_path: Path) -> None:
    path = PROTOS / "grpcx_codegen_test" / "legacy.proto"
    assert grpcx_main(["generate", "-q", "-I", str(PROTOS), "--out", str(tmp_path), str(path)]) == 0
    assert (tmp_path / "grpcx_codegen_test" / "legacy_grpcx.py").is_file()


def test_protoc_pyi_and_no_pyi(tmp_path: Path) -> None:
    twins = "grpcx_codegen_test/twins.proto"
    generate(tmp_path / "protoc", "--pyi", "protoc", files=[twins])
    stub = (tmp_path / "protoc/grpcx_codegen_test/twins_pb2.pyi").read_text()
    assert "mypy-protobuf" not in stub
    generate(tmp_path / "none", "--pyi", "none", files=[twins])
    assert not (tmp_path / "none/grpcx_codegen_test/twins_pb2.pyi").exists()


def test_errors_name_file_line_and_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "broken.proto").write_text(
        'syntax = "proto3";\n\nmessage Broken {\n  int32 x = 1\n}\n'
        "service S {\n  rpc M(Missing) returns (Broken);\n}\n"
    )
    status = grpcx_main(
        ["generate", "-I", str(tmp_path), "--out", str(tmp_path / "out"), "broken.proto"]
    )
    assert status == 1
    err = capsys.readouterr().err
    assert 'broken.proto:5:1: Expected ";".' in err


def test_undefined_type_and_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "undefined.proto").write_text(
        'syntax = "proto3";\nmessage M {}\nservice S {\n  rpc Call(Missing) returns (M);\n}\n'
    )
    out = str(tmp_path / "out")
    assert grpcx_main(["generate", "-I", str(tmp_path), "--out", out, "undefined.proto"]) == 1
    assert 'undefined.proto:4:12: "Missing" is not defined.' in capsys.readouterr().err
    assert grpcx_main(["generate", "-I", str(tmp_path), "--out", out, "absent.proto"]) == 1
    assert "absent.proto" in capsys.readouterr().err


def test_relative_imports_make_a_self_contained_package(tmp_path: Path) -> None:
    """Generated into ``app/generated``, imported as ``app.generated.*``: no sys.path entry
    for the output, and the absolute names do not exist (a subprocess keeps this
    package's protos out of this process's descriptor pool)."""
    out = tmp_path / "app" / "generated"
    generate(out, "--relative-imports")
    (tmp_path / "app" / "__init__.py").write_text("")  # the application's own package
    pb2 = (out / "grpcx_codegen_test/nested/deep/router_pb2.py").read_text()
    assert "from ...common import types_pb2 as " in pb2
    pyi = (out / "grpcx_codegen_test/nested/deep/router_pb2.pyi").read_text()
    assert "from ...common import types_pb2 as _types_pb2" in pyi
    program = """
import asyncio
import importlib
import pathlib

import grpcx.aio
import grpcx.testing
from app.generated.grpcx_codegen_test import twins_grpcx, twins_pb2
from app.generated.grpcx_codegen_test.common import types_pb2

out = pathlib.Path("app/generated")
paths = [*out.rglob("*_pb2.py"), *out.rglob("*_grpcx.py")]
modules = [".".join(path.with_suffix("").parts) for path in paths]
for name in modules:
    importlib.import_module(name)


class Beta(twins_grpcx.BetaServicer):
    async def get(self, request, context):
        return twins_pb2.Value(name=request.name)

    async def put(self, request, context):
        return types_pb2.Point(x=len(request.data))


async def main():
    server = grpcx.aio.Server()
    server.add_service(Beta())
    async with grpcx.testing.in_memory_channel(server) as channel:
        reply = await twins_grpcx.BetaStub(channel).put(twins_pb2.Value(data=b"xy"))
    print(len(modules), reply.x)


asyncio.run(main())
"""
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", program],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    count, x = result.stdout.split()
    assert int(count) == len(CORPUS) + 3 and x == "2"  # _pb2 each, and three _grpcx


def test_console_entry_point_runs_as_a_module(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "grpcx.cli", "generate", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert "--relative-imports" in result.stdout
    result = subprocess.run(
        [sys.executable, "-m", "grpcx.cli"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2 and "COMMAND" in result.stderr


def test_no_init_files_under_a_namespace_package(tmp_path: Path) -> None:
    """A proto under google/ (as googleapis' are) gets no google/__init__.py: that would
    make the output's google a regular package hiding google.protobuf."""
    protos = tmp_path / "protos"
    (protos / "google" / "mine").mkdir(parents=True)
    (protos / "google" / "mine" / "money2.proto").write_text(
        'syntax = "proto3";\npackage google.mine;\nmessage Money2 { int64 units = 1; }\n'
    )
    out = tmp_path / "out"
    out.mkdir()
    status = grpcx_main(
        ["generate", "-q", "-I", str(protos), "--out", str(out), "google/mine/money2.proto"]
    )
    assert status == 0
    assert (out / "google" / "mine" / "money2_pb2.py").is_file()
    assert list(out.rglob("__init__.py")) == []
    code = "import google.protobuf, google.mine.money2_pb2 as m; print(m.Money2(units=3).units)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=out, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "3", result.stderr
