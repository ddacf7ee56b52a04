"""What the generators need of a ``.proto`` file, read from its descriptor protos.

The code generator (:mod:`grpcx.codegen.plugin`) and the run-time loader
(:mod:`grpcx.protos`) both start here, so a service has the same Python method names and
the same docstrings whether its code was generated or built at run time.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from dataclasses import dataclass

from google.protobuf import descriptor_pb2

from grpcx.codegen.naming import message_module, method_names
from grpcx.service import Cardinality

__all__ = ["MessageRef", "Method", "ProtoFile", "Service", "TypeIndex", "read_file"]

# Field numbers in descriptor.proto, for SourceCodeInfo.Location.path.
_FILE_SERVICE = 6
_SERVICE_METHOD = 2


@dataclass(frozen=True, slots=True)
class MessageRef:
    """A message class: its module and its dotted name there (``Outer.Inner``)."""

    full_name: str
    module: str
    name: str


@dataclass(frozen=True, slots=True)
class Method:
    """One method: proto and Python names, cardinality, message types and docs."""

    proto_name: str
    python_name: str
    cardinality: Cardinality
    request: MessageRef
    response: MessageRef
    doc: str
    deprecated: bool


@dataclass(frozen=True, slots=True)
class Service:
    """One service: ``name`` as in the file, ``full_name`` as on the wire."""

    name: str
    full_name: str
    methods: tuple[Method, ...]
    doc: str
    deprecated: bool


@dataclass(frozen=True, slots=True)
class ProtoFile:
    """A ``.proto`` file's path, package, message module and services."""

    name: str
    package: str
    module: str
    services: tuple[Service, ...]


class TypeIndex:
    """Every message of a set of files by full name (``.pkg.Outer.Inner``)."""

    def __init__(self, files: Iterable[descriptor_pb2.FileDescriptorProto]) -> None:
        self._messages: dict[str, MessageRef] = {}
        for file in files:
            module = message_module(file.name)
            prefix = f".{file.package}" if file.package else ""
            self._add(file.message_type, prefix, "", module)

    def _add(
        self,
        messages: Iterable[descriptor_pb2.DescriptorProto],
        prefix: str,
        outer: str,
        module: str,
    ) -> None:
        for message in messages:
            full_name = f"{prefix}.{message.name}"
            name = f"{outer}{message.name}"
            self._messages[full_name] = MessageRef(full_name.lstrip("."), module, name)
            self._add(message.nested_type, full_name, name + ".", module)

    def message(self, full_name: str) -> MessageRef:
        """The message named ``.pkg.Message`` (as in a method's input_type)."""
        try:
            return self._messages[full_name]
        except KeyError:
            raise ValueError(f"unknown message type {full_name!r}") from None


def _comments(file: descriptor_pb2.FileDescriptorProto) -> dict[tuple[int, ...], str]:
    docs: dict[tuple[int, ...], str] = {}
    for location in file.source_code_info.location:
        text = "\n\n".join(
            textwrap.dedent(comment).strip()
            for comment in (location.leading_comments, location.trailing_comments)
            if comment.strip()
        )
        if text:
            docs[tuple(location.path)] = text
    return docs


def _cardinality(method: descriptor_pb2.MethodDescriptorProto) -> Cardinality:
    if method.client_streaming:
        if method.server_streaming:
            return Cardinality.STREAM_STREAM
        return Cardinality.STREAM_UNARY
    return Cardinality.UNARY_STREAM if method.server_streaming else Cardinality.UNARY_UNARY


def read_file(file: descriptor_pb2.FileDescriptorProto, types: TypeIndex) -> ProtoFile:
    """The model of ``file``; ``types`` must know every message it refers to."""
    docs = _comments(file)
    services = []
    for s, service in enumerate(file.service):
        names = method_names([method.name for method in service.method])
        methods = tuple(
            Method(
                proto_name=method.name,
                python_name=names[method.name],
                cardinality=_cardinality(method),
                request=types.message(method.input_type),
                response=types.message(method.output_type),
                doc=docs.get((_FILE_SERVICE, s, _SERVICE_METHOD, m), ""),
                deprecated=method.options.deprecated,
            )
            for m, method in enumerate(service.method)
        )
        full_name = f"{file.package}.{service.name}" if file.package else service.name
        services.append(
            Service(
                name=service.name,
                full_name=full_name,
                methods=methods,
                doc=docs.get((_FILE_SERVICE, s), ""),
                deprecated=service.options.deprecated,
            )
        )
    return ProtoFile(file.name, file.package, message_module(file.name), tuple(services))
