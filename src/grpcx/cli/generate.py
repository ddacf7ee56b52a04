"""``grpcx generate``: messages, their ``.pyi`` stubs and grpcx services in one step.

::

    grpcx generate -I protos --out src/myapp/generated protos/myapp/*.proto

runs protoc (from ``grpcx[codegen]``) for ``<file>_pb2.py`` and ``<file>_pb2.pyi``, then
grpcx's generator for ``<file>_grpcx.py``. With ``--relative-imports`` the modules of the
files generated together import one another relatively, the ``_pb2`` ones included, so
the output is a self-contained package that works wherever it is placed.

Every directory below ``--out`` that modules land in gets an empty ``__init__.py`` when
it has none (``--out`` too with ``--relative-imports``), so the output imports as
regular packages and mypy finds it. Before protoc runs, its version is checked against
the installed protobuf runtime (see :func:`grpcx.codegen.protoc.check_versions`).
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from google.protobuf.compiler import plugin_pb2

from grpcx.codegen.naming import message_module, relative_import
from grpcx.codegen.plugin import generate
from grpcx.codegen.protoc import ProtoError, check_versions, compile_protos, protoc_command
from grpcx.codegen.render import APIS

__all__ = ["add_parser", "run"]

# How protoc's Python generators import another file's module (``_pb2.py`` and ``.pyi``).
_FROM_IMPORT = re.compile(r"^from (?P<package>[\w.]+) import (?P<name>\w+_pb2) as (?P<alias>\w+)$")
_PLAIN_IMPORT = re.compile(r"^import (?P<name>\w+_pb2) as (?P<alias>\w+)$")


def add_parser(subparsers: Any) -> None:
    """Register ``generate`` and its arguments."""
    parser = subparsers.add_parser(
        "generate",
        help="generate messages, stubs and services from .proto files",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument(
        "-I",
        "--proto-path",
        dest="include",
        action="append",
        metavar="DIR",
        help="where imports are looked up (repeatable; default: the current directory)",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="where to write modules")
    parser.add_argument(
        "--relative-imports",
        action="store_true",
        help="import modules generated together relatively (a self-contained package)",
    )
    parser.add_argument(
        "--api",
        action="append",
        choices=sorted(APIS),
        help="which API's servicers and stubs to write (repeatable; default: aio)",
    )
    parser.add_argument(
        "--pyi",
        choices=("auto", "mypy-protobuf", "protoc", "none"),
        default="auto",
        help="who writes the messages' .pyi stubs: mypy-protobuf (strict-clean; the "
        "default when installed, as grpcx[codegen] does), protoc's own, or none",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="do not list written files")
    parser.add_argument("files", nargs="+", metavar="FILE", help=".proto files to compile")
    parser.set_defaults(run=run)


def _relativize(path: Path, module: str, relative: frozenset[str]) -> None:
    """Rewrite protoc's absolute imports of modules in ``relative`` in ``path``."""
    lines = path.read_text().splitlines(keepends=True)
    changed = False
    for index, line in enumerate(lines):
        stripped = line.rstrip("\n")
        if match := _FROM_IMPORT.match(stripped):
            target = f"{match['package']}.{match['name']}"
        elif match := _PLAIN_IMPORT.match(stripped):
            target = match["name"]
        else:
            continue
        if target in relative:
            package, name = relative_import(module, target)
            lines[index] = f"from {package} import {name} as {match['alias']}\n"
            changed = True
    if changed:
        path.write_text("".join(lines))


def _mypy_protobuf() -> str | None:
    """The ``protoc-gen-mypy`` plugin: beside this Python (an unactivated venv) or on PATH."""
    beside = Path(sys.executable).parent / "protoc-gen-mypy"
    if beside.is_file():
        return str(beside)
    return shutil.which("protoc-gen-mypy")


def _stub_args(pyi: str, out: Path) -> list[str]:
    """protoc's arguments for the ``.pyi`` stubs that ``--pyi`` asks for."""
    if pyi == "none":
        return []
    plugin = _mypy_protobuf() if pyi in ("auto", "mypy-protobuf") else None
    if plugin is not None:
        return [f"--plugin=protoc-gen-mypy={plugin}", f"--mypy_out=quiet:{out}"]
    if pyi == "mypy-protobuf":
        raise LookupError("protoc-gen-mypy not found: install mypy-protobuf")
    return [f"--pyi_out={out}"]


def _in_namespace_package(name: str) -> bool:
    """Whether ``name`` is an installed namespace package (such as ``google``)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.origin in (None, "namespace")


def _add_init_files(out: Path, modules: list[Path], package_root: bool) -> list[Path]:
    """Write the missing ``__init__.py`` of the directories ``modules`` are in, up to
    ``out`` (included when ``package_root``); never overwrite one. Returns those written."""
    directories: set[Path] = set()
    for module in modules:
        directory = module.parent
        while directory != out and out in directory.parents:
            directories.add(directory)
            directory = directory.parent
    if package_root:
        directories.add(out)
    written = []
    for directory in sorted(directories):
        if directory != out and _in_namespace_package(directory.relative_to(out).parts[0]):
            # google/... above all: an __init__.py there would make that directory a
            # regular package that hides every other part of the namespace
            # (google.protobuf itself) from the application.
            continue
        init = directory / "__init__.py"
        if not init.exists():
            init.write_text("")
            written.append(init)
    return written


def run(args: argparse.Namespace) -> int:
    """Generate; returns 0, or 1 with protoc's diagnostics on stderr."""
    include: list[str] = args.include or ["."]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        outputs = [f"--python_out={out}", *_stub_args(args.pyi, out)]
    except LookupError as exc:
        print(f"grpcx generate: {exc}", file=sys.stderr)
        return 1
    try:
        command = protoc_command()
    except ProtoError as exc:
        print(f"grpcx generate: {exc}", file=sys.stderr)
        return 1
    versions = check_versions(command)
    if versions.error:
        print(f"grpcx generate: {versions.error}", file=sys.stderr)
        return 1
    if versions.warning:
        print(f"grpcx generate: warning: {versions.warning}", file=sys.stderr)
    try:
        compiled = compile_protos(args.files, include, outputs, command)
    except ProtoError as exc:
        for diagnostic in exc.diagnostics:
            print(diagnostic, file=sys.stderr)
        return 1
    for warning in compiled.warnings:
        print(warning, file=sys.stderr)

    parameters = ["relative_imports"] if args.relative_imports else []
    parameters.append("api=" + "+".join(args.api or ["aio"]))
    request = plugin_pb2.CodeGeneratorRequest(
        file_to_generate=compiled.names,
        parameter=",".join(parameters),
        proto_file=compiled.descriptors.file,
    )
    response = generate(request)
    if response.error:
        print(response.error, file=sys.stderr)
        return 1

    written = []
    for name in compiled.names:
        module = message_module(name)
        base = out / module.replace(".", "/")
        written.append(base.with_suffix(".py"))
        if args.pyi != "none":
            written.append(base.with_suffix(".pyi"))
    if args.relative_imports:
        relative = frozenset(message_module(name) for name in compiled.names)
        for path in written:
            module = path.relative_to(out).with_suffix("").as_posix().replace("/", ".")
            _relativize(path, module, relative)
    for file in response.file:
        path = out / file.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(file.content)
        written.append(path)
    written += _add_init_files(out, written, package_root=args.relative_imports)
    if not args.quiet:
        for path in sorted(written):
            print(path)
        if versions.gencode is not None:
            # On stderr, so that stdout stays the list of files for scripts.
            print(
                f"grpcx generate: the _pb2 modules need the protobuf runtime "
                f">= {versions.gencode} (installed: {versions.runtime})",
                file=sys.stderr,
            )
    return 0
