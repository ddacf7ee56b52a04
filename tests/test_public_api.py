"""The public surface: what grpcx and grpcx.aio export exists and is documented."""

from __future__ import annotations

import copy
import importlib
import inspect
import pickle

import pytest

import grpcx
import grpcx.aio


@pytest.mark.parametrize("module_name", ["grpcx", "grpcx.aio", "grpcx.testing", "grpcx.protos"])
def test_exports_exist_and_are_documented(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert module.__doc__, f"{module_name} has no docstring"
    names = getattr(module, "__all__", None)
    assert names, f"{module_name} defines no __all__"
    assert len(set(names)) == len(names), "duplicate names in __all__"
    for name in names:
        assert hasattr(module, name), f"{module_name}.{name} is exported but missing"
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{module_name}.{name} has no docstring"


def test_top_level_names_users_need() -> None:
    for name in (
        "StatusCode",
        "RpcError",
        "Metadata",
        "ServiceDefinition",
        "ServicerContext",
        "unary_unary",
    ):
        assert name in grpcx.__all__
    # One class under both names: a handler annotated with either accepts the same object.
    assert grpcx.ServicerContext is grpcx.aio.ServicerContext
    assert grpcx.__version__
    for name in ("Server", "Channel", "ServicerContext", "WorkerGroup", "EOF"):
        assert name in grpcx.aio.__all__


def test_eof_is_one_readable_falsy_singleton() -> None:
    eof = grpcx.aio.EOF
    assert repr(eof) == str(eof) == "grpcx.aio.EOF"
    assert not eof
    # An enum member (what lets `is EOF` narrow under mypy), still a singleton on copy.
    assert list(type(eof)) == [eof]
    assert copy.copy(eof) is eof
    assert pickle.loads(pickle.dumps(eof)) is eof
