"""The floor run: ``GRPCX_MIN_DEPS=1`` (set by ``make test-min-deps``).

That run has the lowest protobuf and googleapis-common-protos that ``pyproject.toml``
declares (see ``tests/min_deps.py``) and no grpcio-tools, grpcio or mypy. It leaves out:

* the tests that need what it lacks: ``codegen`` runs grpcio-tools' protoc and imports
  the ``_pb2`` modules it writes (protobuf 7.35 code, which an older runtime refuses),
  ``interop`` talks to grpcio, ``bench`` to grpcio and grpclib;
* ``http2``, whose code (``src/grpcx/http2``) imports neither protobuf nor google.rpc, so
  the floor cannot change its outcome; it is the slowest directory (minutes), and the
  main run covers it. The check below keeps that claim true.

Everything else (the gRPC rules, the asyncio driver, status details, the demo) uses only
grpcx, the well-known types and ``google.rpc``, and must pass on the floor.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

NEED_NEWER_THAN_THE_FLOOR = ["codegen", "interop", "bench"]
FLOOR_INDEPENDENT = ["http2"]
_GOOGLE_IMPORT = re.compile(r"^\s*(?:from|import)\s+google\b", re.MULTILINE)
_HTTP2_SRC = Path(__file__).parents[1] / "src" / "grpcx" / "http2"

MIN_DEPS = os.environ.get("GRPCX_MIN_DEPS") == "1"
collect_ignore = [*NEED_NEWER_THAN_THE_FLOOR, *FLOOR_INDEPENDENT] if MIN_DEPS else []


def pytest_configure(config: pytest.Config) -> None:
    if not MIN_DEPS:
        return
    importers = sorted(
        path.name for path in _HTTP2_SRC.rglob("*.py") if _GOOGLE_IMPORT.search(path.read_text())
    )
    if importers:
        raise pytest.UsageError(
            f"src/grpcx/http2 now imports protobuf or google.rpc ({', '.join(importers)}): "
            "remove 'http2' from FLOOR_INDEPENDENT in tests/conftest.py so the floor run "
            "tests it"
        )
