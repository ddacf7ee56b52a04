"""grpcx.protos.load: messages and services from a .proto at run time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import grpcx.aio
import grpcx.protos
import grpcx.testing

from .conftest import PROTOS

LOADABLE = PROTOS / "loadable" / "grpcx_loaded_test.proto"


def test_messages_enums_and_services() -> None:
    loaded = grpcx.protos.load(LOADABLE)
    assert loaded.__name__ == "grpcx_loaded_test_pb2"
    request = loaded.HelloRequest(name="you", mood=loaded.MOOD_HAPPY)
    assert loaded.HelloRequest.FromString(request.SerializeToString()) == request
    assert loaded.Mood.Name(loaded.MOOD_HAPPY) == "MOOD_HAPPY"
    assert loaded.DESCRIPTOR.package == "grpcx_codegen_test.loaded"
    assert loaded.GreeterServicer.__abstractmethods__ == {"say_hello", "chat"}
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
    with pytest.raises(grpcx.protos.ProtoError, match="already loaded"):
        grpcx.protos.load(proto)
