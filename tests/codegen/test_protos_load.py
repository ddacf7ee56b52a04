"""grpcx.protos.load: messages and services from a .proto at run time."""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import grpcx.aio
import grpcx.cli
import grpcx.protos
import grpcx.testing
from grpcx import StatusCode

from .conftest import PROTOS

LOADABLE = PROTOS / "loadable" / "grpcx_loaded_test.proto"


def test_messages_enums_and_services() -> None:
    loaded = grpcx.protos.load(LOADABLE)
    assert loaded.__name__ == "grpcx_loaded_test_pb2"
    request = loaded.HelloRequest(name="you", mood=loaded.MOOD_HAPPY)
    assert loaded.HelloRequest.FromString(request.SerializeToString()) == request
    assert loaded.Mood.Name(loaded.MOOD_HAPPY) == "MOOD_HAPPY"
    assert loaded.DESCRIPTOR.package == "grpcx_codegen_test.loaded"
    assert loaded.GreeterServicer.say_hello.__doc__ == "Says hello."
    # Loading again gives the same classes; the well-known types are protobuf's own.
    again = grpcx.protos.load(str(LOADABLE), include=[str(LOADABLE.parent)])
    assert again.HelloRequest is loaded.HelloRequest
    from google.protobuf import timestamp_pb2

    assert type(loaded.HelloReply().at) is timestamp_pb2.Timestamp


async def test_serves_and_calls() -> None:
    loaded = grpcx.protos.load(LOADABLE)

    class Greeter(loaded.GreeterServicer):  # type: ignore[misc,name-defined]
        async def say_hello(self, request: Any, context: grpcx.aio.ServicerContext) -> Any:
            return loaded.HelloReply(message=f"Hello {request.name}")

        async def chat(
            self, request_iterator: AsyncIterator[Any], context: grpcx.aio.ServicerContext
        ) -> AsyncIterator[Any]:
            async for request in request_iterator:
                yield loaded.HelloReply(message=request.name.upper())

    server = grpcx.aio.Server()
    server.add_service(Greeter())
    assert "grpcx_codegen_test.loaded.Greeter" in server.services
    async with grpcx.testing.in_memory_channel(server) as channel:
        stub = loaded.GreeterStub(channel)
        reply = await stub.say_hello(loaded.HelloRequest(name="you"))
        assert reply.message == "Hello you"
        requests = [loaded.HelloRequest(name=n) for n in ("a", "b")]
        assert [r.message async for r in stub.chat(requests)] == ["A", "B"]


async def test_methods_not_overridden_answer_unimplemented() -> None:
    loaded = grpcx.protos.load(LOADABLE)
    # As in generated code: coroutine and async generator functions, as the server expects.
    assert inspect.iscoroutinefunction(loaded.GreeterServicer.say_hello)
    assert inspect.isasyncgenfunction(loaded.GreeterServicer.chat)

    class Nothing(loaded.GreeterServicer):  # type: ignore[misc,name-defined]
        pass

    server = grpcx.aio.Server()
    server.add_service(Nothing())
    async with grpcx.testing.in_memory_channel(server) as channel:
        stub = loaded.GreeterStub(channel)
        with pytest.raises(grpcx.RpcError) as unary:
            await stub.say_hello(loaded.HelloRequest())
        with pytest.raises(grpcx.RpcError) as streaming:
            [r async for r in stub.chat([loaded.HelloRequest()])]
    for error, method in ((unary, "SayHello"), (streaming, "Chat")):
        assert error.value.code() is StatusCode.UNIMPLEMENTED
        path = f"/grpcx_codegen_test.loaded.Greeter/{method}"
        assert error.value.details() == f"Method not implemented: {path}"


def test_load_after_the_generated_module_is_imported(generated: Path) -> None:
    # twins.proto and the types.proto it imports, as generated modules.
    twins_pb2 = importlib.import_module("grpcx_codegen_test.twins_pb2")
    types_pb2 = importlib.import_module("grpcx_codegen_test.common.types_pb2")
    loaded = grpcx.protos.load("grpcx_codegen_test/twins.proto", include=[PROTOS])
    assert loaded.Key is twins_pb2.Key
    assert loaded.DESCRIPTOR is twins_pb2.DESCRIPTOR
    assert loaded.AlphaServicer.__name__ == "AlphaServicer"
    assert types_pb2.Point(x=1).x == 1


def test_import_the_generated_module_after_a_load(tmp_path: Path) -> None:
    proto = tmp_path / "grpcx_load_then_import.proto"
    proto.write_text(
        'syntax = "proto3";\npackage grpcx_codegen_test.then_import;\n'
        "message A { int32 snake_case_field = 1; string named = 2 [json_name = 'n']; }\n"
    )
    loaded = grpcx.protos.load(proto)
    out = tmp_path / "out"
    assert (
        grpcx.cli.main(["generate", "-q", "-I", str(tmp_path), "--out", str(out), proto.name]) == 0
    )
    sys.path.insert(0, str(out))
    try:
        generated = importlib.import_module("grpcx_load_then_import_pb2")
    finally:
        sys.path.remove(str(out))
    assert generated.A is loaded.A
    assert generated.DESCRIPTOR.message_types_by_name["A"].fields_by_name["named"].json_name == "n"


def test_the_same_file_under_two_paths(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "grpcx_load_two_paths.proto").write_text(
        'syntax = "proto3";\npackage grpcx_codegen_test.two_paths;\nmessage A { int32 x = 1; }\n'
    )
    (tmp_path / "grpcx_load_importer.proto").write_text(
        'syntax = "proto3";\npackage grpcx_codegen_test.importer;\n'
        'import "sub/grpcx_load_two_paths.proto";\n'
        "message B { grpcx_codegen_test.two_paths.A a = 1; }\n"
    )
    # Named "grpcx_load_two_paths.proto" (its directory is the include root), then
    # "sub/grpcx_load_two_paths.proto" (relative to tmp_path).
    first = grpcx.protos.load(tmp_path / "sub" / "grpcx_load_two_paths.proto")
    second = grpcx.protos.load("sub/grpcx_load_two_paths.proto", include=[tmp_path])
    assert second.A is first.A
    assert second.DESCRIPTOR is first.DESCRIPTOR
    # A file importing it by the second name, which the pool knows by the first.
    importer = grpcx.protos.load(tmp_path / "grpcx_load_importer.proto")
    assert importer.B(a=first.A(x=1)).a.x == 1


def test_a_real_conflict_names_both_files(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    header = 'syntax = "proto3";\npackage grpcx_codegen_test.conflict;\n'
    (one / "grpcx_load_conflict.proto").write_text(header + "message A { int32 x = 1; }\n")
    (two / "grpcx_load_rival.proto").write_text(header + "message A { string x = 1; }\n")
    grpcx.protos.load(one / "grpcx_load_conflict.proto")
    with pytest.raises(grpcx.protos.ProtoError) as error:
        grpcx.protos.load(two / "grpcx_load_rival.proto")
    message = str(error.value)
    assert message.startswith(f"{two / 'grpcx_load_rival.proto'}: ")
    assert "grpcx_codegen_test.conflict.A is already defined by" in message
    assert str(one / "grpcx_load_conflict.proto") in message


def test_syntax_error_has_file_line_and_message(tmp_path: Path) -> None:
    broken = tmp_path / "grpcx_load_broken.proto"
    broken.write_text('syntax = "proto3";\nmessage Broken {\n  strin x = 1;\n}\n')
    with pytest.raises(grpcx.protos.ProtoError) as error:
        grpcx.protos.load(broken)
    [diagnostic] = error.value.diagnostics
    # protoc names the file by its path on disk, which editors can open.
    assert (diagnostic.file, diagnostic.line, diagnostic.column) == (str(broken), 3, 3)
    assert '"strin" is not defined' in diagnostic.message
    assert str(error.value).startswith(f"{broken}:3:3: ")


def test_missing_file() -> None:
    with pytest.raises(grpcx.protos.ProtoError, match=r"grpcx_no_such_file\.proto"):
        grpcx.protos.load("grpcx_no_such_file.proto", include=[str(PROTOS)])


def test_changed_file_cannot_replace_a_loaded_one(tmp_path: Path) -> None:
    proto = tmp_path / "grpcx_load_changing.proto"
    proto.write_text('syntax = "proto3";\npackage grpcx_codegen_test.changing;\nmessage A {}\n')
    grpcx.protos.load(proto)
    proto.write_text(
        'syntax = "proto3";\npackage grpcx_codegen_test.changing;\nmessage A { int32 x = 1; }\n'
    )
    with pytest.raises(grpcx.protos.ProtoError, match="already loaded") as error:
        grpcx.protos.load(proto)
    assert str(error.value).count(str(proto)) == 2  # the file loaded, the file loading
