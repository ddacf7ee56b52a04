"""The generated corpus imports, registers and serves; its stubs call it for real."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import grpcx
import grpcx.aio
import grpcx.testing
from grpcx import Cardinality, StatusCode


def _modules(out: Path) -> list[str]:
    return sorted(
        path.relative_to(out).with_suffix("").as_posix().replace("/", ".")
        for path in out.rglob("*.py")
    )


def test_every_module_imports(generated: Path) -> None:
    modules = _modules(generated)
    assert "grpcx_codegen_test.nested.deep.router_grpcx" in modules
    # A file without services gets message modules only.
    assert "grpcx_codegen_test.messages_only_pb2" in modules
    assert "grpcx_codegen_test.messages_only_grpcx" not in modules
    for name in modules:
        importlib.import_module(name)
    for path in generated.rglob("*_pb2.py"):
        assert path.with_suffix(".pyi").is_file()


PYTHON_NAMES = {
    "Echo": "echo",
    "Unpack": "unpack",
    "Count": "count",
    "Relay": "relay",
    "Now": "now",
    "Wait": "wait",
    "class": "class_",
    "Yield": "yield_",
    "Print": "print_",
    "None": "none",
    "Type": "type_",
    "Channel": "channel",
    "GetHTTPStatus": "get_http_status",
    "get_http_status": "get_http_status_",
    "OldWay": "old_way",
}
# Methods of Router taking and returning Local, implemented alike.
LOCAL_METHODS = list(PYTHON_NAMES.values())[6:]


def test_method_names_are_pythonic_and_paths_are_the_protos(generated: Path) -> None:
    router = _router_module()
    assert all(name in vars(router.RouterServicer) for name in PYTHON_NAMES.values())
    servicer = _make_router()
    service = servicer.__grpcx_service__()
    assert service.name == "grpcx_codegen_test.nested.deep.Router"
    assert list(service.methods) == list(PYTHON_NAMES)
    for proto_name, method in service.methods.items():
        assert method.handler == getattr(servicer, PYTHON_NAMES[proto_name])
    assert service.methods["Unpack"].cardinality is Cardinality.UNARY_STREAM
    assert service.methods["Count"].cardinality is Cardinality.STREAM_UNARY
    assert service.methods["Relay"].cardinality is Cardinality.STREAM_STREAM
    assert set(service.paths()) == {
        f"/grpcx_codegen_test.nested.deep.Router/{name}" for name in PYTHON_NAMES
    }
    assert router.__all__ == ["RouterServicer", "RouterStub"]


def test_comments_become_docstrings(generated: Path) -> None:
    router = importlib.import_module("grpcx_codegen_test.nested.deep.router_grpcx")
    assert router.RouterServicer.echo.__doc__ == "Echoes a point (unary, imported types)."
    assert router.RouterServicer.now.__doc__ == "The time."
    doc = inspect.getdoc(router.RouterServicer)
    assert doc is not None
    assert doc.startswith("Routes points.")
    assert '"quotes", """triple quotes""", back\\slashes' in doc
    assert "deprecated" in (router.RouterServicer.old_way.__doc__ or "")
    assert "Routes points." in (router.RouterStub.__doc__ or "")


def test_methods_not_overridden_are_of_the_overriding_kind(generated: Path) -> None:
    router = _router_module()
    # What the server expects of handlers: coroutine functions for a single response,
    # async generator functions for a stream.
    for name in ("echo", "count", "now"):
        assert inspect.iscoroutinefunction(getattr(router.RouterServicer, name)), name
    for name in ("unpack", "relay"):
        assert inspect.isasyncgenfunction(getattr(router.RouterServicer, name)), name
    # An empty service has nothing to implement.
    twins = importlib.import_module("grpcx_codegen_test.twins_grpcx")
    service = twins.NothingServicer().__grpcx_service__()
    assert service.name == "grpcx_codegen_test.twins.Nothing"
    assert service.methods == {}


async def test_methods_not_overridden_answer_unimplemented(generated: Path) -> None:
    router = _router_module()
    types = importlib.import_module("grpcx_codegen_test.common.types_pb2")
    from google.protobuf import empty_pb2

    class EchoOnly(router.RouterServicer):  # type: ignore[misc]
        async def echo(self, request: Any, context: grpcx.aio.ServicerContext) -> Any:
            return request

    server = grpcx.aio.Server()
    server.add_service(EchoOnly())
    port = await server.add_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpcx.aio.Channel(f"127.0.0.1:{port}") as channel:
            stub = router.RouterStub(channel)
            point = types.Point(x=1)
            assert await stub.echo(point) == point
            calls = {
                "Now": lambda: stub.now(empty_pb2.Empty()),
                "Unpack": lambda: _drain(stub.unpack(types.Envelope())),
                "Count": lambda: stub.count([point]),
                "Relay": lambda: _drain(stub.relay([point])),
            }
            for proto_name, call in calls.items():
                with pytest.raises(grpcx.RpcError) as error:
                    await call()
                assert error.value.code() is StatusCode.UNIMPLEMENTED, proto_name
                path = f"/grpcx_codegen_test.nested.deep.Router/{proto_name}"
                assert error.value.details() == f"Method not implemented: {path}"
    finally:
        await server.stop(0)


async def _drain(responses: AsyncIterator[Any]) -> list[Any]:
    return [response async for response in responses]


# ------------------------------------------------------------------ a live server


def _router_module() -> Any:
    return importlib.import_module("grpcx_codegen_test.nested.deep.router_grpcx")


def _make_router() -> Any:
    router = _router_module()
    types = importlib.import_module("grpcx_codegen_test.common.types_pb2")
    deep = importlib.import_module("grpcx_codegen_test.nested.deep.router_pb2")
    from google.protobuf import struct_pb2, timestamp_pb2, wrappers_pb2

    class Router(router.RouterServicer):  # type: ignore[misc]
        async def echo(self, request: Any, context: grpcx.aio.ServicerContext) -> Any:
            return request

        async def unpack(
            self, request: Any, context: grpcx.aio.ServicerContext
        ) -> AsyncIterator[Any]:
            for item in request.items:
                yield item

        async def count(self, request_iterator: AsyncIterator[Any], context: Any) -> Any:
            return wrappers_pb2.Int64Value(value=len([p async for p in request_iterator]))

        async def relay(
            self, request_iterator: AsyncIterator[Any], context: Any
        ) -> AsyncIterator[Any]:
            async for point in request_iterator:
                yield types.Point(x=point.y, y=point.x)

        async def now(self, request: Any, context: Any) -> Any:
            return timestamp_pb2.Timestamp(seconds=42)

        async def wait(self, request: Any, context: Any) -> Any:
            result = struct_pb2.Struct()
            result["seconds"] = request.seconds
            return result

    def local_method(name: str) -> Any:
        async def handler(self: Any, request: Any, context: Any) -> Any:
            return deep.Local(text=f"{name}:{request.text}", where=request.where)

        return handler

    # The other methods, alike: one handler per name.
    namespace = {name: local_method(name) for name in LOCAL_METHODS}
    return type("FullRouter", (Router,), namespace)()


async def _exercise(channel: grpcx.aio.Channel) -> None:
    router = _router_module()
    types = importlib.import_module("grpcx_codegen_test.common.types_pb2")
    deep = importlib.import_module("grpcx_codegen_test.nested.deep.router_pb2")
    from google.protobuf import duration_pb2, empty_pb2

    stub = router.RouterStub(channel)
    point = types.Point(x=1, y=2, color=types.COLOR_RED)
    assert await stub.echo(point) == point
    envelope = types.Envelope(
        items=[types.Envelope.Inner(text="a"), types.Envelope.Inner(text="b", count=2)]
    )
    assert [item.text async for item in stub.unpack(envelope)] == ["a", "b"]
    assert (await stub.count([point, point, point])).value == 3
    swapped = [p async for p in stub.relay([types.Point(x=1, y=2), types.Point(x=3, y=4)])]
    assert [(p.x, p.y) for p in swapped] == [(2, 1), (4, 3)]
    assert (await stub.now(empty_pb2.Empty())).seconds == 42
    assert (await stub.wait(duration_pb2.Duration(seconds=5)))["seconds"] == 5
    for name in LOCAL_METHODS:
        reply = await getattr(stub, name)(deep.Local(text="x", where=point))
        assert (reply.text, reply.where) == (f"{name}:x", point)


async def test_stubs_call_servicers_in_memory(generated: Path) -> None:
    server = grpcx.aio.Server()
    server.add_service(_make_router())
    async with grpcx.testing.in_memory_channel(server) as channel:
        await _exercise(channel)


async def test_stubs_call_servicers_over_tcp(generated: Path) -> None:
    server = grpcx.aio.Server()
    server.add_service(_make_router())
    port = await server.add_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpcx.aio.Channel(f"127.0.0.1:{port}") as channel:
            await _exercise(channel)
    finally:
        await server.stop(0)


async def test_two_services_with_the_same_method_names(generated: Path) -> None:
    twins = importlib.import_module("grpcx_codegen_test.twins_grpcx")
    messages = importlib.import_module("grpcx_codegen_test.twins_pb2")
    types = importlib.import_module("grpcx_codegen_test.common.types_pb2")

    class Alpha(twins.AlphaServicer):  # type: ignore[misc]
        async def get(self, request: Any, context: Any) -> Any:
            return messages.Value(name="alpha:" + request.name)

        async def put(self, request: Any, context: Any) -> Any:
            return messages.Key(name=request.name)

    class Beta(twins.BetaServicer):  # type: ignore[misc]
        async def get(self, request: Any, context: Any) -> Any:
            return messages.Value(name="beta:" + request.name)

        async def put(self, request: Any, context: Any) -> Any:
            return types.Point(x=len(request.data))

    server = grpcx.aio.Server()
    for servicer in (Alpha(), Beta(), twins.NothingServicer()):
        server.add_service(servicer)
    async with grpcx.testing.in_memory_channel(server) as channel:
        alpha, beta = twins.AlphaStub(channel), twins.BetaStub(channel)
        assert (await alpha.get(messages.Key(name="k"))).name == "alpha:k"
        assert (await beta.get(messages.Key(name="k"))).name == "beta:k"
        assert (await alpha.put(messages.Value(name="v"))).name == "v"
        assert (await beta.put(messages.Value(data=b"abc"))).x == 3
        twins.NothingStub(channel)


async def test_proto2_service(generated: Path) -> None:
    legacy = importlib.import_module("grpcx_codegen_test.legacy_grpcx")
    messages = importlib.import_module("grpcx_codegen_test.legacy_pb2")

    class Ledger(legacy.LedgerServicer):  # type: ignore[misc]
        async def record(self, request: Any, context: Any) -> Any:
            return messages.Entry.Receipt(accepted=request.cents == 100)

        async def replay(self, request: Any, context: Any) -> AsyncIterator[Any]:
            yield request
            yield messages.Entry(account=request.account, cents=1)

    server = grpcx.aio.Server()
    server.add_service(Ledger())
    async with grpcx.testing.in_memory_channel(server) as channel:
        stub = legacy.LedgerStub(channel)
        assert (await stub.record(messages.Entry(account="a"))).accepted
        entries = [e async for e in stub.replay(messages.Entry(account="a", cents=5))]
        assert [e.cents for e in entries] == [5, 1]
        # proto2's required field is enforced when serializing.
        with pytest.raises(Exception, match="required"):
            await stub.record(messages.Entry())


async def test_unimplemented_method_is_the_servers_answer(generated: Path) -> None:
    twins = importlib.import_module("grpcx_codegen_test.twins_grpcx")
    messages = importlib.import_module("grpcx_codegen_test.twins_pb2")
    server = grpcx.aio.Server()  # serves nothing
    async with grpcx.testing.in_memory_channel(server) as channel:
        with pytest.raises(grpcx.RpcError) as error:
            await twins.AlphaStub(channel).get(messages.Key())
    assert error.value.code() is StatusCode.UNIMPLEMENTED
