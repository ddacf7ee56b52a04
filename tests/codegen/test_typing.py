"""mypy --strict over programs using the generated code: right passes, wrong fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import generate

GOOD = """
from collections.abc import AsyncIterator

import grpcx.aio
from google.protobuf import empty_pb2, timestamp_pb2, wrappers_pb2
from grpcx_codegen_test.common.types_pb2 import Envelope, Point
from grpcx_codegen_test.nested.deep import router_grpcx
from grpcx_codegen_test.nested.deep.router_pb2 import Local
from grpcx_codegen_test.twins_grpcx import NothingServicer


class Router(router_grpcx.RouterServicer):
    async def echo(self, request: Point, context: grpcx.aio.ServicerContext) -> Point:
        return request

    async def unpack(
        self, request: Envelope, context: grpcx.aio.ServicerContext
    ) -> AsyncIterator[Envelope.Inner]:
        for item in request.items:
            yield item

    async def count(
        self, request_iterator: AsyncIterator[Point], context: grpcx.aio.ServicerContext
    ) -> wrappers_pb2.Int64Value:
        return wrappers_pb2.Int64Value(value=len([p async for p in request_iterator]))

    async def relay(
        self, request_iterator: AsyncIterator[Point], context: grpcx.aio.ServicerContext
    ) -> AsyncIterator[Point]:
        async for point in request_iterator:
            yield point


async def call(channel: grpcx.aio.Channel) -> None:
    stub = router_grpcx.RouterStub(channel)
    point: Point = await stub.echo(Point(x=1))
    inner: list[Envelope.Inner] = [i async for i in stub.unpack(Envelope())]
    total: wrappers_pb2.Int64Value = await stub.count([point, point])
    relayed: list[Point] = [p async for p in stub.relay([point])]
    now: timestamp_pb2.Timestamp = await stub.now(empty_pb2.Empty(), timeout=1.0)
    local: Local = await stub.class_(Local(text="x"))
    print(point.x, inner, total.value, relayed, now.seconds, local.text)


async def read_until_eof(channel: grpcx.aio.Channel) -> list[str]:
    # `is grpcx.aio.EOF` narrows: after the break, reply is an Envelope.Inner.
    call = router_grpcx.RouterStub(channel).unpack(Envelope())
    texts = []
    while True:
        reply = await call.read()
        if reply is grpcx.aio.EOF:
            break
        texts.append(reply.text)
    return texts


def serve(server: grpcx.aio.Server) -> None:
    server.add_service(NothingServicer())
    # Router implements 4 of its methods; the others answer UNIMPLEMENTED.
    server.add_service(Router())
"""

BAD = """
from collections.abc import AsyncIterator

import grpcx.aio
from grpcx_codegen_test.common.types_pb2 import Point
from grpcx_codegen_test.nested.deep import router_grpcx
from grpcx_codegen_test.nested.deep.router_pb2 import Local


class Router(router_grpcx.RouterServicer):
    async def echo(self, request: Local, context: grpcx.aio.ServicerContext) -> Point:
        return Point()


async def call(channel: grpcx.aio.Channel) -> None:
    stub = router_grpcx.RouterStub(channel)
    await stub.echo(Local())
    reply = await stub.class_(Local())
    count: int = reply.text
    await stub.yield_(Local())


class Counter(router_grpcx.RouterServicer):
    async def count(self, request_iterator: AsyncIterator[Point], context: object) -> Point:
        return Point()
"""


def test_mypy_strict_accepts_right_and_rejects_wrong_use(generated: Path, tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text(GOOD)
    (tmp_path / "bad.py").write_text(BAD)
    env = dict(os.environ, MYPYPATH=str(generated))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--warn-unreachable",
            "--no-error-summary",
            "--cache-dir",
            str(tmp_path / "cache"),
            "good.py",
            "bad.py",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert not [line for line in errors if not line.startswith("bad.py")], result.stdout
    expected = [
        # The override takes the wrong request type.
        ('bad.py:11: error: Argument 1 of "echo" is incompatible', "[override]"),
        # The stub is called with the wrong request type.
        ('bad.py:17: error: Argument 1 to "__call__" of "UnaryUnaryMethod"', '"Point"'),
        # The reply's type is known.
        ("bad.py:19: error: Incompatible types in assignment", '"str"'),
        # An override returns the wrong type.
        ('bad.py:24: error: Return type "Coroutine[Any, Any, Point]" of "count"', "[override]"),
    ]
    for start, fragment in expected:
        assert any(line.startswith(start) and fragment in line for line in errors), result.stdout
    assert len(errors) == len(expected), result.stdout


IN_THE_SOURCE_TREE = """
import grpcx.aio
from grpcx_codegen_test import twins_grpcx
from grpcx_codegen_test.common.types_pb2 import Point
from grpcx_codegen_test.twins_pb2 import Key, Value


class Beta(twins_grpcx.BetaServicer):
    async def get(self, request: Key, context: grpcx.aio.ServicerContext) -> Value:
        return Value(name=request.name)

    async def put(self, request: Value, context: grpcx.aio.ServicerContext) -> Point:
        return Point(x=len(request.data))


async def call(channel: grpcx.aio.Channel) -> int:
    point = await twins_grpcx.BetaStub(channel).put(Value(data=b"xy"))
    return point.x
"""


def test_generated_into_the_source_tree_type_checks_with_the_application(
    tmp_path: Path,
) -> None:
    """The README's layout: generated with ``--out src`` beside the application's package
    (the packages' ``__init__.py`` written by ``grpcx generate``), one ``mypy --strict
    src`` checks the application and the generated code, with no MYPYPATH."""
    src = tmp_path / "src"
    (src / "app").mkdir(parents=True)
    (src / "app" / "__init__.py").write_text("")
    (src / "app" / "service.py").write_text(IN_THE_SOURCE_TREE)
    files = ["grpcx_codegen_test/twins.proto", "grpcx_codegen_test/common/types.proto"]
    generate(src, files=files)
    env = {key: value for key, value in os.environ.items() if key != "MYPYPATH"}
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"), "src"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout
    assert "no issues found in 7 source files" in result.stdout  # app and generated code
