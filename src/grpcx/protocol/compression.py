"""Message compression codecs (grpc/grpc ``doc/compression.md``).

Compression is per message: the Compressed-Flag of each Length-Prefixed-Message says
whether that message uses the call's ``grpc-encoding``, and every message gets a fresh
compression context (``doc/PROTOCOL-HTTP2.md``, "Requests"). gRPC's ``deflate`` is the
zlib format (RFC 1950), as grpc C-core and grpc-go produce it, not raw RFC 1951 data.

Decompression is bounded: output past the receiver's max message size stops the inflater
and fails with RESOURCE_EXHAUSTED, so a small compressed bomb cannot allocate more than
the limit. Corrupt or truncated data fails with INTERNAL.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from grpcx.protocol.errors import ProtocolStatusError
from grpcx.status import StatusCode

__all__ = [
    "DEFLATE",
    "GZIP",
    "IDENTITY",
    "IMPLIED_ACCEPT_ENCODING",
    "Codec",
    "IdentityCodec",
    "ZlibCodec",
    "accept_encoding_header",
    "decompress_message",
    "get_codec",
    "parse_accept_encoding",
    "register_codec",
    "supported_encodings",
    "unsupported_encoding_error",
    "unsupported_encoding_message",
]


class Codec:
    """A message compression algorithm, named as in ``grpc-encoding``."""

    __slots__ = ("name",)

    name: str

    def __init__(self, name: str) -> None:
        self.name = name

    def compress(self, data: bytes) -> bytes:
        """Compress one message."""
        raise NotImplementedError

    def decompress(self, data: bytes, max_size: int) -> bytes:
        """Decompress one message of at most *max_size* bytes.

        Raises :class:`ProtocolStatusError`: RESOURCE_EXHAUSTED past *max_size*,
        INTERNAL for corrupt or truncated data.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class IdentityCodec(Codec):
    """No compression (``identity``)."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__("identity")

    def compress(self, data: bytes) -> bytes:
        """Return *data* unchanged."""
        return data

    def decompress(self, data: bytes, max_size: int) -> bytes:
        """Return *data* unchanged, after checking it fits *max_size*."""
        if len(data) > max_size:
            raise _too_large(max_size)
        return data


class ZlibCodec(Codec):
    """A codec of the zlib library: ``gzip`` (RFC 1952) or ``deflate`` (zlib, RFC 1950)."""

    __slots__ = ("_level", "_wbits")

    _wbits: int
    _level: int

    def __init__(self, name: str, wbits: int, level: int = zlib.Z_DEFAULT_COMPRESSION) -> None:
        super().__init__(name)
        self._wbits = wbits
        self._level = level

    def compress(self, data: bytes) -> bytes:
        """Compress *data* as one complete stream."""
        compressor = zlib.compressobj(self._level, zlib.DEFLATED, self._wbits)
        return compressor.compress(data) + compressor.flush()

    def decompress(self, data: bytes, max_size: int) -> bytes:
        """Inflate *data*, never producing more than *max_size* + 1 bytes.

        Concatenated gzip members are accepted, as by gzip readers (grpc-go's included).
        """
        parts = []
        remaining = max_size
        while True:
            inflater = zlib.decompressobj(self._wbits)
            try:
                # Ask for one byte more than allowed: getting it proves the message is
                # too large without inflating the rest.
                out = inflater.decompress(data, remaining + 1)
            except zlib.error as exc:
                raise ProtocolStatusError(
                    StatusCode.INTERNAL, f"corrupt {self.name} message: {exc}"
                ) from None
            if len(out) > remaining:
                raise _too_large(max_size)
            if not inflater.eof:
                raise ProtocolStatusError(StatusCode.INTERNAL, f"truncated {self.name} message")
            parts.append(out)
            remaining -= len(out)
            data = inflater.unused_data
            if not data:
                break
            if self._wbits != _GZIP_WBITS:
                raise ProtocolStatusError(
                    StatusCode.INTERNAL, f"trailing data after {self.name} message"
                )
        return parts[0] if len(parts) == 1 else b"".join(parts)


def _too_large(max_size: int) -> ProtocolStatusError:
    return ProtocolStatusError(
        StatusCode.RESOURCE_EXHAUSTED,
        f"decompressed message larger than max ({max_size} bytes)",
    )


_GZIP_WBITS = 16 + zlib.MAX_WBITS
IDENTITY = IdentityCodec()
"""The ``identity`` codec."""
GZIP = ZlibCodec("gzip", _GZIP_WBITS)
"""The ``gzip`` codec."""
DEFLATE = ZlibCodec("deflate", zlib.MAX_WBITS)
"""The ``deflate`` codec (zlib format, as in grpc C-core and grpc-go)."""

_codecs: dict[str, Codec] = {codec.name: codec for codec in (IDENTITY, DEFLATE, GZIP)}
_accept_encoding = b"identity,deflate,gzip"


def register_codec(codec: Codec) -> None:
    """Add or replace a codec in the registry (and in :func:`accept_encoding_header`)."""
    global _accept_encoding
    _codecs[codec.name] = codec
    _accept_encoding = ",".join(_codecs).encode("ascii")


def get_codec(name: str) -> Codec | None:
    """Return the registered codec for a ``grpc-encoding`` name, or None."""
    return _codecs.get(name)


def supported_encodings() -> tuple[str, ...]:
    """Names of the registered codecs, in registration order."""
    return tuple(_codecs)


def accept_encoding_header(names: Iterable[str] | None = None) -> bytes:
    """The ``grpc-accept-encoding`` value: *names*, or every registered codec.

    Default: ``b"identity,deflate,gzip"``, the value grpc C-core sends.
    """
    if names is None:
        return _accept_encoding
    return ",".join(names).encode("ascii")


def parse_accept_encoding(value: bytes) -> tuple[str, ...]:
    """Parse a received ``grpc-accept-encoding`` (``Content-Coding *("," Content-Coding)``).

    Whitespace around names is ignored, as is an empty name; names that are not ASCII
    make the whole value be ignored (an empty tuple).
    """
    names = _parsed_accept_encodings.get(value)
    if names is None:
        if value.isascii():
            names = tuple(
                name for part in value.decode("ascii").split(",") if (name := part.strip())
            )
        else:
            names = ()
        # Peers send the same few values on every call; bounded so none can grow it.
        if len(_parsed_accept_encodings) >= 256:
            _parsed_accept_encodings.clear()
        _parsed_accept_encodings[value] = names
    return names


_parsed_accept_encodings: dict[bytes, tuple[str, ...]] = {}

IMPLIED_ACCEPT_ENCODING: tuple[str, ...] = ("gzip", "deflate")
"""What a request without ``grpc-accept-encoding`` is taken to accept: the standard
encodings. Clients that send no such header (grpc-go up to at least 1.33) still decode
gzip and deflate, and grpc C-core compresses responses to them; a header that is present
is honoured exactly, even if empty."""


def request_accept_encoding(value: bytes | None) -> tuple[str, ...]:
    """The encodings a request's ``grpc-accept-encoding`` *value* allows in responses.

    None (the header is absent) means :data:`IMPLIED_ACCEPT_ENCODING`; otherwise the
    value is parsed by :func:`parse_accept_encoding`.
    """
    if value is None:
        return IMPLIED_ACCEPT_ENCODING
    return parse_accept_encoding(value)


def unsupported_encoding_message(encoding: str, accepted: Iterable[str] | None = None) -> str:
    """The status message for a ``grpc-encoding`` this side cannot decompress.

    It names the encoding and lists the accepted ones, as ``doc/compression.md`` (test
    cases 4 and 5) requires.
    """
    names = supported_encodings() if accepted is None else tuple(accepted)
    return f"grpc-encoding {encoding!r} is not supported; accepted: {', '.join(names)}"


def unsupported_encoding_error(
    encoding: str, *, server: bool, accepted: Iterable[str] | None = None
) -> ProtocolStatusError:
    """The error for a message compressed with an unsupported *encoding*.

    On a server it is UNIMPLEMENTED, and the response must carry ``grpc-accept-encoding``
    (:func:`accept_encoding_header`); on a client it is INTERNAL (``doc/compression.md``,
    "Compression Method Asymmetry Between Peers").
    """
    code = StatusCode.UNIMPLEMENTED if server else StatusCode.INTERNAL
    return ProtocolStatusError(code, unsupported_encoding_message(encoding, accepted))


def decompress_message(
    compressed: bool, payload: bytes, codec: Codec | None, max_message_size: int
) -> bytes:
    """Return the message body of a received Length-Prefixed-Message.

    *codec* is that of the call's ``grpc-encoding`` (None when absent). A set
    Compressed-Flag without a non-identity encoding is INTERNAL (``doc/compression.md``
    test case 6); decompression errors are as in :meth:`Codec.decompress`.
    """
    if not compressed:
        return payload
    if codec is None or codec.name == "identity":
        raise ProtocolStatusError(
            StatusCode.INTERNAL,
            "compressed flag set on a message but grpc-encoding is identity or absent",
        )
    return codec.decompress(payload, max_message_size)
