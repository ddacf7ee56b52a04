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

A servicer's methods answer UNIMPLEMENTED until overridden, as generated ones do.

protoc comes from ``grpcx[codegen]`` (grpcio-tools) or ``PATH``. The files are added to
protobuf's default descriptor pool, so loaded messages are the same classes as generated
ones of the same file. Loading is idempotent: a file can be loaded again, also under
another path, or after (or before) its generated ``_pb2`` module is imported, and the
same classes come back. A different file defining the same names cannot be loaded (the
pool keeps one definition of each per process): [`ProtoError`][grpcx.protos.ProtoError] names both
files.
"""

from __future__ import annotations

import importlib
import os
import sys
import types
from collections.abc import Callable, Iterator, Sequence
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
from grpcx.status import StatusCode

__all__ = ["Diagnostic", "ProtoError", "load"]

_HANDLER: dict[Cardinality, Callable[..., MethodHandler]] = {
    Cardinality.UNARY_UNARY: unary_unary,
    Cardinality.UNARY_STREAM: unary_stream,
    Cardinality.STREAM_UNARY: stream_unary,
    Cardinality.STREAM_STREAM: stream_stream,
}

StrPath = str | os.PathLike[str]


# Where load() read each file it added to the pool (its name there → path on disk), to
# name both files when another one conflicts with it.
_ORIGINS: dict[str, str] = {}


def _default_json_name(name: str) -> str:
    """protoc's JSON name of field ``name``: underscores dropped, the next letter upper."""
    parts: list[str] = []
    upper = False
    for char in name:
        if char == "_":
            upper = True
        else:
            parts.append(char.upper() if upper else char)
            upper = False
    return "".join(parts)


def _fields(
    messages: Sequence[descriptor_pb2.DescriptorProto],
) -> Iterator[descriptor_pb2.FieldDescriptorProto]:
    for message in messages:
        yield from message.field
        yield from message.extension
        yield from _fields(message.nested_type)


def _canonical(file: descriptor_pb2.FileDescriptorProto) -> descriptor_pb2.FileDescriptorProto:
    """``file`` as generated ``_pb2`` modules register it, to compare with the pool's.

    protoc hands plugins (and ``--descriptor_set_out``) every field's ``json_name``, but
    the Python generator embeds only those set explicitly in the .proto; comments
    (``source_code_info``) are not embedded either. Without this, the same file would not
    compare equal to itself, and a ``_pb2`` imported after a load would be refused.
    """
    canonical = descriptor_pb2.FileDescriptorProto()
    canonical.CopyFrom(file)
    canonical.ClearField("source_code_info")
    for field in [*canonical.extension, *_fields(canonical.message_type)]:
        if field.json_name == _default_json_name(field.name):
            field.ClearField("json_name")
    return canonical


def _symbols(file: descriptor_pb2.FileDescriptorProto) -> list[str]:
    """The full names of ``file``'s top-level definitions."""
    prefix = f"{file.package}." if file.package else ""
    names = [
        *(m.name for m in file.message_type),
        *(e.name for e in file.enum_type),
        *(s.name for s in file.service),
        *(x.name for x in file.extension),
    ]
    return [prefix + name for name in names]


def _origin(name: str) -> str:
    """Where the pool's file ``name`` came from, as well as this process can tell."""
    if name in _ORIGINS:
        return f"{name} (loaded from {_ORIGINS[name]})"
    module = sys.modules.get(message_module(name))
    where = getattr(module, "__file__", None)
    return f"{name} (from {where})" if where else name


def _conflict(origin: str, why: str) -> ProtoError:
    return ProtoError(
        [
            Diagnostic(
                origin,
                None,
                None,
                f"{why} (protobuf keeps one definition of each file and name per process)",
            )
        ]
    )


def _register(
    file: descriptor_pb2.FileDescriptorProto, origin: str, aliases: dict[str, str]
) -> str:
    """Add ``file`` (read from ``origin``) to the default pool unless it is there already.

    Returns the name the pool knows the file by: another than ``file.name`` when the same
    file was added under another path (``aliases`` maps such names, for the files that
    import them). Raises :class:`ProtoError` when another file holds the name or symbols.
    """
    pool = descriptor_pool.Default()
    canonical = _canonical(file)
    for i, dependency in enumerate(canonical.dependency):
        canonical.dependency[i] = aliases.get(dependency, dependency)
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
            return file.name
    if existing is not None:
        loaded = _canonical(descriptor_pb2.FileDescriptorProto.FromString(existing.serialized_pb))
        if loaded == canonical or file.name.startswith("google/"):
            return file.name
        raise _conflict(
            origin,
            f"already loaded in this process with different contents: {_origin(file.name)}",
        )
    for symbol in _symbols(canonical):
        try:
            other = pool.FindFileContainingSymbol(symbol)
        except KeyError:
            continue
        # The same file under another name (another include directory, say).
        loaded = _canonical(descriptor_pb2.FileDescriptorProto.FromString(other.serialized_pb))
        loaded.name = canonical.name
        if loaded == canonical:
            aliases[file.name] = other.name
            return other.name
        raise _conflict(
            origin,
            f"{symbol} is already defined by {_origin(other.name)}",
        )
    try:
        pool.AddSerializedFile(canonical.SerializeToString())
    except TypeError as error:  # what the pool raises for a conflict not caught above
        raise _conflict(origin, f"{file.name} cannot be loaded: {error}") from None
    _ORIGINS[file.name] = origin
    return file.name


def _message_class(message: MessageRef) -> Any:
    descriptor = descriptor_pool.Default().FindMessageTypeByName(message.full_name)
    return message_factory.GetMessageClass(descriptor)


def _unimplemented_handler(service: Service, method: Method) -> Callable[..., Any]:
    """The default of a servicer method: answers UNIMPLEMENTED, as generated code does."""
    details = f"Method not implemented: /{service.full_name}/{method.proto_name}"
    handler: Callable[..., Any]
    if method.cardinality.response_streaming:
        # An async generator, as the server expects of a streamed response's handler.
        async def stream(self: Any, request: Any, context: Any) -> Any:
            yield context.abort(StatusCode.UNIMPLEMENTED, details)  # abort() raises

        handler = stream
    else:

        async def unary(self: Any, request: Any, context: Any) -> Any:
            context.abort(StatusCode.UNIMPLEMENTED, details)

        handler = unary
    handler.__name__ = handler.__qualname__ = method.python_name
    handler.__doc__ = method.doc or None
    return handler


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
        namespace[method.python_name] = _unimplemented_handler(service, method)
    return type(f"{service.name}Servicer", (), namespace)


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


def _find(name: str, directories: Sequence[str]) -> str:
    """The path of the imported file ``name``: in the first include directory holding it."""
    for directory in directories:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    return name  # built into protoc (the well-known types)


def load(file: StrPath, include: Sequence[StrPath] = ()) -> types.ModuleType:
    """Compile ``file`` and return a module of its messages, enums and services.

    ``include`` are the directories imports are looked up in (protoc's ``-I``); by
    default, the directory of ``file``. ``file`` is a path on disk, or a name relative to
    one of ``include``. Raises [`ProtoError`][grpcx.protos.ProtoError] with protoc's
    diagnostics (file, line, column, message) if the file does not compile, or naming both
    files if one already loaded in the process (or imported as a ``_pb2`` module) defines
    the same file or names differently. Loading the same file again, under any path,
    returns its classes.
    """
    directories = [os.fspath(directory) for directory in include] or [os.fspath(Path(file).parent)]
    compiled = compile_protos([os.fspath(file)], directories)
    aliases: dict[str, str] = {}
    pool_names = {}
    for file_proto in compiled.descriptors.file:
        if file_proto.name == compiled.names[0]:
            origin = os.fspath(file)
        else:
            origin = _find(file_proto.name, directories)
        pool_names[file_proto.name] = _register(file_proto, origin, aliases)
    target = next(f for f in compiled.descriptors.file if f.name == compiled.names[0])
    model = read_file(target, TypeIndex(compiled.descriptors.file))

    module = types.ModuleType(model.module, f"Loaded at run time from ``{target.name}``.")
    descriptor = descriptor_pool.Default().FindFileByName(pool_names[target.name])
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
