"""Python names for proto methods and modules."""

from __future__ import annotations

import builtins
import keyword

import pytest

from grpcx.codegen.naming import (
    import_aliases,
    message_module,
    method_names,
    relative_import,
    service_module,
    snake_case,
)


@pytest.mark.parametrize(
    ("proto", "python"),
    [
        ("SayHello", "say_hello"),
        ("sayHello", "say_hello"),
        ("say_hello", "say_hello"),
        ("GetHTTPStatus", "get_http_status"),
        ("HTTPServer", "http_server"),
        ("Get2Things", "get2_things"),
        ("UnaryCall", "unary_call"),
        ("ABC", "abc"),
    ],
)
def test_snake_case(proto: str, python: str) -> None:
    assert snake_case(proto) == python


def test_method_names_avoid_keywords_builtins_and_each_other() -> None:
    names = method_names(["Yield", "class", "Print", "None", "Type", "Get", "GetFoo", "get_foo"])
    assert names == {
        "Yield": "yield_",
        "class": "class_",
        "Print": "print_",
        "None": "none",
        "Type": "type_",
        "Get": "get",
        "GetFoo": "get_foo",
        "get_foo": "get_foo_",
    }


def test_method_names_are_identifiers() -> None:
    names = method_names(["__Init__", "_private", "ID", "List", "Lambda", "match"])
    for name in names.values():
        assert name.isidentifier()
        assert not keyword.iskeyword(name) and not keyword.issoftkeyword(name)
        assert not hasattr(builtins, name)
        assert not name.startswith("_")


def test_modules_follow_protobuf() -> None:
    assert message_module("a/b-c/d.proto") == "a.b_c.d_pb2"
    assert service_module("a/b/d.proto") == "a.b.d_grpcx"
    assert service_module("top.proto") == "top_grpcx"


def test_import_aliases_are_short_unless_ambiguous() -> None:
    assert import_aliases(["a.b.c_pb2", "x.d_pb2"]) == {"a.b.c_pb2": "_c_pb2", "x.d_pb2": "_d_pb2"}
    assert import_aliases(["a.c_pb2", "b.c_pb2"]) == {
        "a.c_pb2": "_a_dot_c__pb2",
        "b.c_pb2": "_b_dot_c__pb2",
    }


@pytest.mark.parametrize(
    ("here", "target", "expected"),
    [
        ("a.b.c_grpcx", "a.b.c_pb2", (".", "c_pb2")),
        ("a.b.c_grpcx", "a.d.e_pb2", ("..d", "e_pb2")),
        ("a.b.c_grpcx", "z_pb2", ("...", "z_pb2")),
        ("c_grpcx", "c_pb2", (".", "c_pb2")),
        ("c_grpcx", "x.y_pb2", (".x", "y_pb2")),
    ],
)
def test_relative_import(here: str, target: str, expected: tuple[str, str]) -> None:
    assert relative_import(here, target) == expected
