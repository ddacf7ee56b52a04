"""What ``make test-min-deps`` installs: grpcx's runtime dependencies at their floors.

Prints pip requirements, one a line: every ``[project] dependencies`` entry of
``pyproject.toml`` pinned at its declared lower bound (``protobuf>=5.26`` becomes
``protobuf==5.26``), then the ``test`` extra's tools that the floor run needs. Reading
the pins from ``pyproject.toml`` keeps them from drifting from what grpcx declares.

Left out of the test tools: those that need a newer protobuf than the floor
(grpcio-tools, mypy-protobuf, types-protobuf) or serve only tests left out of the floor
run (grpcio, for the interop peer), and the linters (mypy, ruff). ``tests/conftest.py``
leaves out the tests that need them when ``GRPCX_MIN_DEPS`` is set.

Usage: ``python tests/min_deps.py [pyproject.toml]``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the test extra brings tomli.
    import tomli as tomllib

NOT_FOR_THE_FLOOR = frozenset(
    {"grpcio-tools", "mypy-protobuf", "types-protobuf", "grpcio", "mypy", "ruff", "tomli"}
)
_FLOOR = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*>=\s*(?P<version>[\w.]+)$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")


def requirements(pyproject: Path) -> list[str]:
    """The pinned runtime dependencies, then the test tools of the floor run."""
    project = tomllib.loads(pyproject.read_text())["project"]
    pinned = []
    for dependency in project["dependencies"]:
        match = _FLOOR.match(dependency.strip())
        if match is None:
            raise SystemExit(
                f"{pyproject}: cannot pin {dependency!r} at its floor: write runtime "
                "dependencies as 'name>=version', the version being the oldest one tested"
            )
        pinned.append(f"{match['name']}=={match['version']}")
    tools = []
    for requirement in project["optional-dependencies"]["test"]:
        name = _NAME.match(requirement)
        if name is None or name[0].lower() not in NOT_FOR_THE_FLOOR:
            tools.append(requirement)
    return pinned + tools


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parents[1] / "pyproject.toml"
    print("\n".join(requirements(path)))
