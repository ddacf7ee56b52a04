"""grpc-timeout codec."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grpcx.protocol.errors import ProtocolStatusError
from grpcx.protocol.timeout import TimeoutFormatError, decode_timeout, encode_timeout
from grpcx.status import StatusCode


@pytest.mark.parametrize(
    ("seconds", "wire"),
    [
        (1e-9, b"1n"),
        (1e-10, b"1n"),  # a positive timeout never becomes 0n
        (0.099999999, b"99999999n"),
        (0.1, b"100000u"),
        (1, b"1000000u"),
        (1.5, b"1500000u"),
        (99.999999, b"99999999u"),
        (100, b"100000m"),
        (99_999.999, b"99999999m"),
        (100_000, b"100000S"),
        (100_000.0001, b"100001S"),  # rounded up, never shortened
        (99_999_999, b"99999999S"),
        (100_000_000, b"1666667M"),
        (99_999_999 * 60, b"99999999M"),
        (99_999_999 * 60 + 1, b"1666667H"),
        (99_999_999 * 3600, b"99999999H"),
        (1e20, b"99999999H"),
        (math.inf, b"99999999H"),
        (0, b"0n"),
        (-5, b"0n"),
    ],
)
def test_encode(seconds: float, wire: bytes) -> None:
    assert encode_timeout(seconds) == wire


def test_encode_nan() -> None:
    with pytest.raises(ValueError):
        encode_timeout(math.nan)


@pytest.mark.parametrize(
    ("wire", "seconds"),
    [
        (b"1n", 1e-9),
        (b"100m", 0.1),
        (b"1u", 1e-6),
        (b"3S", 3.0),
        (b"2M", 120.0),
        (b"1H", 3600.0),
        (b"0S", 0.0),
        (b"00000001S", 1.0),
        (b"99999999H", 99_999_999 * 3600.0),
    ],
)
def test_decode(wire: bytes, seconds: float) -> None:
    assert decode_timeout(wire) == seconds


@pytest.mark.parametrize(
    "wire",
    [b"", b"S", b"1", b"1s", b"1x", b"123456789S", b"-1S", b"+1S", b" 1S", b"1.5S", b"\xd9\xa1S"],
)
def test_decode_malformed(wire: bytes) -> None:
    with pytest.raises(TimeoutFormatError) as info:
        decode_timeout(wire)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, ProtocolStatusError)
    assert info.value.code is StatusCode.INTERNAL


@given(st.floats(min_value=1e-9, max_value=99_999_999 * 3600.0))
def test_round_trip_never_shortens(seconds: float) -> None:
    wire = encode_timeout(seconds)
    assert 2 <= len(wire) <= 9
    decoded = decode_timeout(wire)
    # Rounded to the nanosecond first, then only ever up.
    assert decoded >= seconds - 0.5e-9 - seconds * 1e-15
    # ...by less than one unit of the chosen unit, and a coarser unit is only chosen
    # when the finer value has 9 digits, so the coarser one is at least 10**5.
    assert decoded - seconds <= seconds * 1e-5 + 1e-9


@given(st.integers(0, 99_999_999), st.sampled_from(list("HMSmun")))
def test_decode_all_well_formed(value: int, unit: str) -> None:
    assert decode_timeout(f"{value}{unit}".encode()) >= 0
