"""Custom metadata: an ordered multimap of gRPC header names to values.

Rules from grpc/grpc ``doc/PROTOCOL-HTTP2.md`` ("Requests", Custom-Metadata):

- Names are ``1*( %x30-39 / %x61-7A / "_" / "-" / "." )``. Names given by the
  application are lowercased first, then validated.
- A name ending in ``-bin`` is a Binary-Header: its value is ``bytes``, sent as base64
  without padding; padded and unpadded values are both accepted, and a received value
  is split on ``","`` before decoding because duplicate headers may have been joined.
- Any other value is an ASCII-Value: a ``str`` of ``%x20-7E``.
- Names that HTTP/2 or the gRPC transport itself own cannot be sent as custom metadata
  (see :data:`RESERVED_NAMES`); :meth:`Metadata.to_headers` refuses them before anything
  is written, and :meth:`Metadata.check_sendable` earlier (a channel, when a call is
  made). Names starting with ``grpc-`` are reserved for gRPC except a few that
  applications and features legitimately set (:data:`ALLOWED_GRPC_NAMES`).

Received metadata (:meth:`Metadata.from_headers`):

- A text value outside ``%x20-7E`` (valid HTTP, invalid gRPC) is dropped: the spec
  forbids failing the call for it and allows throwing the value away, and dropping
  keeps every value the application sees valid to echo back. Names outside the gRPC
  alphabet are dropped likewise.
- A ``-bin`` value that is not valid base64 raises :class:`MetadataError`; the caller
  maps it to status INTERNAL (as grpc-go does): the value cannot be recovered.
- ``user-agent`` is kept, as grpc-go and grpcio show it to servers; pseudo-headers and
  transport headers (``content-type``, ``te``, ``grpc-status``, ...) are skipped.

:meth:`Metadata.get` returns the *first* value for a name, like most HTTP header
multimaps; :meth:`Metadata.get_all` returns them all in order.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterable, Iterator, Mapping
from typing import overload

__all__ = [
    "ALLOWED_GRPC_NAMES",
    "RESERVED_NAMES",
    "Metadata",
    "MetadataError",
    "MetadataValue",
]

MetadataValue = str | bytes
"""A metadata value: ``str`` for text names, ``bytes`` for ``-bin`` names."""


class MetadataError(ValueError):
    """Metadata that cannot be sent (invalid name, value or reserved name), or a received
    ``-bin`` value that is not base64. Received, it maps to status INTERNAL."""


_NAME_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz-_."
_NAME_CHAR_SET = frozenset(_NAME_CHARS)
_NAME_BYTES = _NAME_CHARS.encode("ascii")
_BASE64_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

# Headers the gRPC transport or HTTP/2 own. Received: skipped by from_headers (they are
# parsed by grpcx.protocol.headers). Sent as custom metadata: refused.
# Connection-specific fields are forbidden in HTTP/2 altogether (RFC 9113 §8.2.2).
_TRANSPORT_NAMES = frozenset(
    {
        "content-type",
        "te",
        "grpc-timeout",
        "grpc-encoding",
        "grpc-accept-encoding",
        "grpc-message-type",
        "grpc-status",
        "grpc-message",
        "grpc-status-details-bin",
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "upgrade",
        "host",
    }
)

RESERVED_NAMES: frozenset[str] = _TRANSPORT_NAMES | {"user-agent"}
"""Names an application may not send as custom metadata. ``user-agent`` is set by the
channel; the status and its details are sent through the call's status, not metadata."""

ALLOWED_GRPC_NAMES: frozenset[str] = frozenset(
    {
        "grpc-trace-bin",  # tracing context (OpenCensus/OpenTelemetry)
        "grpc-tags-bin",  # stats tags
        "grpc-retry-pushback-ms",  # server's retry pushback, gRFC A6
        "grpc-previous-rpc-attempts",  # retry attempt count, gRFC A6
    }
)
"""The ``grpc-`` prefixed names that may be sent as custom metadata."""

_TRANSPORT_NAME_BYTES = frozenset(name.encode("ascii") for name in _TRANSPORT_NAMES)

# Decoded header names seen on the wire: bytes -> str, or "" for a name that is not
# valid gRPC metadata. Names repeat across calls, so one dict lookup replaces the decode
# and validation; cleared when full so a peer cannot grow it without bound.
_wire_names: dict[bytes, str] = {}
_WIRE_NAMES_MAX = 4096


def _new_wire_name(name: bytes) -> str:
    # Cache miss of _wire_names: validate and remember.
    if name and name.isascii() and not name.translate(None, _NAME_BYTES):
        decoded = name.decode("ascii")
    else:
        decoded = ""
    if len(_wire_names) >= _WIRE_NAMES_MAX:
        _wire_names.clear()
    _wire_names[name] = decoded
    return decoded


def _decode_binary(value: bytes) -> list[bytes]:
    # Duplicate headers may have been joined with "," (PROTOCOL-HTTP2.md "Requests");
    # split before decoding. Padding is optional.
    out = []
    for piece in value.split(b",") if b"," in value else (value,):
        data = piece.strip(b" ").rstrip(b"=")
        if data.translate(None, _BASE64_BYTES) or len(data) % 4 == 1:
            raise MetadataError(f"invalid base64 in binary metadata value {value[:40]!r}")
        out.append(binascii.a2b_base64(data + b"=" * (-len(data) % 4)))
    return out


def _append_wire_header(items: list[tuple[str, MetadataValue]], name: bytes, value: bytes) -> None:
    """Decode one received custom-metadata header into *items* (dropping invalid text)."""
    key = _wire_names.get(name)
    if key is None:
        key = _new_wire_name(name)
    if not key:
        return
    if key.endswith("-bin"):
        for decoded in _decode_binary(value):
            items.append((key, decoded))
    elif value.isascii():
        text = value.decode("ascii")
        # For ASCII, str.isprintable() is exactly %x20-7E.
        if text.isprintable():
            items.append((key, text))


def _check_name(key: str) -> str:
    if not isinstance(key, str):
        raise TypeError(f"metadata name must be str, not {type(key).__name__}")
    lowered = key.lower()
    if not lowered or not _NAME_CHAR_SET.issuperset(lowered):
        raise MetadataError(f"invalid metadata name {key!r}: allowed are 0-9 a-z _ - .")
    return lowered


def _check_pair(key: str, value: MetadataValue) -> tuple[str, MetadataValue]:
    name = _check_name(key)
    if name.endswith("-bin"):
        if not isinstance(value, bytes):
            raise TypeError(f"value of binary metadata {name!r} must be bytes")
    elif not isinstance(value, str):
        raise TypeError(f"value of text metadata {name!r} must be str")
    elif not (value.isascii() and value.isprintable()):
        raise MetadataError(f"invalid value for metadata {name!r}: only ASCII 0x20-0x7E")
    return name, value


def _is_reserved(name: str) -> bool:
    return name in RESERVED_NAMES or (name.startswith("grpc-") and name not in ALLOWED_GRPC_NAMES)


# Why a reserved name cannot be sent, and what to do instead.
_RESERVED_WHY = {
    "user-agent": "grpcx sends its own user-agent",
    "grpc-timeout": "set the call's deadline with timeout= instead",
    "grpc-encoding": "choose the request compression with compression= instead",
    "grpc-status": "a status is sent by ending the call, not as metadata",
    "grpc-message": "a status is sent by ending the call, not as metadata",
    "grpc-status-details-bin": "a status is sent by ending the call, not as metadata",
}


def _reserved_error(name: str) -> MetadataError:
    why = _RESERVED_WHY.get(name)
    if why is None:
        if name.startswith("grpc-"):
            why = "names starting with grpc- belong to gRPC itself"
        elif name in ("content-type", "te"):
            why = "the gRPC transport sets it"
        else:
            why = "a connection-specific header, forbidden in HTTP/2"
    return MetadataError(f"metadata name {name!r} is reserved ({why}): remove it")


class Metadata:
    """An ordered multimap of metadata names to values.

    Construct from a mapping or an iterable of ``(name, value)`` pairs; names are
    lowercased and validated, values must be ``str`` (printable ASCII) or, for names
    ending in ``-bin``, ``bytes``. Invalid input raises [`MetadataError`][grpcx.MetadataError] (or
    ``TypeError`` for a value of the wrong type).
    """

    __slots__ = ("_items",)

    _items: list[tuple[str, MetadataValue]]

    def __init__(
        self,
        pairs: Mapping[str, MetadataValue] | Iterable[tuple[str, MetadataValue]] = (),
    ) -> None:
        source = pairs.items() if isinstance(pairs, Mapping) else pairs
        self._items = [_check_pair(key, value) for key, value in source]

    @classmethod
    def coerce(
        cls,
        metadata: Metadata
        | Mapping[str, MetadataValue]
        | Iterable[tuple[str, MetadataValue]]
        | None,
    ) -> Metadata | None:
        """*metadata* as a [`Metadata`][grpcx.Metadata] (itself if it already is one), or None."""
        if metadata is None or isinstance(metadata, Metadata):
            return metadata
        return cls(metadata)

    @classmethod
    def _from_valid_items(cls, items: list[tuple[str, MetadataValue]]) -> Metadata:
        # Internal: wrap an already-validated list without copying or re-checking.
        metadata = cls.__new__(cls)
        metadata._items = items
        return metadata

    def add(self, key: str, value: MetadataValue) -> None:
        """Append a value for *key* (after any existing values)."""
        self._items.append(_check_pair(key, value))

    def extend(
        self, pairs: Mapping[str, MetadataValue] | Iterable[tuple[str, MetadataValue]]
    ) -> None:
        """Append every pair of *pairs*, in order."""
        source = pairs.items() if isinstance(pairs, Mapping) else pairs
        self._items.extend([_check_pair(key, value) for key, value in source])

    @overload
    def get(self, key: str) -> MetadataValue | None: ...
    @overload
    def get(self, key: str, default: MetadataValue) -> MetadataValue: ...
    def get(self, key: str, default: MetadataValue | None = None) -> MetadataValue | None:
        """Return the *first* value for *key* (matched case-insensitively), or *default*."""
        key = key.lower()
        for name, value in self._items:
            if name == key:
                return value
        return default

    def get_all(self, key: str) -> list[MetadataValue]:
        """Return every value for *key* (matched case-insensitively), in order received."""
        key = key.lower()
        return [value for name, value in self._items if name == key]

    def copy(self) -> Metadata:
        """Return a shallow copy."""
        return Metadata._from_valid_items(list(self._items))

    def __iter__(self) -> Iterator[tuple[str, MetadataValue]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        key = key.lower()
        return any(name == key for name, _ in self._items)

    def __eq__(self, other: object) -> bool:
        # Equal when every name has the same values in the same order: the spec keeps
        # the order of duplicate names only (PROTOCOL-HTTP2.md "Requests").
        if not isinstance(other, Metadata):
            return NotImplemented
        return len(self._items) == len(other._items) and self._grouped() == other._grouped()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def _grouped(self) -> dict[str, list[MetadataValue]]:
        grouped: dict[str, list[MetadataValue]] = {}
        for name, value in self._items:
            grouped.setdefault(name, []).append(value)
        return grouped

    def __repr__(self) -> str:
        return f"Metadata({self._items!r})"

    def to_headers(self) -> list[tuple[bytes, bytes]]:
        """Encode as HTTP/2 header fields; ``-bin`` values become unpadded base64.

        Raises [`MetadataError`][grpcx.MetadataError] for a reserved name
        (``grpcx.metadata.RESERVED_NAMES``, pseudo-headers cannot occur as names are
        validated, and ``grpc-`` names other than ``grpcx.metadata.ALLOWED_GRPC_NAMES``).
        """
        headers = []
        for name, value in self._items:
            if _is_reserved(name):
                raise _reserved_error(name)
            if isinstance(value, bytes):
                encoded = binascii.b2a_base64(value, newline=False).rstrip(b"=")
            else:
                encoded = value.encode("ascii")
            headers.append((name.encode("ascii"), encoded))
        return headers

    def check_sendable(self) -> None:
        """Raise [`MetadataError`][grpcx.MetadataError] if a name may not be sent as custom metadata
        (as [`to_headers()`][grpcx.Metadata.to_headers] would): channels check a call's metadata
        when the call is made, so the error comes where the metadata was given."""
        for name, _ in self._items:
            if _is_reserved(name):
                raise _reserved_error(name)

    @classmethod
    def from_headers(
        cls, headers: Iterable[tuple[bytes, bytes]], *, skip_reserved: bool = True
    ) -> Metadata:
        """Decode received header fields into metadata.

        With *skip_reserved* (the default), pseudo-headers and transport headers are
        skipped; without it only pseudo-headers are. Invalid names and invalid text
        values are dropped (see the module docstring); a ``-bin`` value that is not
        base64 raises [`MetadataError`][grpcx.MetadataError], which the caller maps to INTERNAL.
        """
        items: list[tuple[str, MetadataValue]] = []
        for name, value in headers:
            if name[:1] == b":" or (skip_reserved and name in _TRANSPORT_NAME_BYTES):
                continue
            _append_wire_header(items, name, value)
        return cls._from_valid_items(items)
