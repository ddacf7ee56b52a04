"""HTTP/2 error codes and the protocol errors the sans-IO core raises.

Two kinds of protocol error exist in RFC 9113 §5.4: a *connection error* ends the whole
connection with GOAWAY, a *stream error* ends one stream with RST_STREAM. Every error the
core raises internally carries its wire error code so the connection can turn it into the
right frame itself; the I/O driver only flushes and closes.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "ErrorCode",
    "FrameTooLargeError",
    "H2ConnectionError",
    "H2Error",
    "H2StreamError",
    "HPACKDecodingError",
    "HeaderListTooLargeError",
    "error_code_name",
]


class ErrorCode(IntEnum):
    """HTTP/2 error codes, RFC 9113 §7."""

    NO_ERROR = 0x0
    PROTOCOL_ERROR = 0x1
    INTERNAL_ERROR = 0x2
    FLOW_CONTROL_ERROR = 0x3
    SETTINGS_TIMEOUT = 0x4
    STREAM_CLOSED = 0x5
    FRAME_SIZE_ERROR = 0x6
    REFUSED_STREAM = 0x7
    CANCEL = 0x8
    COMPRESSION_ERROR = 0x9
    CONNECT_ERROR = 0xA
    ENHANCE_YOUR_CALM = 0xB
    INADEQUATE_SECURITY = 0xC
    HTTP_1_1_REQUIRED = 0xD


def error_code_name(code: int) -> str:
    """The RFC name of ``code``, or ``UNKNOWN(0x..)`` for codes outside the registry."""
    try:
        return ErrorCode(code).name
    except ValueError:
        return f"UNKNOWN(0x{code:x})"


class H2Error(Exception):
    """Base of every protocol error raised by the HTTP/2 core."""

    def __init__(self, code: ErrorCode, message: str = "") -> None:
        super().__init__(message or code.name)
        self.code = code
        self.message = message


class H2ConnectionError(H2Error):
    """A connection error (RFC 9113 §5.4.1): the connection sends GOAWAY and ends."""


class H2StreamError(H2Error):
    """A stream error (RFC 9113 §5.4.2): the stream is reset, the connection goes on."""

    def __init__(self, stream_id: int, code: ErrorCode, message: str = "") -> None:
        super().__init__(code, message)
        self.stream_id = stream_id


class FrameTooLargeError(H2ConnectionError):
    """A frame's length exceeds our SETTINGS_MAX_FRAME_SIZE (RFC 9113 §4.2)."""

    def __init__(self, message: str = "") -> None:
        super().__init__(ErrorCode.FRAME_SIZE_ERROR, message)


class HPACKDecodingError(H2ConnectionError):
    """A header block could not be decoded: COMPRESSION_ERROR (RFC 9113 §4.3)."""

    def __init__(self, message: str = "") -> None:
        super().__init__(ErrorCode.COMPRESSION_ERROR, message)


class HeaderListTooLargeError(H2Error):
    """A decoded header list exceeded the decoder's ``max_header_list_size``.

    The decoder still processes the whole block so its dynamic table stays in step with
    the peer's encoder; only the headers themselves are dropped. The connection can
    therefore treat this as a stream error and keep the connection up.
    """

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            ErrorCode.PROTOCOL_ERROR, f"header list of {size}+ bytes exceeds limit {limit}"
        )
        self.size = size
        self.limit = limit
