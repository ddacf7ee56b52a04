"""gRPC status codes, the error users see, and the mappings from HTTP/2 and HTTP.

The codes and their names are those of grpc/grpc ``doc/statuscodes.md``. The two mapping
functions implement ``doc/PROTOCOL-HTTP2.md`` ("Errors": RST_STREAM error code to gRPC
status) and ``doc/http-grpc-status-mapping.md`` (HTTP status to gRPC status, used only
when a response carries no ``grpc-status``).

``grpc-status-details-bin`` carries a serialized ``google.rpc.Status``; its ``code`` must
equal ``grpc-status``. When a peer sends details whose code disagrees, grpcx trusts
``grpc-status`` (the field every implementation sends and checks) and drops the details
rather than hand the application two contradicting statuses: see
:func:`decode_status_details`.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

from grpcx.metadata import Metadata

if TYPE_CHECKING:
    from google.rpc.status_pb2 import Status

__all__ = [
    "RpcError",
    "StatusCode",
    "decode_status_details",
    "encode_status_details",
    "status_from_http2_error",
    "status_from_http_status",
]


class StatusCode(IntEnum):
    """The 17 gRPC status codes (``doc/statuscodes.md``), with their canonical names."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16

    # An IntEnum (the value goes on the wire as is, and compares with ints) that still
    # prints as its name: since Python 3.11, str() and format() of an IntEnum give the
    # bare number, so ``print(error.code())`` would show ``3``.
    def __str__(self) -> str:
        return f"StatusCode.{self.name}"

    __repr__ = __str__

    def __format__(self, format_spec: str) -> str:
        """The name, as :func:`str` gives it; a numeric spec (``{code:d}``) gives the number."""
        if format_spec and format_spec[-1] in _NUMERIC_FORMATS:
            return int.__format__(self, format_spec)
        return format(str(self), format_spec)


_NUMERIC_FORMATS = frozenset("bcdoxXn")


class RpcError(Exception):
    """A call ended with a non-OK status.

    As in grpcio (whose ``RpcError`` is also a ``Call``), the status is read with methods:
    [`code()`][grpcx.RpcError.code] and [`details()`][grpcx.RpcError.details] are the call's
    ``grpc-status`` and (decoded) ``grpc-message``,
    [`initial_metadata()`][grpcx.RpcError.initial_metadata] and
    [`trailing_metadata()`][grpcx.RpcError.trailing_metadata] the custom
    metadata the server sent. ``status_details`` is the decoded ``google.rpc.Status`` from
    ``grpc-status-details-bin``, or None.
    """

    status_details: Status | None
    """The decoded ``google.rpc.Status`` from ``grpc-status-details-bin``, or None."""

    def __init__(
        self,
        code: StatusCode,
        details: str = "",
        trailing_metadata: Metadata | None = None,
        status_details: Status | None = None,
        *,
        initial_metadata: Metadata | None = None,
    ) -> None:
        super().__init__(code, details)
        self._code = code
        self._details = details
        self._trailing_metadata = Metadata() if trailing_metadata is None else trailing_metadata
        self._initial_metadata = Metadata() if initial_metadata is None else initial_metadata
        self.status_details = status_details

    def code(self) -> StatusCode:
        """The status code (never OK)."""
        return self._code

    def details(self) -> str:
        """The status message, ``""`` if the server sent none."""
        return self._details

    def initial_metadata(self) -> Metadata:
        """The server's initial metadata; empty if it sent none (or the call never began)."""
        return self._initial_metadata

    def trailing_metadata(self) -> Metadata:
        """The server's custom trailing metadata (without ``grpc-status`` and the like)."""
        return self._trailing_metadata

    def __str__(self) -> str:
        return f"{self._code}: {self._details}" if self._details else str(self._code)

    def __repr__(self) -> str:
        return f"RpcError({self._code!r}, {self._details!r})"


def encode_status_details(status: Status) -> bytes:
    """Serialize a ``google.rpc.Status`` for ``grpc-status-details-bin``.

    The header value is the serialized message; base64 is applied by the ``-bin``
    metadata encoding, not here.
    """
    return status.SerializeToString()


def decode_status_details(data: bytes, code: StatusCode) -> Status | None:
    """Parse ``grpc-status-details-bin`` received with ``grpc-status`` *code*.

    Returns None when *data* is not a valid ``google.rpc.Status`` or when its ``code``
    differs from *code*: ``grpc-status`` is authoritative and contradicting details are
    dropped rather than allowed to fail the call.
    """
    from google.protobuf.message import DecodeError
    from google.rpc.status_pb2 import Status

    status = Status()
    try:
        status.ParseFromString(data)
    except DecodeError:
        return None
    if status.code != code:
        return None
    return status


# doc/PROTOCOL-HTTP2.md "Errors". CANCEL maps to CANCELLED (the client side turns it into
# DEADLINE_EXCEEDED itself when its deadline has passed). STREAM_CLOSED has no mapping in
# the table and HTTP_1_1_REQUIRED is not listed; like grpc C-core, everything not listed
# maps to INTERNAL.
_HTTP2_ERROR_STATUS: dict[int, StatusCode] = {
    0x7: StatusCode.UNAVAILABLE,  # REFUSED_STREAM: not processed, safe to retry
    0x8: StatusCode.CANCELLED,  # CANCEL
    0xB: StatusCode.RESOURCE_EXHAUSTED,  # ENHANCE_YOUR_CALM
    0xC: StatusCode.PERMISSION_DENIED,  # INADEQUATE_SECURITY
}


def status_from_http2_error(rst_code: int) -> StatusCode:
    """Map an RST_STREAM (or GOAWAY) error code to a gRPC status code.

    Per ``doc/PROTOCOL-HTTP2.md`` "Errors": REFUSED_STREAM → UNAVAILABLE, CANCEL →
    CANCELLED, ENHANCE_YOUR_CALM → RESOURCE_EXHAUSTED, INADEQUATE_SECURITY →
    PERMISSION_DENIED, every other code (NO_ERROR included, and unknown codes) → INTERNAL.
    """
    return _HTTP2_ERROR_STATUS.get(rst_code, StatusCode.INTERNAL)


# doc/http-grpc-status-mapping.md; used only when no grpc-status was received.
_HTTP_STATUS: dict[int, StatusCode] = {
    400: StatusCode.INTERNAL,
    401: StatusCode.UNAUTHENTICATED,
    403: StatusCode.PERMISSION_DENIED,
    404: StatusCode.UNIMPLEMENTED,
    429: StatusCode.UNAVAILABLE,
    431: StatusCode.INTERNAL,
    502: StatusCode.UNAVAILABLE,
    503: StatusCode.UNAVAILABLE,
    504: StatusCode.UNAVAILABLE,
}


def status_from_http_status(http_status: int) -> StatusCode:
    """Map an HTTP ``:status`` to a gRPC status code (``doc/http-grpc-status-mapping.md``).

    Only for responses without ``grpc-status``; 200 maps to UNKNOWN because a truly OK
    response would have carried ``grpc-status: 0``.
    """
    return _HTTP_STATUS.get(http_status, StatusCode.UNKNOWN)
