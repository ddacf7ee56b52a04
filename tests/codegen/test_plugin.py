"""protoc-gen-grpcx: the pure generator, and the plugin protocol through real protoc."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2

from grpcx.codegen import generate
from grpcx.codegen.plugin import parse_options
from grpcx.codegen.protoc import compile_protos, protoc_command

from .conftest import CORPUS, PROTOS, PYPROJECT


def _request(parameter: str = "", files: list[str] = CORPUS) -> plugin_pb2.CodeGeneratorRequest:
    compiled = compile_protos(files, [str(PROTOS)])
    return plugin_pb2.CodeGeneratorRequest(
        file_to_generate=compiled.names,
        parameter=parameter,
        proto_file=compiled.descriptors.file,
    )


def test_options() -> None:
    assert parse_options("").relative_imports is False
    options = parse_options("relative_imports, api=aio")
    assert options.relative_imports and options.apis == ("aio",)
    with pytest.raises(ValueError, match="unknown option 'frobnicate'"):
        parse_options("frobnicate")
    with pytest.raises(ValueError, match="unknown api 'sync'"):
        parse_options("api=aio+sync")


def test_bad_option_is_reported_to_protoc() -> None:
    response = generate(_request("nonsense"))
    assert response.error == "protoc-gen-grpcx: unknown option 'nonsense'"
    assert not response.file


def test_one_module_per_file_with_services() -> None:
    response = generate(_request())
    assert sorted(file.name for file in response.file) == [
        "grpcx_codegen_test/legacy_grpcx.py",
        "grpcx_codegen_test/nested/deep/router_grpcx.py",
        "grpcx_codegen_test/twins_grpcx.py",
    ]
    assert response.supported_features & plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL


def test_relative_imports_only_for_files_generated_together() -> None:
    absolute = {f.name: f.content for f in generate(_request()).file}
    relative = {f.name: f.content for f in generate(_request("relative_imports")).file}
    router = "grpcx_codegen_test/nested/deep/router_grpcx.py"
    assert "from grpcx_codegen_test.common import types_pb2 as _types_pb2\n" in absolute[router]
    assert "from ...common import types_pb2 as _types_pb2\n" in relative[router]
    assert "from . import router_pb2 as _router_pb2\n" in relative[router]
    # The well-known types are never generated here: always absolute.
    assert "from google.protobuf import empty_pb2 as _empty_pb2\n" in relative[router]
    # Only the files being generated are relative: router alone imports common absolutely.
    only_router = _request("relative_imports", ["grpcx_codegen_test/nested/deep/router.proto"])
    alone = {f.name: f.content for f in generate(only_router).file}
    assert "from grpcx_codegen_test.common import types_pb2" in alone[router]


def test_unknown_message_type_is_an_error() -> None:
    request = _request(files=["grpcx_codegen_test/twins.proto"])
    # Drop the imported file, as a broken request would.
    kept = [f for f in request.proto_file if f.name != "grpcx_codegen_test/common/types.proto"]
    del request.proto_file[:]
    request.proto_file.extend(kept)
    response = generate(request)
    assert "unknown message type '.grpcx_codegen_test.common.Point'" in response.error


def test_output_is_ruff_clean(tmp_path: Path) -> None:
    for file in generate(_request()).file:
        path = tmp_path / file.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(file.content)
    ruff = [sys.executable, "-m", "ruff"]
    config = ["--config", str(PYPROJECT)]
    for args in (["check", "--no-cache"], ["format", "--check", "--no-cache"]):
        result = subprocess.run(
            [*ruff, *args, *config, str(tmp_path)], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_runs_as_a_protoc_plugin(tmp_path: Path) -> None:
    """The same modules through protoc's plugin protocol (stdin/stdout)."""
    plugin = tmp_path / "protoc-gen-grpcx"
    plugin.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m grpcx.codegen "$@"\n')
    plugin.chmod(plugin.stat().st_mode | stat.S_IEXEC)
    out = tmp_path / "out"
    out.mkdir()
    result = subprocess.run(
        [
            *protoc_command(),
            f"-I{PROTOS}",
            f"--plugin=protoc-gen-grpcx={plugin}",
            f"--grpcx_out=relative_imports:{out}",
            *CORPUS,
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ, GRPC_PYTHON_DISABLE_DYNAMIC_STUBS="true"),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    expected = {f.name: f.content for f in generate(_request("relative_imports")).file}
    written = {
        path.relative_to(out).as_posix(): path.read_text() for path in out.rglob("*_grpcx.py")
    }
    assert written == expected


def test_plugin_reports_its_errors_through_protoc(tmp_path: Path) -> None:
    plugin = tmp_path / "protoc-gen-grpcx"
    plugin.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m grpcx.codegen "$@"\n')
    plugin.chmod(plugin.stat().st_mode | stat.S_IEXEC)
    result = subprocess.run(
        [
            *protoc_command(),
            f"-I{PROTOS}",
            f"--plugin=protoc-gen-grpcx={plugin}",
            f"--grpcx_out=bogus:{tmp_path}",
            CORPUS[0],
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ, GRPC_PYTHON_DISABLE_DYNAMIC_STUBS="true"),
        check=False,
    )
    assert result.returncode != 0
    assert "unknown option 'bogus'" in result.stderr


def test_descriptor_set_keeps_comments() -> None:
    compiled = compile_protos(["grpcx_codegen_test/twins.proto"], [str(PROTOS)])
    twins = next(f for f in compiled.descriptors.file if f.name == compiled.names[0])
    assert isinstance(twins, descriptor_pb2.FileDescriptorProto)
    assert twins.source_code_info.location
