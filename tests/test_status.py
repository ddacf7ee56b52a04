"""grpcx.status: codes, RpcError, HTTP/2 and HTTP mappings, status details."""

from __future__ import annotations

import pytest
from google.protobuf import any_pb2
from google.rpc import status_pb2

from grpcx.metadata import Metadata
from grpcx.status import (
    RpcError,
    StatusCode,
    decode_status_details,
    encode_status_details,
    status_from_http2_error,
    status_from_http_status,
)

CANONICAL = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
]


def test_codes_and_names() -> None:
    assert [(code.name, int(code)) for code in StatusCode] == [
        (name, value) for value, name in enumerate(CANONICAL)
    ]


def test_codes_match_google_rpc_code() -> None:
    from google.rpc import code_pb2

    for code in StatusCode:
        assert code_pb2.Code.Value(code.name) == code


@pytest.mark.parametrize(
    ("rst", "expected"),
    [
        (0x0, StatusCode.INTERNAL),  # NO_ERROR
        (0x1, StatusCode.INTERNAL),  # PROTOCOL_ERROR
        (0x2, StatusCode.INTERNAL),  # INTERNAL_ERROR
        (0x3, StatusCode.INTERNAL),  # FLOW_CONTROL_ERROR
        (0x4, StatusCode.INTERNAL),  # SETTINGS_TIMEOUT
        (0x5, StatusCode.INTERNAL),  # STREAM_CLOSED (no mapping)
        (0x6, StatusCode.INTERNAL),  # FRAME_SIZE_ERROR
        (0x7, StatusCode.UNAVAILABLE),  # REFUSED_STREAM
        (0x8, StatusCode.CANCELLED),  # CANCEL
        (0x9, StatusCode.INTERNAL),  # COMPRESSION_ERROR
        (0xA, StatusCode.INTERNAL),  # CONNECT_ERROR
        (0xB, StatusCode.RESOURCE_EXHAUSTED),  # ENHANCE_YOUR_CALM
        (0xC, StatusCode.PERMISSION_DENIED),  # INADEQUATE_SECURITY
        (0xD, StatusCode.INTERNAL),  # HTTP_1_1_REQUIRED (not listed)
        (0xFF, StatusCode.INTERNAL),  # unknown
    ],
)
def test_status_from_http2_error(rst: int, expected: StatusCode) -> None:
    assert status_from_http2_error(rst) is expected


@pytest.mark.parametrize(
    ("http", "expected"),
    [
        (400, StatusCode.INTERNAL),
        (401, StatusCode.UNAUTHENTICATED),
        (403, StatusCode.PERMISSION_DENIED),
        (404, StatusCode.UNIMPLEMENTED),
        (429, StatusCode.UNAVAILABLE),
        (431, StatusCode.INTERNAL),
        (502, StatusCode.UNAVAILABLE),
        (503, StatusCode.UNAVAILABLE),
        (504, StatusCode.UNAVAILABLE),
        (200, StatusCode.UNKNOWN),
        (500, StatusCode.UNKNOWN),
        (302, StatusCode.UNKNOWN),
    ],
)
def test_status_from_http_status(http: int, expected: StatusCode) -> None:
    assert status_from_http_status(http) is expected


def test_rpc_error() -> None:
    error = RpcError(StatusCode.NOT_FOUND, "no such thing")
    assert error.code() is StatusCode.NOT_FOUND
    assert error.details() == "no such thing"
    assert error.trailing_metadata() == Metadata()
    assert error.initial_metadata() == Metadata()
    assert error.status_details is None
    assert str(error) == "StatusCode.NOT_FOUND: no such thing"
    assert repr(error) == "RpcError(StatusCode.NOT_FOUND, 'no such thing')"
    assert str(RpcError(StatusCode.CANCELLED)) == "StatusCode.CANCELLED"
    trailing = Metadata([("k", "v")])
    initial = Metadata([("i", "1")])
    details = status_pb2.Status(code=5, message="m")
    error = RpcError(StatusCode.NOT_FOUND, "x", trailing, details, initial_metadata=initial)
    assert error.trailing_metadata() is trailing
    assert error.initial_metadata() is initial
    assert error.status_details is details


def test_rpc_error_reads_like_grpcio() -> None:
    # grpcio code: `except grpc.RpcError as e: if e.code() == ...: log(e.details())`.
    try:
        raise RpcError(StatusCode.INVALID_ARGUMENT, "a name is required")
    except RpcError as e:
        assert e.code() == StatusCode.INVALID_ARGUMENT
        assert f"{e.code()}: {e.details()}" == "StatusCode.INVALID_ARGUMENT: a name is required"


def test_status_code_prints_its_name_and_stays_an_int() -> None:
    code = StatusCode.INVALID_ARGUMENT
    assert str(code) == repr(code) == f"{code}" == "StatusCode.INVALID_ARGUMENT"
    assert f"{code!s:>30}" == f"{code:>30}" == "   StatusCode.INVALID_ARGUMENT"
    # The number where one is asked for (the wire, logs that want it).
    assert code == 3 and int(code) == 3
    assert f"{code:d}" == "3" and f"{code:02d}" == "03" and f"{code:x}" == "3"
    assert b"%d" % code == b"3"  # how headers.py writes grpc-status
    assert [f"{c}" for c in StatusCode][-1] == "StatusCode.UNAUTHENTICATED"


def test_status_details_round_trip() -> None:
    detail = any_pb2.Any(type_url="type.googleapis.com/x.Y", value=b"\x01\x02")
    status = status_pb2.Status(code=3, message="bad", details=[detail])
    data = encode_status_details(status)
    assert decode_status_details(data, StatusCode.INVALID_ARGUMENT) == status


def test_status_details_code_mismatch_is_dropped() -> None:
    data = encode_status_details(status_pb2.Status(code=3, message="bad"))
    assert decode_status_details(data, StatusCode.INTERNAL) is None


def test_status_details_garbage_is_dropped() -> None:
    assert decode_status_details(b"\xff\xff\xff", StatusCode.INTERNAL) is None
