"""grpcx.metadata: validation, multimap API, wire encoding and decoding."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grpcx.metadata import ALLOWED_GRPC_NAMES, RESERVED_NAMES, Metadata, MetadataError

NAME_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz-_."


def test_construct_from_pairs_and_mapping() -> None:
    md = Metadata([("A", "1"), ("b-bin", b"\x00"), ("a", "2")])
    assert list(md) == [("a", "1"), ("b-bin", b"\x00"), ("a", "2")]
    assert Metadata({"x": "y"}) == Metadata([("x", "y")])
    assert len(md) == 3
    assert bool(md) and not Metadata()


def test_get_first_get_all_contains() -> None:
    md = Metadata([("a", "1"), ("b", "x"), ("a", "2")])
    assert md.get("a") == "1"
    assert md.get("A") == "1"
    assert md.get("zz") is None
    assert md.get("zz", "d") == "d"
    assert md.get_all("a") == ["1", "2"]
    assert md.get_all("zz") == []
    assert "a" in md and "B" in md and "c" not in md and 3 not in md


def test_add_extend_copy() -> None:
    md = Metadata()
    md.add("k", "v")
    md.extend({"k2": "v2"})
    md.extend([("k", "w")])
    copy = md.copy()
    copy.add("k3", "v3")
    assert list(md) == [("k", "v"), ("k2", "v2"), ("k", "w")]
    assert len(copy) == 4


def test_equality_ignores_order_across_names_only() -> None:
    assert Metadata([("a", "1"), ("b", "2")]) == Metadata([("b", "2"), ("a", "1")])
    assert Metadata([("a", "1"), ("a", "2")]) != Metadata([("a", "2"), ("a", "1")])
    assert Metadata([("a", "1")]) != Metadata([("a", "1"), ("a", "1")])
    assert Metadata() != [("a", "1")]
    with pytest.raises(TypeError):
        hash(Metadata())


def test_repr() -> None:
    assert repr(Metadata([("a", "1")])) == "Metadata([('a', '1')])"


@pytest.mark.parametrize("name", ["", "a b", "a:b", "é", ":path", "a/b", "a\x00"])
def test_invalid_names(name: str) -> None:
    with pytest.raises(MetadataError):
        Metadata([(name, "v")])


@pytest.mark.parametrize("value", ["\x00", "a\nb", "\x7f", "é", "\t"])
def test_invalid_text_values(value: str) -> None:
    with pytest.raises(MetadataError):
        Metadata([("k", value)])


def test_value_types() -> None:
    with pytest.raises(TypeError):
        Metadata([("k-bin", "text")])
    with pytest.raises(TypeError):
        Metadata([("k", b"bytes")])
    with pytest.raises(TypeError):
        Metadata([(b"k", "v")])  # type: ignore[list-item]


def test_edge_values_allowed() -> None:
    md = Metadata([("k", ""), ("k", " ~"), ("k-bin", b"")])
    assert md.to_headers() == [(b"k", b""), (b"k", b" ~"), (b"k-bin", b"")]


def test_to_headers_binary_unpadded() -> None:
    md = Metadata([("a-bin", b"\x01"), ("b-bin", b"\x01\x02"), ("c-bin", b"\x01\x02\x03")])
    assert md.to_headers() == [(b"a-bin", b"AQ"), (b"b-bin", b"AQI"), (b"c-bin", b"AQID")]


@pytest.mark.parametrize(
    "name",
    [*sorted(RESERVED_NAMES), "grpc-foo", "grpc-status-details-bin"],
)
def test_reserved_names_refused_on_send(name: str) -> None:
    value: str | bytes = b"x" if name.endswith("-bin") else "x"
    md = Metadata([(name, value)])
    with pytest.raises(MetadataError, match="reserved"):
        md.to_headers()


@pytest.mark.parametrize("name", sorted(ALLOWED_GRPC_NAMES))
def test_allowed_grpc_names(name: str) -> None:
    value: str | bytes = b"x" if name.endswith("-bin") else "1"
    assert len(Metadata([(name, value)]).to_headers()) == 1


def test_from_headers_skips_pseudo_and_transport() -> None:
    headers = [
        (b":path", b"/a/b"),
        (b":authority", b"x"),
        (b"content-type", b"application/grpc"),
        (b"te", b"trailers"),
        (b"grpc-timeout", b"1S"),
        (b"grpc-encoding", b"gzip"),
        (b"grpc-accept-encoding", b"gzip"),
        (b"user-agent", b"ua/1"),
        (b"custom", b"v"),
        (b"grpc-trace-bin", b"AQ"),
    ]
    md = Metadata.from_headers(headers)
    assert list(md) == [("user-agent", "ua/1"), ("custom", "v"), ("grpc-trace-bin", b"\x01")]
    unskipped = Metadata.from_headers(headers, skip_reserved=False)
    assert ("content-type", "application/grpc") in list(unskipped)
    assert "path" not in unskipped and len(unskipped) == 8


def test_from_headers_binary_padding_and_joined_values() -> None:
    md = Metadata.from_headers(
        [
            (b"a-bin", b"AQ=="),
            (b"a-bin", b"AQ"),
            (b"a-bin", b"AQI=,AQID"),
            (b"a-bin", b"AQ, AQI"),
            (b"a-bin", b""),
        ]
    )
    assert md.get_all("a-bin") == [
        b"\x01",
        b"\x01",
        b"\x01\x02",
        b"\x01\x02\x03",
        b"\x01",
        b"\x01\x02",
        b"",
    ]


@pytest.mark.parametrize("value", [b"A", b"AQ!!", b"A=Q", b"AQ\x80", b"AQ-_", b"AAAAA"])
def test_from_headers_invalid_base64(value: bytes) -> None:
    with pytest.raises(MetadataError):
        Metadata.from_headers([(b"a-bin", value)])


def test_from_headers_drops_invalid_text_and_names() -> None:
    md = Metadata.from_headers(
        [
            (b"k", b"caf\xc3\xa9"),
            (b"k", b"tab\there"),
            (b"k", b"ok"),
            (b"Upper", b"v"),
            (b"sp ace", b"v"),
            (b"", b"v"),
            (b"\xff", b"v"),
        ]
    )
    assert list(md) == [("k", "ok")]


def test_received_metadata_can_be_echoed() -> None:
    md = Metadata.from_headers([(b"k", b"v"), (b"k-bin", b"AQ"), (b"grpc-trace-bin", b"")])
    assert Metadata.from_headers(md.to_headers()) == md


names = st.text(NAME_ALPHABET, min_size=1, max_size=12).filter(
    lambda n: n not in RESERVED_NAMES and not n.startswith("grpc-")
)
text_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20)


@st.composite
def pairs(draw: st.DrawFn) -> tuple[str, str | bytes]:
    name = draw(names)
    if draw(st.booleans()):
        return name + "-bin", draw(st.binary(max_size=40))
    if name.endswith("-bin"):
        name += "x"
    return name, draw(text_values)


@given(st.lists(pairs(), max_size=10))
def test_wire_round_trip(items: list[tuple[str, str | bytes]]) -> None:
    md = Metadata(items)
    headers = md.to_headers()
    for (name, value), (_, original) in zip(headers, items, strict=True):
        if name.endswith(b"-bin"):
            assert isinstance(original, bytes)
            assert value == base64.b64encode(original).rstrip(b"=")
        else:
            assert isinstance(original, str)
            assert value == original.encode("ascii")
    decoded = Metadata.from_headers(headers)
    assert list(decoded) == list(md)


@given(st.binary(max_size=64))
def test_binary_decoding_matches_stdlib(data: bytes) -> None:
    padded = base64.b64encode(data)
    for wire in (padded, padded.rstrip(b"=")):
        assert Metadata.from_headers([(b"x-bin", wire)]).get("x-bin") == data


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("user-agent", "grpcx sends its own user-agent"),
        ("grpc-timeout", "timeout="),
        ("grpc-encoding", "compression="),
        ("grpc-status", "a status is sent by ending the call"),
        ("grpc-foo", "names starting with grpc- belong to gRPC"),
        ("te", "the gRPC transport sets it"),
        ("connection", "forbidden in HTTP/2"),
    ],
)
def test_reserved_name_errors_say_why_and_what_to_do(name: str, why: str) -> None:
    md = Metadata([(name, "x")])
    for check in (md.check_sendable, md.to_headers):
        with pytest.raises(MetadataError) as info:
            check()
        message = str(info.value)
        assert f"metadata name {name!r} is reserved" in message
        assert why in message
        assert message.endswith("remove it")


def test_check_sendable_accepts_custom_and_allowed_names() -> None:
    Metadata([("x-trace", "1"), ("grpc-trace-bin", b"\x01"), ("a-bin", b"")]).check_sendable()
