"""The ``grpcx`` command: one subcommand per module of this package.

``grpcx generate`` is the first (``grpcx --version`` prints ``grpcx <version>``). A
subcommand is a module with ``add_parser(subparsers)`` that registers its arguments and
sets ``run`` (taking the parsed arguments, returning an exit status) as the parser's
default; adding one is adding it to ``_COMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from collections.abc import Sequence

import grpcx
from grpcx.cli import generate

__all__ = ["main", "version"]

_COMMANDS = (generate,)


def version() -> str:
    """The installed distribution's version; the package's ``__version__`` when grpcx
    runs without being installed (from a source tree on ``PYTHONPATH``)."""
    try:
        return importlib.metadata.version("grpcx")
    except importlib.metadata.PackageNotFoundError:
        return grpcx.__version__


def build_parser() -> argparse.ArgumentParser:
    """The parser of the whole ``grpcx`` command."""
    parser = argparse.ArgumentParser(prog="grpcx", description="gRPC for Python.")
    parser.add_argument(
        "--version", action="version", version=f"grpcx {version()}", help="print the version"
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for command in _COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``grpcx`` with ``argv`` (default: the process's arguments)."""
    args = build_parser().parse_args(argv)
    status: int = args.run(args)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
