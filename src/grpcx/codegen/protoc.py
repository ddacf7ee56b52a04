"""Running protoc: finding it, calling it, and turning its complaints into diagnostics.

protoc comes from ``grpcio-tools`` (the ``grpcx[codegen]`` extra), which bundles it with
the ``.proto`` files of the well-known types, or else from ``protoc`` on ``PATH``. It
always runs in a child process: its errors are read from its stderr, and grpcio-tools'
import-time hooks stay out of the caller's process.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import descriptor_pb2

__all__ = ["Compiled", "Diagnostic", "ProtoError", "compile_protos", "protoc_command"]

_LOCATED = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<column>\d+):\s*(?P<message>.*)$")
_FILE_ONLY = re.compile(r"^(?P<file>[^:]*\.proto):\s+(?P<message>.*)$")


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One complaint of protoc: where (when it says) and what."""

    file: str | None
    line: int | None
    column: int | None
    message: str

    def __str__(self) -> str:
        where = ":".join(str(part) for part in (self.file, self.line, self.column) if part)
        return f"{where}: {self.message}" if where else self.message


class ProtoError(Exception):
    """protoc rejected the ``.proto`` files; ``diagnostics`` say where and why."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics) or "protoc failed")


def parse_diagnostics(stderr: str) -> list[Diagnostic]:
    """protoc's stderr (``file:line:column: message`` lines) as diagnostics."""
    diagnostics = []
    for line in stderr.splitlines():
        if not line.strip():
            continue
        if match := _LOCATED.match(line):
            diagnostics.append(
                Diagnostic(
                    match["file"], int(match["line"]), int(match["column"]), match["message"]
                )
            )
        elif match := _FILE_ONLY.match(line):
            diagnostics.append(Diagnostic(match["file"], None, None, match["message"]))
        else:
            diagnostics.append(Diagnostic(None, None, None, line.strip()))
    return diagnostics


def protoc_command() -> list[str]:
    """The command that runs protoc, with the well-known types on its include path."""
    if importlib.util.find_spec("grpc_tools") is not None:
        # grpc_tools.protoc adds its bundled google/protobuf/*.proto to the include path.
        return [sys.executable, "-m", "grpc_tools.protoc"]
    protoc = shutil.which("protoc")
    if protoc is not None:
        return [protoc]
    raise ProtoError(
        [
            Diagnostic(
                None,
                None,
                None,
                "protoc not found: install grpcx[codegen] (grpcio-tools), or put protoc on PATH",
            )
        ]
    )


def _proto_name(file: str, include: Sequence[str]) -> str:
    """``file`` as protoc names it: relative to the include directory holding it."""
    path = Path(file)
    if not path.exists():
        return file
    resolved = path.resolve()
    for directory in include:
        try:
            return resolved.relative_to(Path(directory).resolve()).as_posix()
        except ValueError:
            continue
    return file


@dataclass(frozen=True, slots=True)
class Compiled:
    """What protoc made of some files.

    ``names`` are the files as protoc names them (relative to their include directory);
    ``descriptors`` holds them and everything they import, in dependency order, with
    source info (comments); ``warnings`` are protoc's complaints that did not stop it.
    """

    names: tuple[str, ...]
    descriptors: descriptor_pb2.FileDescriptorSet
    warnings: tuple[Diagnostic, ...]


def compile_protos(
    files: Sequence[str],
    include: Sequence[str],
    extra_args: Sequence[str] = (),
) -> Compiled:
    """Run protoc over ``files`` with ``include`` as its import path.

    ``extra_args`` go to protoc as they are (``--python_out=...``). Raises
    :class:`ProtoError`, with protoc's diagnostics, when protoc fails.
    """
    names = tuple(_proto_name(file, include) for file in files)
    command = protoc_command()
    with tempfile.TemporaryDirectory(prefix="grpcx-protoc-") as tmp:
        descriptor_set = os.path.join(tmp, "descriptors.pb")
        args = [
            *command,
            *(f"--proto_path={directory}" for directory in include),
            f"--descriptor_set_out={descriptor_set}",
            "--include_imports",
            "--include_source_info",
            *extra_args,
            *names,
        ]
        env = dict(os.environ, GRPC_PYTHON_DISABLE_DYNAMIC_STUBS="true")
        result = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
        if result.returncode != 0:
            raise ProtoError(parse_diagnostics(result.stderr))
        with open(descriptor_set, "rb") as stream:
            descriptors = descriptor_pb2.FileDescriptorSet.FromString(stream.read())
    return Compiled(names, descriptors, tuple(parse_diagnostics(result.stderr)))
