"""Python names for proto things: methods, modules and the aliases that import them.

Three rules hold everywhere:

* A proto method's Python name is snake_case and is never a keyword, a builtin or a
  name the generated classes already use; its wire name (``/pkg.Service/Method``) is
  never changed.
* A ``.proto`` file's message module is the one protobuf's Python generator writes:
  ``a/b-c/d.proto`` becomes ``a.b_c.d_pb2`` (directories become packages, ``-`` becomes
  ``_``). grpcx's service module sits beside it as ``a.b_c.d_grpcx``.
* A module imported by generated code gets an alias starting with ``_`` (``_d_pb2``), so
  it can never collide with a generated class name.
"""

from __future__ import annotations

import builtins
import keyword
import re
from collections import Counter
from collections.abc import Iterable

__all__ = [
    "RESERVED_NAMES",
    "import_aliases",
    "message_module",
    "method_names",
    "relative_import",
    "service_module",
    "snake_case",
]

# Attributes the generated servicer and stub classes define besides their methods (none
# yet, as dunder names cannot come out of snake_case): a method must not shadow them.
_CLASS_ATTRIBUTES: frozenset[str] = frozenset()

# Never given to a method: keywords (``yield``), soft keywords (``match``), builtins
# (``print``, ``id``) and the classes' own attributes.
RESERVED_NAMES = frozenset(
    {*keyword.kwlist, *keyword.softkwlist, *dir(builtins), *_CLASS_ATTRIBUTES}
)

# A word boundary before an upper-case letter that follows a lower-case letter or digit
# (``sayHello``), or that starts a capitalised word after an acronym (``HTTPServer``).
_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake_case(name: str) -> str:
    """``SayHello`` -> ``say_hello``; ``GetHTTPStatus`` -> ``get_http_status``."""
    words = _BOUNDARY.sub("_", name).lower()
    return re.sub(r"_+", "_", words)


def method_names(proto_names: list[str]) -> dict[str, str]:
    """The Python name of each method of one service, by proto name.

    Each is :func:`snake_case`, with ``_`` appended while it is reserved, starts with an
    underscore pair (which Python would mangle or treat as special) or is taken by an
    earlier method of the service (``GetFoo`` and ``get_foo`` may both exist).
    """
    taken: set[str] = set()
    names: dict[str, str] = {}
    for proto_name in proto_names:
        python_name = snake_case(proto_name).lstrip("_") or "method"
        if python_name[0].isdigit():
            python_name = "method_" + python_name
        while python_name in RESERVED_NAMES or python_name in taken:
            python_name += "_"
        taken.add(python_name)
        names[proto_name] = python_name
    return names


def _module_base(proto_file: str) -> str:
    return proto_file.removesuffix(".proto").replace("-", "_").replace("/", ".")


def message_module(proto_file: str) -> str:
    """protobuf's module for a ``.proto`` file: ``a/b/c.proto`` -> ``a.b.c_pb2``."""
    return _module_base(proto_file) + "_pb2"


def service_module(proto_file: str) -> str:
    """grpcx's module for a ``.proto`` file: ``a/b/c.proto`` -> ``a.b.c_grpcx``."""
    return _module_base(proto_file) + "_grpcx"


def import_aliases(modules: Iterable[str]) -> dict[str, str]:
    """A private, collision-free alias for each module imported by one generated module.

    ``a.b.c_pb2`` is ``_c_pb2`` unless another module also ends in ``c_pb2``; then
    each such module gets its whole name, mangled: ``_a_dot_b_dot_c__pb2``.
    """
    modules = sorted(set(modules))
    last = Counter(module.rpartition(".")[2] for module in modules)
    aliases = {}
    for module in modules:
        name = module.rpartition(".")[2]
        if last[name] > 1:
            name = module.replace("_", "__").replace(".", "_dot_")
        aliases[module] = "_" + name
    return aliases


def relative_import(from_module: str, target: str) -> tuple[str, str]:
    """``(package, name)`` for ``from <package> import <name>`` of ``target`` in
    ``from_module``, as a relative import: ``("..b", "c_pb2")``."""
    here = from_module.split(".")[:-1]
    *target_package, name = target.split(".")
    common = 0
    while common < min(len(here), len(target_package)) and here[common] == target_package[common]:
        common += 1
    dots = "." * (len(here) - common + 1)
    return dots + ".".join(target_package[common:]), name
