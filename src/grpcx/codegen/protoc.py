"""Running protoc: finding it, calling it, and turning its complaints into diagnostics.

protoc comes from ``grpcio-tools`` (the ``grpcx[codegen]`` extra), which bundles it with
the ``.proto`` files of the well-known types, or else from ``protoc`` on ``PATH``. It
always runs in a child process: its errors are read from its stderr, and grpcio-tools'
import-time hooks stay out of the caller's process.

The ``_pb2.py`` code protoc writes needs a protobuf runtime at least as new as that protoc
(protobuf's cross-version runtime guarantee: new gencode on an old runtime is never
allowed), and the runtime supports gencode at most one major version older than itself.
:func:`check_versions` compares the two before ``grpcx generate`` writes anything: a
protoc from elsewhere than grpcio-tools (Debian's ``/usr/bin/protoc`` is 3.21) easily
writes code the installed runtime refuses or no longer supports.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import google.protobuf
from google.protobuf import descriptor_pb2

__all__ = [
    "Compiled",
    "Diagnostic",
    "ProtoError",
    "Version",
    "VersionCheck",
    "check_versions",
    "compile_protos",
    "gencode_version",
    "parse_protoc_version",
    "protoc_command",
    "protoc_release",
    "runtime_version",
]

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


class Version(NamedTuple):
    """A protobuf Python version, ``major.minor.patch``; also a protoc release (major 0)."""

    major: int
    minor: int
    patch: int

    def __str__(self) -> str:
        if self.major:
            return f"{self.major}.{self.minor}.{self.patch}"
        # A protoc release, spelt as protoc spells it: 3.21.12 until release 22.0.
        return f"3.{self.minor}.{self.patch}" if self.minor <= 21 else f"{self.minor}.{self.patch}"


_LIBPROTOC = re.compile(r"libprotoc\s+(\d+)\.(\d+)(?:\.(\d+))?")
_RELEASE = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?")
# The first protoc release of each protobuf Python major version: Python's minor version
# is protoc's release number (protoc 35.1 writes code for protobuf 7.35.1), its major
# version is bumped on breaking changes. History, so it cannot change.
_PYTHON_MAJORS = ((34, 7), (30, 6), (26, 5), (21, 4), (0, 3))


def parse_protoc_version(output: str) -> Version | None:
    """The release in ``protoc --version``'s output (``libprotoc 35.1``), as major 0.

    Until release 21, protoc called itself 3.x: ``libprotoc 3.21.12`` is release 21.12.
    """
    match = _LIBPROTOC.search(output)
    if match is None:
        return None
    first, second, third = int(match[1]), int(match[2]), int(match[3] or 0)
    if first == 3 and match[3] is not None:
        return Version(0, second, third)
    return Version(0, first, second)


def protoc_release(command: Sequence[str]) -> Version | None:
    """What ``command --version`` says, or None when it does not say."""
    env = dict(os.environ, GRPC_PYTHON_DISABLE_DYNAMIC_STUBS="true")
    try:
        result = subprocess.run(
            [*command, "--version"], capture_output=True, text=True, env=env, check=False
        )
    except OSError:
        return None
    return parse_protoc_version(result.stdout + result.stderr)


def runtime_version() -> Version:
    """The installed protobuf runtime's version."""
    match = _RELEASE.match(google.protobuf.__version__)
    if match is None:  # pragma: no cover - protobuf's own versions all match
        raise RuntimeError(f"unparsable protobuf version {google.protobuf.__version__!r}")
    return Version(int(match[1]), int(match[2]), int(match[3] or 0))


def gencode_version(release: Version, runtime: Version) -> Version:
    """The protobuf version of the code that protoc ``release`` writes.

    A major version newer than ``_PYTHON_MAJORS`` knows is learnt from the runtime: if it
    is of that major and no newer than ``release``, so is the gencode.
    """
    major = next(major for first, major in _PYTHON_MAJORS if release.minor >= first)
    if runtime.major > major and runtime.minor <= release.minor:
        major = runtime.major
    return Version(major, release.minor, release.patch)


def _codegen_requirement() -> str:
    """grpcx's codegen extra's grpcio-tools requirement, for the fixes messages suggest."""
    try:
        requirements = importlib.metadata.requires("grpcx") or []
    except importlib.metadata.PackageNotFoundError:
        requirements = []
    for requirement in requirements:
        spec = requirement.split(";")[0].strip()
        if spec.startswith("grpcio-tools") and "codegen" in requirement:
            return spec
    return "grpcio-tools"


@dataclass(frozen=True, slots=True)
class VersionCheck:
    """What :func:`check_versions` found: protoc's release and the code's needs.

    ``gencode`` (None when protoc did not say its version) is the protobuf version the
    generated ``_pb2`` modules need at least. ``error`` says why generating would write
    code the installed runtime refuses, and the fix; ``warning`` says why the code may
    work only for now.
    """

    protoc: str
    release: Version | None
    gencode: Version | None
    runtime: Version
    error: str | None = None
    warning: str | None = None


def check_versions(command: Sequence[str] | None = None) -> VersionCheck:
    """Compare the code ``command`` (default: :func:`protoc_command`) writes with the runtime."""
    command = list(command) if command is not None else protoc_command()
    bundled = command[1:] == ["-m", "grpc_tools.protoc"]
    protoc = "grpcio-tools' protoc" if bundled else command[0]
    release = protoc_release(command)
    runtime = runtime_version()
    if release is None:
        warning = (
            f"{protoc} did not say its version (`--version`), so grpcx cannot check that "
            f"the installed protobuf runtime {runtime} can load the code it writes"
        )
        return VersionCheck(protoc, None, None, runtime, warning=warning)
    gencode = gencode_version(release, runtime)
    check = VersionCheck(protoc, release, gencode, runtime)
    written = f"{protoc} (libprotoc {release}) writes code for protobuf {gencode}"
    grpcio_tools = _codegen_requirement()
    if gencode > runtime:
        # New gencode on an old runtime is never allowed: it may call APIs the runtime
        # lacks, and protobuf's own check refuses it at import.
        fix = f"upgrade protobuf: pip install -U 'protobuf>={gencode}'"
        if not bundled:
            fix += f", or generate with grpcio-tools' protoc: pip install '{grpcio_tools}'"
        return replace(
            check,
            error=f"{written}, newer than the installed protobuf runtime {runtime}, which "
            f"refuses to import it; {fix}",
        )
    if gencode.major < runtime.major:
        if bundled:
            fix = f"upgrade grpcio-tools: pip install -U '{grpcio_tools}'"
        else:
            fix = (
                f"install grpcio-tools, whose protoc grpcx prefers to {command[0]}: "
                f"pip install '{grpcio_tools}' (grpcx's codegen extra brings it)"
            )
        if gencode.major < runtime.major - 1:
            # Outside protobuf's support window: the runtime may fail on it at import, or
            # worse, misbehave later.
            return replace(
                check,
                error=f"{written}, {runtime.major - gencode.major} major versions older than "
                f"the installed protobuf runtime {runtime}, which supports generated code "
                f"at most one major version older; {fix}",
            )
        return replace(
            check,
            warning=f"{written}, one major version older than the installed protobuf "
            f"runtime {runtime}: protobuf supports that for now (perhaps warning at import), "
            f"a later major version will not; {fix}",
        )
    return check


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
    command: Sequence[str] | None = None,
) -> Compiled:
    """Run protoc (``command``, default :func:`protoc_command`) over ``files`` with
    ``include`` as its import path.

    ``extra_args`` go to protoc as they are (``--python_out=...``). Raises
    :class:`ProtoError`, with protoc's diagnostics, when protoc fails.
    """
    names = tuple(_proto_name(file, include) for file in files)
    command = list(command) if command is not None else protoc_command()
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
