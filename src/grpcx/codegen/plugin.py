"""``protoc-gen-grpcx``: the protoc plugin that writes ``<file>_grpcx.py`` modules.

protoc runs it with a ``CodeGeneratorRequest`` on stdin and reads a
``CodeGeneratorResponse`` from stdout; :func:`generate` is the pure function between the
two, which ``grpcx generate`` also calls directly. Use it as::

    protoc -I protos --python_out=out --pyi_out=out --grpcx_out=out protos/pkg/svc.proto

Options (``--grpcx_opt=a,b``):

``relative_imports``
    Import the message modules of the files generated in the same run with relative
    imports (``from . import svc_pb2``), for a self-contained package whose location
    under ``sys.path`` is not known in advance. Other modules (the well-known types,
    googleapis) are imported by their absolute names.
``api=aio``
    Which API's classes to write. Only ``aio`` exists so far; the blocking API will add
    ``sync`` (``api=aio+sync`` for both).

A file with no services gets no module.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from google.protobuf.compiler import plugin_pb2

from grpcx.codegen.model import TypeIndex, read_file
from grpcx.codegen.naming import message_module, service_module
from grpcx.codegen.render import APIS, Imports, render_module

__all__ = ["Options", "generate", "main", "parse_options"]


@dataclass(slots=True)
class Options:
    """The plugin's parameter, parsed."""

    relative_imports: bool = False
    apis: tuple[str, ...] = ("aio",)


def parse_options(parameter: str) -> Options:
    """Parse ``relative_imports,api=aio``; raises ValueError for anything unknown."""
    options = Options()
    for item in filter(None, (part.strip() for part in parameter.split(","))):
        key, _, value = item.partition("=")
        if key == "relative_imports" and not value:
            options.relative_imports = True
        elif key == "api" and value:
            apis = tuple(value.split("+"))
            unknown = [api for api in apis if api not in APIS]
            if unknown:
                raise ValueError(f"unknown api {unknown[0]!r} (known: {', '.join(APIS)})")
            options.apis = apis
        else:
            raise ValueError(f"unknown option {item!r}")
    return options


def generate(request: plugin_pb2.CodeGeneratorRequest) -> plugin_pb2.CodeGeneratorResponse:
    """The ``_grpcx.py`` modules for the files of ``request``; errors go in ``error``."""
    response = plugin_pb2.CodeGeneratorResponse()
    response.supported_features = plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
    try:
        options = parse_options(request.parameter)
    except ValueError as exc:
        response.error = f"protoc-gen-grpcx: {exc}"
        return response
    files = {file.name: file for file in request.proto_file}
    types = TypeIndex(request.proto_file)
    relative = frozenset(
        message_module(name) for name in request.file_to_generate if options.relative_imports
    )
    for name in request.file_to_generate:
        try:
            model = read_file(files[name], types)
        except (KeyError, ValueError) as exc:
            response.error = f"{name}: {exc}"
            return response
        if not model.services:
            continue
        output = response.file.add()
        output.name = service_module(name).replace(".", "/") + ".py"
        output.content = render_module(model, Imports(relative), options.apis)
    return response


def main() -> int:
    """Run as protoc's plugin: request on stdin, response on stdout."""
    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    sys.stdout.buffer.write(generate(request).SerializeToString())
    sys.stdout.buffer.flush()
    return 0
