"""Message compression codecs, the registry and bounded decompression."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grpcx.protocol import compression
from grpcx.protocol.compression import (
    DEFLATE,
    GZIP,
    IDENTITY,
    Codec,
    ZlibCodec,
    accept_encoding_header,
    decompress_message,
    get_codec,
    parse_accept_encoding,
    register_codec,
    supported_encodings,
    unsupported_encoding_error,
    unsupported_encoding_message,
)
from grpcx.protocol.errors import ProtocolStatusError
from grpcx.status import StatusCode


def test_registry() -> None:
    assert get_codec("identity") is IDENTITY
    assert get_codec("gzip") is GZIP
    assert get_codec("deflate") is DEFLATE
    assert get_codec("snappy") is None
    assert supported_encodings() == ("identity", "deflate", "gzip")
    assert accept_encoding_header() == b"identity,deflate,gzip"
    assert accept_encoding_header(["gzip"]) == b"gzip"
    assert repr(GZIP) == "<ZlibCodec 'gzip'>"


@pytest.fixture
def restore_registry() -> Iterator[None]:
    saved = dict(compression._codecs)
    saved_header = compression._accept_encoding
    yield
    compression._codecs.clear()
    compression._codecs.update(saved)
    compression._accept_encoding = saved_header


@pytest.mark.usefixtures("restore_registry")
def test_register_codec() -> None:
    fast = ZlibCodec("fastgzip", 31, level=1)
    register_codec(fast)
    assert get_codec("fastgzip") is fast
    assert accept_encoding_header() == b"identity,deflate,gzip,fastgzip"
    assert gzip.decompress(fast.compress(b"abc" * 100)) == b"abc" * 100


def test_base_codec_is_abstract() -> None:
    codec = Codec("x")
    with pytest.raises(NotImplementedError):
        codec.compress(b"")
    with pytest.raises(NotImplementedError):
        codec.decompress(b"", 1)


@given(st.binary(max_size=2000))
def test_interop_with_stdlib(data: bytes) -> None:
    # gzip is RFC 1952; gRPC's "deflate" is the zlib format (RFC 1950).
    assert gzip.decompress(GZIP.compress(data)) == data
    assert zlib.decompress(DEFLATE.compress(data)) == data
    assert GZIP.decompress(gzip.compress(data), 2000) == data
    assert DEFLATE.decompress(zlib.compress(data), 2000) == data
    assert IDENTITY.decompress(IDENTITY.compress(data), 2000) == data


def test_gzip_multiple_members() -> None:
    data = gzip.compress(b"abc") + gzip.compress(b"def")
    assert GZIP.decompress(data, 6) == b"abcdef"
    with pytest.raises(ProtocolStatusError) as info:
        GZIP.decompress(data, 5)
    assert info.value.code is StatusCode.RESOURCE_EXHAUSTED


@pytest.mark.parametrize("codec", [GZIP, DEFLATE, IDENTITY])
def test_max_size(codec: Codec) -> None:
    data = codec.compress(b"a" * 100)
    assert codec.decompress(data, 100) == b"a" * 100
    with pytest.raises(ProtocolStatusError) as info:
        codec.decompress(data, 99)
    assert info.value.code is StatusCode.RESOURCE_EXHAUSTED


@pytest.mark.parametrize("codec", [GZIP, DEFLATE])
def test_bomb_is_bounded(codec: Codec) -> None:
    bomb = codec.compress(bytes(64 * 1024 * 1024))  # ~64 KiB compressed
    assert len(bomb) < 100_000
    with pytest.raises(ProtocolStatusError) as info:
        codec.decompress(bomb, 1024)
    assert info.value.code is StatusCode.RESOURCE_EXHAUSTED


@pytest.mark.parametrize("codec", [GZIP, DEFLATE])
@pytest.mark.parametrize("mangle", ["garbage", "truncated", "empty", "trailing", "other"])
def test_corrupt_is_internal(codec: ZlibCodec, mangle: str) -> None:
    good = codec.compress(b"hello world" * 10)
    other = DEFLATE if codec is GZIP else GZIP
    data = {
        "garbage": b"\x00\x01garbage",
        "truncated": good[:-3],
        "empty": b"",
        "trailing": good + b"\x00junk",
        "other": other.compress(b"hello"),
    }[mangle]
    with pytest.raises(ProtocolStatusError) as info:
        codec.decompress(data, 1000)
    assert info.value.code is StatusCode.INTERNAL


def test_parse_accept_encoding() -> None:
    assert parse_accept_encoding(b"gzip") == ("gzip",)
    assert parse_accept_encoding(b"identity,deflate,gzip") == ("identity", "deflate", "gzip")
    assert parse_accept_encoding(b" gzip , ,deflate,") == ("gzip", "deflate")
    assert parse_accept_encoding(b"") == ()
    assert parse_accept_encoding(b"gz\xffip") == ()


def test_unsupported_encoding() -> None:
    message = unsupported_encoding_message("snappy")
    assert message == "grpc-encoding 'snappy' is not supported; accepted: identity, deflate, gzip"
    server = unsupported_encoding_error("snappy", server=True)
    assert server.code is StatusCode.UNIMPLEMENTED and server.message == message
    client = unsupported_encoding_error("snappy", server=False, accepted=["gzip"])
    assert client.code is StatusCode.INTERNAL
    assert client.message.endswith("accepted: gzip")


def test_decompress_message() -> None:
    assert decompress_message(False, b"raw", None, 10) == b"raw"
    assert decompress_message(False, b"raw", GZIP, 10) == b"raw"
    assert decompress_message(True, GZIP.compress(b"zip"), GZIP, 10) == b"zip"
    for codec in (None, IDENTITY):
        with pytest.raises(ProtocolStatusError) as info:
            decompress_message(True, b"raw", codec, 10)
        assert info.value.code is StatusCode.INTERNAL
