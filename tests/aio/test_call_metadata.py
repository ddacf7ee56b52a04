"""Metadata errors are raised when a call is made, for all four call types: reserved
names (user-agent, te, grpc-*, ...) as well as invalid names and values."""

from __future__ import annotations

import pytest

from grpcx import Metadata
from grpcx.aio import Channel
from grpcx.metadata import MetadataError

KINDS = ["unary_unary", "unary_stream", "stream_unary", "stream_stream"]


def _make_call(channel: Channel, kind: str, metadata: object) -> object:
    method = getattr(channel, kind)("/pkg.S/M")
    if kind.startswith("unary"):
        return method(b"", metadata=metadata)
    return method(iter(()), metadata=metadata)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "metadata",
    [
        [("user-agent", "me/1.0")],
        [("te", "trailers")],
        [("content-type", "text/plain")],
        [("grpc-timeout", "1S")],
        [("x-ok", "1"), ("grpc-status", "0")],
        Metadata([("connection", "close")]),
    ],
)
async def test_reserved_metadata_refused_when_the_call_is_made(kind: str, metadata: object) -> None:
    # No server: the call is refused before any connection is attempted.
    async with Channel("127.0.0.1:1") as channel:
        with pytest.raises(MetadataError, match="is reserved"):
            _make_call(channel, kind, metadata)
        assert channel._connecting is None


@pytest.mark.parametrize("kind", KINDS)
async def test_invalid_metadata_refused_when_the_call_is_made(kind: str) -> None:
    async with Channel("127.0.0.1:1") as channel:
        with pytest.raises(MetadataError, match="invalid metadata name"):
            _make_call(channel, kind, [("Bad Name", "x")])
