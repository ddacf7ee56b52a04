"""Python source of a ``<file>_grpcx.py`` module, from the model of its ``.proto`` file.

A module is a header, its imports, then one section per API: today ``aio`` (a servicer
base whose methods answer UNIMPLEMENTED until overridden, and a typed stub, per service).
The blocking API will add a section of its own (other class names, the same model, the
same imports) selected by the plugin's ``api`` option, so one module serves both.

The output is already in ``ruff format``'s style at any line length of 88 or more: every
signature and subscript that could grow long is written one item per line with a trailing
comma, which formatters keep as it is.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from grpcx.codegen.model import MessageRef, Method, ProtoFile, Service
from grpcx.codegen.naming import import_aliases, relative_import, service_module
from grpcx.service import Cardinality

__all__ = ["APIS", "Imports", "render_module"]

_INDENT = "    "
# Docstring lines are wrapped so that, with indentation and quotes, they fit in 88
# columns: a single-line docstring then fits on one line, as ruff format puts it.
_DOC_WIDTH = 82


@dataclass(frozen=True, slots=True)
class Imports:
    """How generated code imports message modules.

    ``relative`` holds the modules to import relatively (those generated together, for a
    self-contained package); every other module is imported absolutely, by protobuf's
    module name.
    """

    relative: frozenset[str] = frozenset()


def _docstring(text: str, indent: str) -> list[str]:
    text = text.replace("\\", "\\\\").replace('"""', '""\\"')
    if text.endswith('"'):
        text = text[:-1] + '\\"'
    lines: list[str] = []
    for line in text.splitlines():
        if len(indent) + len(line) > _DOC_WIDTH:
            lead = line[: len(line) - len(line.lstrip())]
            lines.extend(
                textwrap.wrap(
                    line,
                    _DOC_WIDTH - len(indent),
                    subsequent_indent=lead,
                    break_long_words=False,
                    break_on_hyphens=False,
                )
            )
        else:
            lines.append(line.rstrip())
    if len(lines) == 1:
        return [f'{indent}"""{lines[0]}"""']
    body = [f"{indent}{line}" if line else "" for line in lines[1:]]
    return [f'{indent}"""{lines[0]}', *body, f'{indent}"""']


def _with_deprecation(doc: str, deprecated: bool, what: str) -> str:
    if not deprecated:
        return doc
    note = f"Deprecated: this {what} is marked deprecated in the .proto file."
    return f"{doc}\n\n{note}" if doc else note


class _Source:
    """Lines of code, and the aliases of the modules they refer to."""

    def __init__(self, file: ProtoFile, imports: Imports) -> None:
        self.module = service_module(file.name)
        self.imports = imports
        self.lines: list[str] = []
        self.modules: set[str] = set()
        self.aliases = import_aliases(
            message.module
            for service in file.services
            for method in service.methods
            for message in (method.request, method.response)
        )

    def type(self, message: MessageRef) -> str:
        self.modules.add(message.module)
        return f"{self.aliases[message.module]}.{message.name}"

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def import_lines(self) -> list[str]:
        absolute = sorted(m for m in self.modules if m not in self.imports.relative)
        relative = sorted(m for m in self.modules if m in self.imports.relative)
        lines = []
        for module in absolute:
            package, _, name = module.rpartition(".")
            alias = self.aliases[module]
            if package:
                lines.append(f"from {package} import {name} as {alias}")
            else:
                lines.append(f"import {name} as {alias}")
        # isort order: relative imports after absolute ones, the farthest first.
        pairs = [(relative_import(self.module, m), m) for m in relative]
        pairs.sort(key=lambda item: (-len(item[0][0]) + len(item[0][0].lstrip(".")), item[0]))
        for (package, name), module in pairs:
            lines.append(f"from {package} import {name} as {self.aliases[module]}")
        return lines


# ------------------------------------------------------------------------ asyncio API

_REGISTER = {
    Cardinality.UNARY_UNARY: "grpcx.unary_unary",
    Cardinality.UNARY_STREAM: "grpcx.unary_stream",
    Cardinality.STREAM_UNARY: "grpcx.stream_unary",
    Cardinality.STREAM_STREAM: "grpcx.stream_stream",
}
_AIO_METHOD_CLASS = {
    Cardinality.UNARY_UNARY: ("grpcx.aio.UnaryUnaryMethod", "unary_unary"),
    Cardinality.UNARY_STREAM: ("grpcx.aio.UnaryStreamMethod", "unary_stream"),
    Cardinality.STREAM_UNARY: ("grpcx.aio.StreamUnaryMethod", "stream_unary"),
    Cardinality.STREAM_STREAM: ("grpcx.aio.StreamStreamMethod", "stream_stream"),
}


def _aio_handler(out: _Source, service: Service, method: Method) -> None:
    request, response = out.type(method.request), out.type(method.response)
    cardinality = method.cardinality
    if cardinality.request_streaming:
        argument = f"request_iterator: collections.abc.AsyncIterator[{request}]"
    else:
        argument = f"request: {request}"
    if cardinality.response_streaming:
        returns = f"collections.abc.AsyncIterator[{response}]"
    else:
        returns = response
    i2, i3 = _INDENT * 2, _INDENT * 3
    out.add(
        "",
        f"{_INDENT}async def {method.python_name}(",
        f"{i2}self,",
        f"{i2}{argument},",
        f"{i2}context: grpcx.aio.ServicerContext,",
        f"{_INDENT}) -> {returns}:",
    )
    doc = _with_deprecation(method.doc, method.deprecated, "method")
    if doc:
        out.add(*_docstring(doc, i2))
    # The default answers UNIMPLEMENTED, as every gRPC implementation does for a method
    # the server does not implement: a .proto can grow a method without breaking the
    # servers already deployed. A streamed response's default is an async generator like
    # the methods overriding it (the server checks handlers' kinds), made one by yielding
    # abort()'s result, which never comes: abort() raises. (A ``yield`` after abort()
    # would do the same but is unreachable code to mypy --warn-unreachable.)
    abort = "yield context.abort(" if cardinality.response_streaming else "context.abort("
    out.add(
        f"{i2}{abort}",
        f"{i3}grpcx.StatusCode.UNIMPLEMENTED,",
        f'{i3}"Method not implemented: /{service.full_name}/{method.proto_name}",',
        f"{i2})",
    )


def _aio_servicer(out: _Source, service: Service) -> None:
    i2, i3, i4 = _INDENT * 2, _INDENT * 3, _INDENT * 4
    out.add("", "", f"class {service.name}Servicer:")
    summary = (
        f"Implements ``{service.full_name}``: subclass, override the methods to serve, and"
        " pass an instance to ``server.add_service()``. A method not overridden answers"
        " UNIMPLEMENTED."
    )
    doc = _with_deprecation(service.doc, service.deprecated, "service")
    out.add(*_docstring(f"{doc}\n\n{summary}" if doc else summary, _INDENT))
    for method in service.methods:
        _aio_handler(out, service, method)
    out.add(
        "",
        f"{_INDENT}def __grpcx_service__(self) -> grpcx.ServiceDefinition:",
        f'{i2}"""The service, with this object\'s methods as its handlers."""',
        f"{i2}return grpcx.ServiceDefinition(",
        f'{i3}"{service.full_name}",',
    )
    if not service.methods:
        out.add(f"{i3}[],", f"{i2})")
        return
    out.add(f"{i3}[")
    for method in service.methods:
        out.add(
            f"{i4}{_REGISTER[method.cardinality]}(",
            f'{i4}{_INDENT}"{method.proto_name}",',
            f"{i4}{_INDENT}self.{method.python_name},",
            f"{i4}{_INDENT}{out.type(method.request)},",
            f"{i4}{_INDENT}{out.type(method.response)},",
            f"{i4}),",
        )
    out.add(f"{i3}],", f"{i2})")


def _aio_stub(out: _Source, service: Service) -> None:
    i2, i3 = _INDENT * 2, _INDENT * 3
    out.add("", "", f"class {service.name}Stub:")
    summary = f"Calls ``{service.full_name}`` through a :class:`grpcx.aio.Channel`."
    doc = _with_deprecation(service.doc, service.deprecated, "service")
    out.add(*_docstring(f"{doc}\n\n{summary}" if doc else summary, _INDENT))
    for method in service.methods:
        cls, _ = _AIO_METHOD_CLASS[method.cardinality]
        out.add(
            "",
            f"{_INDENT}{method.python_name}: {cls}[",
            f"{i2}{out.type(method.request)},",
            f"{i2}{out.type(method.response)},",
            f"{_INDENT}]",
        )
        doc = _with_deprecation(method.doc, method.deprecated, "method")
        if doc:
            out.add(*_docstring(doc, _INDENT))
    out.add("", f"{_INDENT}def __init__(self, channel: grpcx.aio.Channel) -> None:")
    if not service.methods:
        out.add(f"{i2}pass")
    for method in service.methods:
        _, factory = _AIO_METHOD_CLASS[method.cardinality]
        out.add(
            f"{i2}self.{method.python_name} = channel.{factory}(",
            f'{i3}"/{service.full_name}/{method.proto_name}",',
            f"{i3}{out.type(method.request)}.SerializeToString,",
            f"{i3}{out.type(method.response)}.FromString,",
            f"{i2})",
        )


def _aio_section(out: _Source, file: ProtoFile) -> list[str]:
    """Render the asyncio classes; returns the names they define."""
    names = []
    for service in file.services:
        _aio_servicer(out, service)
        _aio_stub(out, service)
        names += [f"{service.name}Servicer", f"{service.name}Stub"]
    return names


# The API sections a module can hold, by the name the ``api`` option uses.
APIS: dict[str, Callable[[_Source, ProtoFile], list[str]]] = {"aio": _aio_section}


def render_module(file: ProtoFile, imports: Imports, apis: Iterable[str] = ("aio",)) -> str:
    """The source of ``file``'s service module, with the sections of ``apis``."""
    out = _Source(file, imports)
    names: list[str] = []
    for api in apis:
        names += APIS[api](out, file)
    uses_streams = any(
        method.cardinality is not Cardinality.UNARY_UNARY
        for service in file.services
        for method in service.methods
    )
    header = [
        # Import sections depend on the project (is grpcx first- or third-party?).
        "# ruff: noqa: I001",
        f'"""grpcx servicers and stubs for ``{file.name}``.',
        "",
        "Generated by protoc-gen-grpcx; do not edit.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
    ]
    if uses_streams:
        header.append("import collections.abc")
    header += ["", "import grpcx", "import grpcx.aio"]
    import_lines = out.import_lines()
    if import_lines:
        header += ["", *import_lines]
    header += ["", "__all__ = [", *(f'{_INDENT}"{name}",' for name in sorted(names)), "]"]
    if not names:
        header[-2:] = ["__all__: list[str] = []"]
    return "\n".join([*header, *out.lines]) + "\n"
