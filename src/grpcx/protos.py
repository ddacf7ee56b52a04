"""Load a ``.proto`` file at run time: its messages and services, no generation step.

For scripts, notebooks and tests::

    helloworld = grpcx.protos.load("protos/helloworld.proto")

    class Greeter(helloworld.GreeterServicer):
        async def say_hello(self, request, context):
            return helloworld.HelloReply(message=f"Hello {request.name}")

    stub = helloworld.GreeterStub(channel)
    reply = await stub.say_hello(helloworld.HelloRequest(name="you"))

The returned module holds what ``<file>_pb2`` and ``<file>_grpcx`` would: the message
classes, enums and enum values, and ``<Service>Servicer`` / ``<Service>Stub`` per service,
with the same Python method names as generated code. Nothing is typed statically (the
attributes are ``Any`` to mypy): for typed code, use ``grpcx generate``.

protoc comes from ``grpcx[codegen]`` (grpcio-tools) or ``PATH``. The files are added to
protobuf's default descriptor pool, so loaded messages are the same classes as generated
ones of the same file, and a file can be loaded again (the same module's classes come
back) but not with different contents.
"""

from __future__ import annotations

import abc
import importlib
import os
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.internal import enum_type_wrapper

from grpcx.codegen.model import MessageRef, Method, Service, TypeIndex, read_file
from grpcx.codegen.naming import message_module
from grpcx.codegen.protoc import Diagnostic, ProtoError, compile_protos
from grpcx.service import (
    Cardinality,
    MethodHandler,
    ServiceDefinition,
    stream_stream,
    stream_unary,
    unary_stream,
    unary_unary,
)

__all__ = ["Diagnostic", "ProtoError", "load"]

_HANDLER: dict[Cardinality, Callable[..., MethodHandler]] = {
    Cardinality.UNARY_UNARY: unary_unary,
    Cardinality.UNARY_STREAM: unary_stream,
    Cardinality.STREAM_UNARY: stream_unary,
    Cardinality.STREAM_STREAM: stream_stream,
}

StrPath = str | os.PathLike[str]


def _register(file: descriptor_pb2.FileDescriptorProto) -> None:
    """Add ``file`` to the default pool unless it (the same file) is there already."""
    pool = descriptor_pool.Default()
    stripped = descriptor_pb2.FileDescriptorProto()
    stripped.CopyFrom(file)
    stripped.ClearField("source_code_info")
    try:
        existing = pool.FindFileByName(file.name)
    except KeyError:
        existing = None
    if existing is None and file.name.startswith("google/"):
        # The well-known types (protobuf) and googleapis-common-protos ship modules:
        # importing one registers its file exactly as generated code expects it.
        try:
            importlib.import_module(message_module(file.name))
        except ImportError:
            pass
        else:
            return
    if existing is None:
        pool.AddSerializedFile(stripped.SerializeToString())
        return
    if file.name.startswith("google/"):
        return
    loaded = descriptor_pb2.FileDescriptorProto.FromString(existing.serialized_pb)
    if loaded != stripped:
        raise ProtoError(
            [
                Diagnostic(
                    file.name,
                    None,
                    None,
                    "already loaded in this process with different contents "
                    "(protobuf keeps one definition of each file per process)",
                )
            ]
        )


def _message_class(message: MessageRef) -> Any:
    descriptor = descriptor_pool.Default().FindMessageTypeByName(message.full_name)
    return message_factory.GetMessageClass(descriptor)


def _abstract_handler(method: Method) -> Callable[..., Any]:
    def handler(self: Any, request: Any, context: Any) -> Any:
        raise NotImplementedError(method.proto_name)

    handler.__name__ = handler.__qualname__ = method.python_name
    handler.__doc__ = method.doc or None
    return abc.abstractmethod(handler)


def _servicer_class(service: Service, module: str) -> type:
    handlers = [
        (
            _HANDLER[method.cardinality],
            method,
            _message_class(method.request),
            _message_class(method.response),
        )
        for method in service.methods
    ]

    def __grpcx_service__(self: Any) -> ServiceDefinition:
        return ServiceDefinition(
            service.full_name,
            [
                factory(method.proto_name, getattr(self, method.python_name), request, response)
                for factory, method, request, response in handlers
            ],
        )

    namespace: dict[str, Any] = {
        "__module__": module,
        "__doc__": service.doc or f"Implements ``{service.full_name}``.",
        "__grpcx_service__": __grpcx_service__,
    }
    for method in service.methods:
        namespace[method.python_name] = _abstract_handler(method)
    return abc.ABCMeta(f"{service.name}Servicer", (abc.ABC,), namespace)


def _stub_class(service: Service, module: str) -> type:
    methods = [
        (
            method,
            f"/{service.full_name}/{method.proto_name}",
            _message_class(method.request).SerializeToString,
            _message_class(method.response).FromString,
        )
        for method in service.methods
    ]

    def __init__(self: Any, channel: Any) -> None:
        for method, path, serializer, deserializer in methods:
            factory = getattr(channel, method.cardinality.value)
            setattr(self, method.python_name, factory(path, serializer, deserializer))

    namespace = {
        "__module__": module,
        "__doc__": service.doc or f"Calls ``{service.full_name}``.",
        "__init__": __init__,
    }
    return type(f"{service.name}Stub", (), namespace)


def load(file: StrPath, include: Sequence[StrPath] = ()) -> types.ModuleType:
    """Compile ``file`` and return a module of its messages, enums and services.

    ``include`` are the directories imports are looked up in (protoc's ``-I``); by
    default, the directory of ``file``. ``file`` is a path on disk, or a name relative to
    one of ``include``. Raises :class:`ProtoError` with protoc's diagnostics (file, line,
    column, message) if the file does not compile.
    """
    directories = [os.fspath(directory) for directory in include] or [os.fspath(Path(file).parent)]
    compiled = compile_protos([os.fspath(file)], directories)
    for file_proto in compiled.descriptors.file:
        _register(file_proto)
    target = next(f for f in compiled.descriptors.file if f.name == compiled.names[0])
    model = read_file(target, TypeIndex(compiled.descriptors.file))

    module = types.ModuleType(model.module, f"Loaded at run time from ``{target.name}``.")
    descriptor = descriptor_pool.Default().FindFileByName(target.name)
    module.DESCRIPTOR = descriptor  # type: ignore[attr-defined]
    for name, message in descriptor.message_types_by_name.items():
        setattr(module, name, message_factory.GetMessageClass(message))
    for name, enum in descriptor.enum_types_by_name.items():
        setattr(module, name, enum_type_wrapper.EnumTypeWrapper(enum))
        for value in enum.values:
            setattr(module, value.name, value.number)
    for service in model.services:
        setattr(module, f"{service.name}Servicer", _servicer_class(service, model.module))
        setattr(module, f"{service.name}Stub", _stub_class(service, model.module))
    return module
