"""gRPC request, response and trailer header blocks (grpc/grpc ``doc/PROTOCOL-HTTP2.md``).

Pure functions over header lists (``list[tuple[bytes, bytes]]``, names lowercase), as
the HTTP/2 core takes and gives them. The parts that never change are module-level
tuples, so building a block is mostly list concatenation.

Outcomes of parsing, by side:

- Server, :func:`parse_request_headers`: a :class:`RequestHead`, or
  :class:`RequestHeadersError` carrying the status (and the HTTP status) to answer
  with in a Trailers-Only response (:func:`build_trailers_only`).
- Client, :func:`parse_response_headers`: a :class:`ResponseHead`, or
  :class:`ProtocolStatusError` with the synthesized status of a non-gRPC response.
- Client, :func:`parse_trailers`: always a :class:`CallStatus`, synthesized when the
  trailers are not valid gRPC ones. Trailers missing altogether (the stream ended
  without them) are for the caller to report.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import unquote_to_bytes

from grpcx import __version__
from grpcx.metadata import (
    _TRANSPORT_NAME_BYTES,
    Metadata,
    MetadataError,
    MetadataValue,
    _append_wire_header,
    _decode_binary,
)
from grpcx.protocol.compression import parse_accept_encoding, request_accept_encoding
from grpcx.protocol.errors import ProtocolStatusError
from grpcx.protocol.timeout import decode_timeout, encode_timeout
from grpcx.status import RpcError, StatusCode, decode_status_details, status_from_http_status

if TYPE_CHECKING:
    from google.rpc.status_pb2 import Status

__all__ = [
    "CONTENT_TYPE",
    "USER_AGENT",
    "CallStatus",
    "RequestHead",
    "RequestHeadersError",
    "ResponseHead",
    "build_request_headers",
    "build_response_headers",
    "build_trailers",
    "build_trailers_only",
    "decode_grpc_message",
    "encode_grpc_message",
    "is_grpc_content_type",
    "parse_request_headers",
    "parse_response_headers",
    "parse_trailers",
]

CONTENT_TYPE = b"application/grpc"
"""The ``content-type`` grpcx sends (protobuf is implied, as in grpc C-core)."""

USER_AGENT = f"grpcx-python/{__version__}".encode("ascii")
"""The ``user-agent`` grpcx sends ("User Agents": ``grpc-`` Language "/" Version)."""

Headers = list[tuple[bytes, bytes]]

_REQUEST_START = {
    b"http": ((b":method", b"POST"), (b":scheme", b"http")),
    b"https": ((b":method", b"POST"), (b":scheme", b"https")),
}
_TE_TRAILERS = (b"te", b"trailers")
_DEFAULT_CONTENT_TYPE = (b"content-type", CONTENT_TYPE)
_DEFAULT_USER_AGENT = (b"user-agent", USER_AGENT)
_STATUS_200 = (b":status", b"200")
_RESPONSE_START = (_STATUS_200, _DEFAULT_CONTENT_TYPE)
# grpc-status field per code: "decimal-encoded integer ... without any leading zeros".
_STATUS_FIELDS = {code: (b"grpc-status", b"%d" % code) for code in StatusCode}
_STATUS_BY_VALUE = {b"%d" % code: code for code in StatusCode}


# --- grpc-message percent-encoding ("Responses": Percent-Encoded) -----------------------

# Percent-Byte-Unencoded is %x20-24 / %x26-7E; every other byte is "%" 2HEXDIGIT.
_PERCENT_TABLE = tuple(
    chr(byte) if 0x20 <= byte <= 0x7E and byte != 0x25 else f"%{byte:02X}" for byte in range(256)
)


def encode_grpc_message(message: str) -> bytes:
    """Percent-encode a status message for ``grpc-message``: UTF-8, then every byte
    outside ``%x20-7E`` and ``%`` itself as ``%XX``. Lone surrogates become ``?``."""
    if message.isascii() and message.isprintable() and "%" not in message:
        return message.encode("ascii")
    data = message.encode("utf-8", "replace")
    return "".join([_PERCENT_TABLE[byte] for byte in data]).encode("ascii")


def decode_grpc_message(value: bytes) -> str:
    """Decode a ``grpc-message`` value, leniently as the spec requires: invalid ``%``
    sequences are kept as they are and invalid UTF-8 becomes U+FFFD; never raises."""
    if b"%" in value:
        value = unquote_to_bytes(value)
    return value.decode("utf-8", "replace")


# --- requests -----------------------------------------------------------------------


def build_request_headers(
    path: bytes,
    authority: bytes,
    *,
    scheme: bytes = b"http",
    timeout: float | None = None,
    content_type: bytes = CONTENT_TYPE,
    encoding: str | None = None,
    accept_encoding: bytes | None = None,
    user_agent: bytes = USER_AGENT,
    metadata: Metadata | None = None,
) -> Headers:
    """Build Request-Headers ("Requests": Call-Definition, then Custom-Metadata).

    *path* is ``b"/package.Service/Method"``; *timeout* is in seconds (None: no
    deadline); *encoding* is the ``grpc-encoding`` of compressed messages (None or
    ``"identity"``: not sent); *accept_encoding* is sent as ``grpc-accept-encoding``.
    Pseudo-headers come first, then ``grpc-timeout`` as the spec recommends, then the
    rest of the Call-Definition, then *metadata*. Raises :class:`MetadataError` if
    *metadata* holds a reserved name.
    """
    headers = [*_REQUEST_START[scheme], (b":path", path), (b":authority", authority)]
    if timeout is not None:
        headers.append((b"grpc-timeout", encode_timeout(timeout)))
    headers.append(_TE_TRAILERS)
    headers.append(
        _DEFAULT_CONTENT_TYPE if content_type is CONTENT_TYPE else (b"content-type", content_type)
    )
    if encoding is not None and encoding != "identity":
        headers.append((b"grpc-encoding", encoding.encode("ascii")))
    if accept_encoding is not None:
        headers.append((b"grpc-accept-encoding", accept_encoding))
    headers.append(_DEFAULT_USER_AGENT if user_agent is USER_AGENT else (b"user-agent", user_agent))
    if metadata:
        headers += metadata.to_headers()
    return headers


class RequestHeadersError(ProtocolStatusError):
    """Request headers a server must refuse; answer with a Trailers-Only response of
    ``code``/``message`` and ``:status`` *http_status* (:func:`build_trailers_only`)."""

    http_status: int

    def __init__(self, code: StatusCode, message: str, http_status: int = 200) -> None:
        super().__init__(code, message)
        self.http_status = http_status


# The parse results are NamedTuples rather than frozen dataclasses: they are made once per
# call, and construction measured 0.73 us for the frozen dataclass against 0.25 us here.


class RequestHead(NamedTuple):
    """A parsed gRPC request header block (server side)."""

    path: str
    """The ``:path``, ``"/package.Service/Method"``."""
    service: str
    """``package.Service``."""
    method: str
    """``Method``."""
    authority: str | None
    """``:authority``, if sent."""
    content_type: str
    """The ``content-type``: ``application/grpc`` optionally with ``+subtype`` or
    parameters."""
    timeout: float | None
    """The ``grpc-timeout`` in seconds, or None for no deadline."""
    encoding: str | None
    """The ``grpc-encoding`` of compressed request messages; None if absent."""
    accept_encoding: tuple[str, ...]
    """The encodings the client accepts (``grpc-accept-encoding``); without that header,
    the standard ones (:data:`~grpcx.protocol.compression.IMPLIED_ACCEPT_ENCODING`)."""
    user_agent: str | None
    """The ``user-agent``, if sent (also left in *metadata*)."""
    metadata: Metadata
    """The custom metadata."""


def is_grpc_content_type(content_type: bytes) -> bool:
    """Whether *content_type* is ``application/grpc``, ``application/grpc+<subtype>``
    or ``application/grpc;<parameters>`` (media types are case-insensitive)."""
    if content_type == CONTENT_TYPE:
        return True
    lowered = content_type.lower()
    return lowered == CONTENT_TYPE or lowered.startswith(
        (b"application/grpc+", b"application/grpc;")
    )


def _ascii(value: bytes) -> str:
    # Header values are bytes that HTTP/2 allows to be any octets but NUL/CR/LF;
    # gRPC's own headers are ASCII, anything else is replaced rather than raised on.
    return value.decode("ascii", "replace")


def _split_fields(
    headers: Iterable[tuple[bytes, bytes]],
) -> tuple[dict[bytes, bytes], list[tuple[str, MetadataValue]]]:
    """Split a header list into pseudo-headers and gRPC's own fields, by name (the last
    one wins), and the custom metadata. ``user-agent`` is both: the server reads it, and
    it stays visible as metadata. Raises :class:`MetadataError` for a bad ``-bin`` value.
    """
    fields: dict[bytes, bytes] = {}
    items: list[tuple[str, MetadataValue]] = []
    for name, value in headers:
        if name[:1] == b":" or name in _TRANSPORT_NAME_BYTES:
            fields[name] = value
            continue
        if name == b"user-agent":
            fields[name] = value
        _append_wire_header(items, name, value)
    return fields, items


def parse_request_headers(headers: Iterable[tuple[bytes, bytes]]) -> RequestHead:
    """Parse Request-Headers on the server.

    Raises :class:`RequestHeadersError`: ``:method`` other than POST → HTTP 405
    (INTERNAL); a ``content-type`` that is not gRPC → HTTP 415 (INVALID_ARGUMENT, as
    grpc-go answers; ``doc/PROTOCOL-HTTP2.md`` asks for 415); a ``:path`` not of the
    form ``/service/method`` → UNIMPLEMENTED; a malformed ``grpc-timeout`` or ``-bin``
    value → INTERNAL.
    """
    try:
        fields, items = _split_fields(headers)
    except MetadataError as exc:
        raise RequestHeadersError(StatusCode.INTERNAL, str(exc)) from None
    method = fields.get(b":method")
    path = fields.get(b":path")
    authority = fields.get(b":authority")
    content_type = fields.get(b"content-type")
    timeout = fields.get(b"grpc-timeout")
    encoding = fields.get(b"grpc-encoding")
    accept_encoding = fields.get(b"grpc-accept-encoding")
    user_agent = fields.get(b"user-agent")

    if method != b"POST":
        raise RequestHeadersError(
            StatusCode.INTERNAL, f"gRPC requires method POST, got {method!r}", 405
        )
    if content_type is None or not is_grpc_content_type(content_type):
        raise RequestHeadersError(
            StatusCode.INVALID_ARGUMENT, f"invalid gRPC request content-type {content_type!r}", 415
        )
    path_text = _ascii(path) if path is not None else ""
    service, slash, method_name = path_text[1:].rpartition("/")
    if not (path_text[:1] == "/" and slash and service and method_name):
        raise RequestHeadersError(StatusCode.UNIMPLEMENTED, f"malformed method name {path_text!r}")
    return RequestHead(
        path=path_text,
        service=service,
        method=method_name,
        authority=_ascii(authority) if authority is not None else None,
        content_type=_ascii(content_type),
        timeout=decode_timeout(timeout) if timeout is not None else None,
        encoding=_ascii(encoding) if encoding is not None else None,
        accept_encoding=request_accept_encoding(accept_encoding),
        user_agent=_ascii(user_agent) if user_agent is not None else None,
        metadata=Metadata._from_valid_items(items),
    )


# --- responses ----------------------------------------------------------------------


def build_response_headers(
    *,
    content_type: bytes = CONTENT_TYPE,
    encoding: str | None = None,
    accept_encoding: bytes | None = None,
    metadata: Metadata | None = None,
) -> Headers:
    """Build Response-Headers: ``:status 200``, ``content-type``, the optional
    ``grpc-encoding`` / ``grpc-accept-encoding``, then the initial *metadata*."""
    if content_type is CONTENT_TYPE:
        headers = list(_RESPONSE_START)
    else:
        headers = [_STATUS_200, (b"content-type", content_type)]
    if encoding is not None and encoding != "identity":
        headers.append((b"grpc-encoding", encoding.encode("ascii")))
    if accept_encoding is not None:
        headers.append((b"grpc-accept-encoding", accept_encoding))
    if metadata:
        headers += metadata.to_headers()
    return headers


def _status_fields(
    headers: Headers,
    code: StatusCode,
    message: str,
    status_details: bytes | None,
    metadata: Metadata | None,
) -> Headers:
    headers.append(_STATUS_FIELDS[code])
    if message:
        headers.append((b"grpc-message", encode_grpc_message(message)))
    if status_details is not None:
        encoded = binascii.b2a_base64(status_details, newline=False).rstrip(b"=")
        headers.append((b"grpc-status-details-bin", encoded))
    if metadata:
        headers += metadata.to_headers()
    return headers


def build_trailers(
    code: StatusCode,
    message: str = "",
    *,
    status_details: bytes | None = None,
    metadata: Metadata | None = None,
) -> Headers:
    """Build Trailers: ``grpc-status``, ``grpc-message`` (percent-encoded, omitted when
    empty), ``grpc-status-details-bin`` (*status_details* is a serialized
    ``google.rpc.Status``, see :func:`grpcx.status.encode_status_details`), then the
    trailing *metadata*."""
    return _status_fields([], code, message, status_details, metadata)


def build_trailers_only(
    code: StatusCode,
    message: str = "",
    *,
    status_details: bytes | None = None,
    metadata: Metadata | None = None,
    http_status: int = 200,
    content_type: bytes = CONTENT_TYPE,
    accept_encoding: bytes | None = None,
) -> Headers:
    """Build a Trailers-Only response (``HTTP-Status Content-Type Trailers``), sent as
    one HEADERS block with END_STREAM for a call that fails before any response.

    *http_status* is 200 except when refusing a non-gRPC request (see
    :class:`RequestHeadersError`); *accept_encoding* is for the UNIMPLEMENTED answer to
    an unsupported ``grpc-encoding`` (``doc/compression.md``).
    """
    if http_status == 200 and content_type is CONTENT_TYPE:
        headers = list(_RESPONSE_START)
    else:
        headers = [(b":status", b"%d" % http_status), (b"content-type", content_type)]
    if accept_encoding is not None:
        headers.append((b"grpc-accept-encoding", accept_encoding))
    return _status_fields(headers, code, message, status_details, metadata)


class ResponseHead(NamedTuple):
    """Parsed Response-Headers (client side)."""

    encoding: str | None
    """The ``grpc-encoding`` of compressed response messages; None if absent."""
    accept_encoding: tuple[str, ...]
    """The encodings the server accepts (``grpc-accept-encoding``)."""
    metadata: Metadata
    """The initial metadata."""


class CallStatus(NamedTuple):
    """The status that ends a call, as received in Trailers or synthesized."""

    code: StatusCode
    message: str
    """The decoded ``grpc-message``."""
    status_details: Status | None
    """The ``google.rpc.Status`` of ``grpc-status-details-bin``, if valid and
    consistent with *code* (see :func:`grpcx.status.decode_status_details`)."""
    trailing_metadata: Metadata

    def to_error(self) -> RpcError:
        """The :class:`~grpcx.status.RpcError` for this status."""
        return RpcError(self.code, self.message, self.trailing_metadata, self.status_details)


def parse_response_headers(headers: Iterable[tuple[bytes, bytes]]) -> ResponseHead:
    """Parse Response-Headers (a HEADERS block without END_STREAM) on the client.

    Raises :class:`ProtocolStatusError` with a synthesized status ("Responses": broken
    deployments must be expected): no ``:status`` → INTERNAL; ``:status`` other than
    200 → the ``doc/http-grpc-status-mapping.md`` code; a missing or non-gRPC
    ``content-type`` → UNKNOWN; a malformed ``-bin`` value → INTERNAL. A block that ends
    the stream is Trailers-Only: parse it with ``parse_trailers(..., trailers_only=True)``.
    """
    try:
        fields, items = _split_fields(headers)
    except MetadataError as exc:
        raise ProtocolStatusError(StatusCode.INTERNAL, str(exc)) from None
    http_status = fields.get(b":status")
    content_type = fields.get(b"content-type")
    encoding = fields.get(b"grpc-encoding")
    accept_encoding = fields.get(b"grpc-accept-encoding")
    code, message = _check_http_response(http_status, content_type)
    if code is not None:
        raise ProtocolStatusError(code, message)
    return ResponseHead(
        encoding=_ascii(encoding) if encoding is not None else None,
        accept_encoding=parse_accept_encoding(accept_encoding) if accept_encoding else (),
        metadata=Metadata._from_valid_items(items),
    )


def _check_http_response(
    http_status: bytes | None, content_type: bytes | None
) -> tuple[StatusCode | None, str]:
    # The status of a response that is not gRPC, or (None, "") for a good one.
    if http_status != b"200":
        if http_status is None:
            return StatusCode.INTERNAL, "response without :status"
        number = int(http_status) if http_status.isdigit() else 0
        return status_from_http_status(number), f"unexpected HTTP status {_ascii(http_status)}"
    if content_type is None or not is_grpc_content_type(content_type):
        return StatusCode.UNKNOWN, f"unexpected response content-type {content_type!r}"
    return None, ""


def parse_trailers(
    headers: Iterable[tuple[bytes, bytes]], *, trailers_only: bool = False
) -> CallStatus:
    """Parse Trailers, or with *trailers_only* a Trailers-Only response, into the call's
    status. Never raises: what is not a valid status is turned into one.

    ``grpc-status``, when present, is used as it is (``doc/http-grpc-status-mapping.md``:
    it *must* be). Without it, a Trailers-Only response maps its ``:status`` (or a
    non-gRPC ``content-type`` gives UNKNOWN), and Trailers give UNKNOWN. A
    ``grpc-status`` that is not a number is INTERNAL; a number outside 0-16 is UNKNOWN.
    A malformed ``-bin`` value is INTERNAL.
    """
    try:
        fields, items = _split_fields(headers)
    except MetadataError as exc:
        return CallStatus(StatusCode.INTERNAL, str(exc), None, Metadata())
    status = fields.get(b"grpc-status")
    message = fields.get(b"grpc-message")
    details = fields.get(b"grpc-status-details-bin")
    http_status = fields.get(b":status")
    content_type = fields.get(b"content-type")
    trailing = Metadata._from_valid_items(items)

    if status is None:
        missing_code, text = StatusCode.UNKNOWN, "missing grpc-status in trailers"
        if trailers_only:
            http_code, http_text = _check_http_response(http_status, content_type)
            if http_code is None:
                text = "missing grpc-status in Trailers-Only response"
            else:
                missing_code, text = http_code, http_text
        return CallStatus(missing_code, text, None, trailing)

    code = _STATUS_BY_VALUE.get(status)
    text = decode_grpc_message(message) if message is not None else ""
    if code is None:
        if not status.isdigit():
            return CallStatus(
                StatusCode.INTERNAL, f"malformed grpc-status {_ascii(status)!r}", None, trailing
            )
        number = int(status)
        code = StatusCode(number) if number <= StatusCode.UNAUTHENTICATED else StatusCode.UNKNOWN
    decoded_details = None
    if details is not None:
        try:
            pieces = _decode_binary(details)
        except MetadataError as exc:
            return CallStatus(StatusCode.INTERNAL, str(exc), None, trailing)
        decoded_details = decode_status_details(pieces[-1], code)
    return CallStatus(code, text, decoded_details, trailing)
