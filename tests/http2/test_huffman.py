"""Huffman coding tests (RFC 7541 §5.2, Appendix B), with python-hyper's ``hpack`` as oracle."""

from __future__ import annotations

import pytest
from hpack.huffman import HuffmanEncoder
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH
from hpack.huffman_table import decode_huffman
from hypothesis import given, settings
from hypothesis import strategies as st

from grpcx.http2.errors import HPACKDecodingError
from grpcx.http2.huffman import huffman_decode, huffman_encode, huffman_encoded_length

ORACLE = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH)


@pytest.mark.parametrize(
    ("text", "coded"),
    [
        (b"www.example.com", "f1e3c2e5f23a6ba0ab90f4ff"),  # RFC 7541 C.4.1
        (b"no-cache", "a8eb10649cbf"),  # C.4.2
        (b"custom-value", "25a849e95bb8e8b4bf"),  # C.4.3
        (b"302", "6402"),  # C.6.1
        (b"Mon, 21 Oct 2013 20:13:21 GMT", "d07abe941054d444a8200595040b8166e082a62d1bff"),
        (b"", ""),
    ],
)
def test_rfc_examples(text: bytes, coded: str) -> None:
    assert huffman_encode(text).hex() == coded
    assert huffman_encoded_length(text) == len(coded) // 2
    assert huffman_decode(bytes.fromhex(coded)) == text


def test_every_byte_value() -> None:
    data = bytes(range(256)) * 2
    assert huffman_encode(data) == ORACLE.encode(data)
    assert huffman_decode(huffman_encode(data)) == data


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=100))
def test_round_trip_against_oracle(data: bytes) -> None:
    coded = huffman_encode(data)
    assert coded == ORACLE.encode(data)
    assert huffman_encoded_length(data) == len(coded)
    assert huffman_decode(coded) == data


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=40))
def test_decode_agrees_with_oracle(data: bytes) -> None:
    try:
        expected: bytes | None = decode_huffman(data)
    except Exception:
        expected = None
    try:
        ours: bytes | None = huffman_decode(data)
    except HPACKDecodingError:
        ours = None
    # hpack accepts some padding we must reject (over 7 bits, RFC 7541 §5.2), never less.
    if ours is not None:
        assert ours == expected


@pytest.mark.parametrize(
    "coded",
    [
        "ff",  # 8 bits of padding
        "00",  # '0' then padding of 0s
        "1f00",  # 'a' then 8 zero bits
        "fffffffc",  # EOS (30 ones) plus 2 bits
        "fffffffffff0",  # EOS inside the string
        "07ff",  # '0', then '1' prefix... padding of more than 7 ones
    ],
)
def test_invalid_strings(coded: str) -> None:
    with pytest.raises(HPACKDecodingError):
        huffman_decode(bytes.fromhex(coded))


def test_padding_up_to_seven_bits() -> None:
    # 'a' is 00011 (5 bits): followed by 3 one bits it is complete and valid.
    assert huffman_decode(b"\x1f") == b"a"
    # '0' is 00000: 3 bits of padding; 0x07 = 00000111.
    assert huffman_decode(b"\x07") == b"0"
