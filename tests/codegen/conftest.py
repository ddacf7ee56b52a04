"""The corpus of tricky protos, generated once per session with ``grpcx generate``.

Every proto of the corpus lives under the ``grpcx_codegen_test`` package: protobuf keeps
one descriptor pool per process, so no other test may define these files or packages.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from grpcx.cli import main as grpcx_main

PROTOS = Path(__file__).parent / "protos"
CORPUS = sorted(
    path.relative_to(PROTOS).as_posix() for path in (PROTOS / "grpcx_codegen_test").rglob("*.proto")
)
PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"


def generate(out: Path, *extra: str, files: list[str] = CORPUS) -> None:
    """Run ``grpcx generate`` over ``files`` (names under ``protos/``) into ``out``."""
    status = grpcx_main(["generate", "-q", "-I", str(PROTOS), "--out", str(out), *extra, *files])
    assert status == 0


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The corpus generated with absolute imports, its directory on ``sys.path``."""
    out = tmp_path_factory.mktemp("generated")
    generate(out)
    sys.path.insert(0, str(out))
    try:
        yield out
    finally:
        sys.path.remove(str(out))
