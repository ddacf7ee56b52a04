"""The ``grpc-timeout`` header codec (grpc/grpc ``doc/PROTOCOL-HTTP2.md``, "Requests").

``Timeout → TimeoutValue TimeoutUnit``: a positive integer of at most 8 ASCII digits and
one unit of ``H M S m u n``. :func:`encode_timeout` picks the most precise unit whose
value fits in 8 digits and rounds *up* to it, so a deadline sent is never shorter than
the one asked for (the choice grpc-go makes; C-core also rounds up).
"""

from __future__ import annotations

import math

from grpcx.protocol.errors import ProtocolStatusError
from grpcx.status import StatusCode

__all__ = ["TimeoutFormatError", "decode_timeout", "encode_timeout"]

_MAX_VALUE = 99_999_999  # 8 digits

# (unit, nanoseconds per unit), most precise first.
_UNITS = (
    (b"n", 1),
    (b"u", 1_000),
    (b"m", 1_000_000),
    (b"S", 1_000_000_000),
    (b"M", 60_000_000_000),
    (b"H", 3_600_000_000_000),
)
# unit byte -> (multiplier, divisor) to seconds; one exact integer product and one
# correctly rounded division, so 100m decodes to exactly 0.1.
_TO_SECONDS = {
    ord("n"): (1, 1_000_000_000),
    ord("u"): (1, 1_000_000),
    ord("m"): (1, 1_000),
    ord("S"): (1, 1),
    ord("M"): (60, 1),
    ord("H"): (3600, 1),
}
_MAX_TIMEOUT = b"99999999H"
_MAX_SECONDS = _MAX_VALUE * 3600


class TimeoutFormatError(ProtocolStatusError, ValueError):
    """A malformed ``grpc-timeout`` value; the call fails with INTERNAL (as in grpc-go)."""

    def __init__(self, value: bytes) -> None:
        super().__init__(StatusCode.INTERNAL, f"malformed grpc-timeout {value!r}")


def encode_timeout(seconds: float) -> bytes:
    """Encode a timeout in seconds as a ``grpc-timeout`` value.

    The timeout is rounded to whole nanoseconds, then up to the most precise unit that
    fits in 8 digits. Zero or negative gives ``b"0n"`` (already expired); anything from
    99999999 hours on, infinity included, is capped there. NaN raises ValueError.
    """
    if math.isnan(seconds):
        raise ValueError("timeout is NaN")
    if seconds <= 0:
        return b"0n"
    if seconds >= _MAX_SECONDS:  # also inf
        return _MAX_TIMEOUT
    # A positive timeout never encodes as 0n.
    nanoseconds = max(1, round(seconds * 1e9))
    for unit, size in _UNITS:
        value = -(-nanoseconds // size)  # ceiling division
        if value <= _MAX_VALUE:
            return b"%d%s" % (value, unit)
    raise AssertionError("unreachable: hours fit below _MAX_SECONDS")


def decode_timeout(value: bytes) -> float:
    """Decode a ``grpc-timeout`` value to seconds.

    Raises :class:`TimeoutFormatError` unless *value* is 1 to 8 ASCII digits followed by
    one of ``H M S m u n``. A value of 0 is accepted (an already expired deadline).
    """
    scale = _TO_SECONDS.get(value[-1]) if 2 <= len(value) <= 9 else None
    digits = value[:-1]
    # bytes.isdigit() is ASCII-only: no sign, space or Unicode digits get through.
    if scale is None or not digits.isdigit():
        raise TimeoutFormatError(value)
    return int(digits) * scale[0] / scale[1]
