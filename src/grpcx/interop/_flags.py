"""Command-line flags in the style of grpc's interop binaries (``--flag=value``)."""

from __future__ import annotations

import argparse

__all__ = ["parse_bool"]

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


def parse_bool(text: str) -> bool:
    """Parse a boolean flag value: ``true``/``false`` (also ``1``/``0``, ``yes``/``no``)."""
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
