"""gRPC header blocks: building and parsing requests, responses, trailers."""

from __future__ import annotations

import base64

import pytest
from google.rpc import status_pb2
from hypothesis import given
from hypothesis import strategies as st

import grpcx
from grpcx.metadata import Metadata, MetadataError
from grpcx.protocol.errors import ProtocolStatusError
from grpcx.protocol.headers import (
    USER_AGENT,
    CallStatus,
    RequestHeadersError,
    build_request_headers,
    build_response_headers,
    build_trailers,
    build_trailers_only,
    decode_grpc_message,
    encode_grpc_message,
    is_grpc_content_type,
    parse_request_headers,
    parse_response_headers,
    parse_trailers,
)
from grpcx.status import RpcError, StatusCode, encode_status_details

Headers = list[tuple[bytes, bytes]]


# --- grpc-message percent-encoding --------------------------------------------------


@pytest.mark.parametrize(
    ("text", "wire"),
    [
        ("", b""),
        ("plain text ~!", b"plain text ~!"),
        ("100%", b"100%25"),
        ("a\nb\tc", b"a%0Ab%09c"),
        ("caf\u00e9", b"caf%C3%A9"),
        ("\u20ac\U0001f600", b"%E2%82%AC%F0%9F%98%80"),
        ("\x7f", b"%7F"),
        ("\ud800", b"?"),  # lone surrogate: not encodable as UTF-8
    ],
)
def test_encode_grpc_message(text: str, wire: bytes) -> None:
    assert encode_grpc_message(text) == wire


@pytest.mark.parametrize(
    ("wire", "text"),
    [
        (b"plain", "plain"),
        (b"100%25", "100%"),
        (b"caf%c3%a9", "caf\u00e9"),  # lowercase hex accepted
        (b"%zz%4", "%zz%4"),  # invalid sequences left as they are
        (b"50%", "50%"),
        (b"%FF", "\ufffd"),  # invalid UTF-8 replaced
        (b"caf\xc3\xa9", "caf\u00e9"),  # raw UTF-8 from non-conforming peers
    ],
)
def test_decode_grpc_message(wire: bytes, text: str) -> None:
    assert decode_grpc_message(wire) == text


@given(st.text(st.characters(blacklist_categories=["Cs"])))
def test_grpc_message_round_trip(text: str) -> None:
    wire = encode_grpc_message(text)
    assert all(0x20 <= byte <= 0x7E for byte in wire)
    assert decode_grpc_message(wire) == text


@given(st.binary())
def test_decode_grpc_message_never_raises(wire: bytes) -> None:
    decode_grpc_message(wire)


# --- requests -----------------------------------------------------------------------


def test_build_request_headers_minimal() -> None:
    assert build_request_headers(b"/pkg.Svc/Do", b"example.com:443") == [
        (b":method", b"POST"),
        (b":scheme", b"http"),
        (b":path", b"/pkg.Svc/Do"),
        (b":authority", b"example.com:443"),
        (b"te", b"trailers"),
        (b"content-type", b"application/grpc"),
        (b"user-agent", b"grpcx-python/" + grpcx.__version__.encode()),
    ]
    assert b"grpcx-python/" + grpcx.__version__.encode() == USER_AGENT


def test_build_request_headers_full() -> None:
    headers = build_request_headers(
        b"/pkg.Svc/Do",
        b"host",
        scheme=b"https",
        timeout=1.0,
        content_type=b"application/grpc+proto",
        encoding="gzip",
        accept_encoding=b"identity,deflate,gzip",
        user_agent=b"me/1 grpcx-python/0",
        metadata=Metadata([("authorization", "Bearer x"), ("trace-bin", b"\x01")]),
    )
    assert headers == [
        (b":method", b"POST"),
        (b":scheme", b"https"),
        (b":path", b"/pkg.Svc/Do"),
        (b":authority", b"host"),
        (b"grpc-timeout", b"1000000u"),
        (b"te", b"trailers"),
        (b"content-type", b"application/grpc+proto"),
        (b"grpc-encoding", b"gzip"),
        (b"grpc-accept-encoding", b"identity,deflate,gzip"),
        (b"user-agent", b"me/1 grpcx-python/0"),
        (b"authorization", b"Bearer x"),
        (b"trace-bin", b"AQ"),
    ]


def test_build_request_identity_encoding_omitted() -> None:
    headers = build_request_headers(b"/a/b", b"h", encoding="identity")
    assert all(name != b"grpc-encoding" for name, _ in headers)


def test_build_request_refuses_reserved_metadata() -> None:
    with pytest.raises(MetadataError):
        build_request_headers(b"/a/b", b"h", metadata=Metadata([("grpc-timeout", "1S")]))


def _request(**overrides: bytes | None) -> Headers:
    fields: dict[bytes, bytes | None] = {
        b":method": b"POST",
        b":scheme": b"http",
        b":path": b"/pkg.Svc/Do",
        b":authority": b"host",
        b"te": b"trailers",
        b"content-type": b"application/grpc",
    }
    fields.update({key.replace("_", "-").encode(): value for key, value in overrides.items()})
    return [(name, value) for name, value in fields.items() if value is not None]


def test_parse_request_round_trip() -> None:
    metadata = Metadata([("k", "v"), ("k", "w"), ("b-bin", b"\x00\xff")])
    headers = build_request_headers(
        b"/pkg.Svc/Do",
        b"host:1",
        timeout=0.25,
        encoding="gzip",
        accept_encoding=b"gzip, deflate",
        metadata=metadata,
    )
    head = parse_request_headers(headers)
    assert head.path == "/pkg.Svc/Do"
    assert head.service == "pkg.Svc"
    assert head.method == "Do"
    assert head.authority == "host:1"
    assert head.content_type == "application/grpc"
    assert head.timeout == 0.25
    assert head.encoding == "gzip"
    assert head.accept_encoding == ("gzip", "deflate")
    assert head.user_agent == USER_AGENT.decode()
    expected = Metadata([("user-agent", USER_AGENT.decode())])
    expected.extend(metadata)
    assert head.metadata == expected


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        (None, ("gzip", "deflate")),  # absent (grpc-go 1.33): the standard encodings
        (b"", ()),  # present but empty: nothing but identity
        (b"identity", ("identity",)),
        (b"gzip", ("gzip",)),
        (b"identity, deflate", ("identity", "deflate")),
    ],
)
def test_parse_request_accept_encoding(value: bytes | None, accepted: tuple[str, ...]) -> None:
    """A missing grpc-accept-encoding allows gzip and deflate; a present one is exact."""
    extra = {} if value is None else {"grpc_accept_encoding": value}
    assert parse_request_headers(_request(**extra)).accept_encoding == accepted


def test_parse_request_defaults() -> None:
    head = parse_request_headers(_request(te=None, **{":authority": None}))
    assert head.authority is None
    assert head.timeout is None
    assert head.encoding is None
    assert head.accept_encoding == ("gzip", "deflate")  # no header: the standard ones
    assert head.user_agent is None
    assert len(head.metadata) == 0


@pytest.mark.parametrize(
    "content_type",
    [
        b"application/grpc",
        b"application/grpc+proto",
        b"application/grpc+json",
        b"application/grpc;charset=utf-8",
        b"Application/GRPC+proto",
    ],
)
def test_grpc_content_types(content_type: bytes) -> None:
    assert is_grpc_content_type(content_type)
    head = parse_request_headers(_request(content_type=content_type))
    assert head.content_type == content_type.decode()


@pytest.mark.parametrize(
    "content_type", [None, b"application/json", b"application/grpcx", b"text/plain", b""]
)
def test_non_grpc_content_type_is_415(content_type: bytes | None) -> None:
    with pytest.raises(RequestHeadersError) as info:
        parse_request_headers(_request(content_type=content_type))
    assert info.value.http_status == 415
    assert info.value.code is StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("method", [None, b"GET", b"post"])
def test_non_post_is_405(method: bytes | None) -> None:
    with pytest.raises(RequestHeadersError) as info:
        parse_request_headers(_request(**{":method": method}))
    assert info.value.http_status == 405
    assert info.value.code is StatusCode.INTERNAL


@pytest.mark.parametrize("path", [None, b"", b"/", b"noslash", b"/svc", b"/svc/", b"//m", b"a/b"])
def test_malformed_path_is_unimplemented(path: bytes | None) -> None:
    with pytest.raises(RequestHeadersError) as info:
        parse_request_headers(_request(**{":path": path}))
    assert info.value.code is StatusCode.UNIMPLEMENTED
    assert info.value.http_status == 200


def test_bad_timeout_is_internal() -> None:
    with pytest.raises(ProtocolStatusError) as info:
        parse_request_headers(_request(grpc_timeout=b"1x"))
    assert info.value.code is StatusCode.INTERNAL


def test_bad_binary_metadata_is_internal() -> None:
    with pytest.raises(RequestHeadersError) as info:
        parse_request_headers([*_request(), (b"x-bin", b"!!")])
    assert info.value.code is StatusCode.INTERNAL


# --- responses ----------------------------------------------------------------------


def test_build_response_headers() -> None:
    assert build_response_headers() == [
        (b":status", b"200"),
        (b"content-type", b"application/grpc"),
    ]
    assert build_response_headers(
        content_type=b"application/grpc+proto",
        encoding="gzip",
        accept_encoding=b"identity,gzip",
        metadata=Metadata([("k", "v")]),
    ) == [
        (b":status", b"200"),
        (b"content-type", b"application/grpc+proto"),
        (b"grpc-encoding", b"gzip"),
        (b"grpc-accept-encoding", b"identity,gzip"),
        (b"k", b"v"),
    ]
    assert build_response_headers(encoding="identity") == build_response_headers()


def test_response_headers_lists_are_fresh() -> None:
    first = build_response_headers()
    first.append((b"x", b"y"))
    assert build_response_headers() == [
        (b":status", b"200"),
        (b"content-type", b"application/grpc"),
    ]


def test_parse_response_headers() -> None:
    head = parse_response_headers(
        build_response_headers(
            encoding="gzip", accept_encoding=b"gzip", metadata=Metadata([("k", "v")])
        )
    )
    assert head.encoding == "gzip"
    assert head.accept_encoding == ("gzip",)
    assert head.metadata == Metadata([("k", "v")])
    plain = parse_response_headers(build_response_headers())
    assert plain.encoding is None and plain.accept_encoding == () and not plain.metadata


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ([(b"content-type", b"application/grpc")], StatusCode.INTERNAL),
        ([(b":status", b"404"), (b"content-type", b"text/html")], StatusCode.UNIMPLEMENTED),
        ([(b":status", b"503")], StatusCode.UNAVAILABLE),
        ([(b":status", b"500"), (b"content-type", b"application/grpc")], StatusCode.UNKNOWN),
        ([(b":status", b"abc")], StatusCode.UNKNOWN),
        ([(b":status", b"200"), (b"content-type", b"text/html")], StatusCode.UNKNOWN),
        ([(b":status", b"200")], StatusCode.UNKNOWN),
        ([*build_response_headers(), (b"k-bin", b"*")], StatusCode.INTERNAL),
    ],
)
def test_parse_response_headers_errors(headers: Headers, code: StatusCode) -> None:
    with pytest.raises(ProtocolStatusError) as info:
        parse_response_headers(headers)
    assert info.value.code is code


# --- trailers -----------------------------------------------------------------------


def test_build_trailers() -> None:
    assert build_trailers(StatusCode.OK) == [(b"grpc-status", b"0")]
    details = encode_status_details(status_pb2.Status(code=5, message="gone"))
    assert build_trailers(
        StatusCode.NOT_FOUND,
        "gone 100%",
        status_details=details,
        metadata=Metadata([("k", "v")]),
    ) == [
        (b"grpc-status", b"5"),
        (b"grpc-message", b"gone 100%25"),
        (b"grpc-status-details-bin", base64.b64encode(details).rstrip(b"=")),
        (b"k", b"v"),
    ]
    assert build_trailers(StatusCode.UNAUTHENTICATED) == [(b"grpc-status", b"16")]


def test_build_trailers_only() -> None:
    assert build_trailers_only(StatusCode.UNIMPLEMENTED, "nope") == [
        (b":status", b"200"),
        (b"content-type", b"application/grpc"),
        (b"grpc-status", b"12"),
        (b"grpc-message", b"nope"),
    ]
    assert build_trailers_only(
        StatusCode.INVALID_ARGUMENT, "bad", http_status=415, accept_encoding=b"identity"
    ) == [
        (b":status", b"415"),
        (b"content-type", b"application/grpc"),
        (b"grpc-accept-encoding", b"identity"),
        (b"grpc-status", b"3"),
        (b"grpc-message", b"bad"),
    ]


@given(
    st.sampled_from(list(StatusCode)),
    st.text(st.characters(blacklist_categories=["Cs"]), max_size=40),
)
def test_trailers_round_trip(code: StatusCode, message: str) -> None:
    details = status_pb2.Status(code=code, message=message)
    metadata = Metadata([("k", "v"), ("b-bin", b"\x00")])
    for trailers_only, headers in [
        (
            False,
            build_trailers(
                code, message, status_details=details.SerializeToString(), metadata=metadata
            ),
        ),
        (
            True,
            build_trailers_only(
                code, message, status_details=details.SerializeToString(), metadata=metadata
            ),
        ),
    ]:
        status = parse_trailers(headers, trailers_only=trailers_only)
        assert status == CallStatus(code, message, details, metadata)


def test_call_status_to_error() -> None:
    metadata = Metadata([("k", "v")])
    error = CallStatus(StatusCode.ABORTED, "m", None, metadata).to_error()
    assert isinstance(error, RpcError)
    assert (error.code(), error.details(), error.trailing_metadata()) == (
        StatusCode.ABORTED,
        "m",
        metadata,
    )


def test_trailers_details_code_mismatch_trusts_grpc_status() -> None:
    details = status_pb2.Status(code=3).SerializeToString()
    status = parse_trailers(build_trailers(StatusCode.INTERNAL, "x", status_details=details))
    assert status.code is StatusCode.INTERNAL
    assert status.status_details is None


@pytest.mark.parametrize(
    ("headers", "trailers_only", "code"),
    [
        ([], False, StatusCode.UNKNOWN),
        ([(b"grpc-message", b"hi")], False, StatusCode.UNKNOWN),
        ([(b"grpc-status", b"17")], False, StatusCode.UNKNOWN),
        ([(b"grpc-status", b"999999999999")], False, StatusCode.UNKNOWN),
        ([(b"grpc-status", b"007")], False, StatusCode.PERMISSION_DENIED),
        ([(b"grpc-status", b"x")], False, StatusCode.INTERNAL),
        ([(b"grpc-status", b"")], False, StatusCode.INTERNAL),
        ([(b"grpc-status", b"-1")], False, StatusCode.INTERNAL),
        ([(b"grpc-status", b"0"), (b"k-bin", b"!")], False, StatusCode.INTERNAL),
        ([(b"grpc-status", b"0"), (b"grpc-status-details-bin", b"!")], False, StatusCode.INTERNAL),
        # Trailers-Only without grpc-status: map the HTTP status.
        ([(b":status", b"401")], True, StatusCode.UNAUTHENTICATED),
        ([(b":status", b"502"), (b"content-type", b"text/html")], True, StatusCode.UNAVAILABLE),
        ([(b":status", b"200"), (b"content-type", b"application/grpc")], True, StatusCode.UNKNOWN),
        ([(b":status", b"200"), (b"content-type", b"text/html")], True, StatusCode.UNKNOWN),
        ([(b"content-type", b"application/grpc")], True, StatusCode.INTERNAL),
        # grpc-status, when present, is used whatever the HTTP status.
        ([(b":status", b"503"), (b"grpc-status", b"0")], True, StatusCode.OK),
        ([(b":status", b"415"), (b"grpc-status", b"3")], True, StatusCode.INVALID_ARGUMENT),
    ],
)
def test_parse_trailers_synthesized(
    headers: Headers, trailers_only: bool, code: StatusCode
) -> None:
    status = parse_trailers(headers, trailers_only=trailers_only)
    assert status.code is code
    assert isinstance(status.message, str)


def test_parse_trailers_lenient_message() -> None:
    status = parse_trailers([(b"grpc-status", b"2"), (b"grpc-message", b"bad %zz \xff")])
    assert status.message == "bad %zz \ufffd"


def test_parse_trailers_skips_transport_headers_from_metadata() -> None:
    status = parse_trailers(
        [(b"grpc-status", b"0"), (b"grpc-encoding", b"gzip"), (b":status", b"200"), (b"x", b"1")]
    )
    assert list(status.trailing_metadata) == [("x", "1")]


@given(
    st.lists(st.tuples(st.binary(max_size=20), st.binary(max_size=20)), max_size=8), st.booleans()
)
def test_parse_trailers_never_raises(headers: Headers, trailers_only: bool) -> None:
    status = parse_trailers(headers, trailers_only=trailers_only)
    assert isinstance(status.code, StatusCode)


@given(st.lists(st.tuples(st.binary(max_size=20), st.binary(max_size=20)), max_size=8))
def test_parse_request_fails_only_with_status(headers: Headers) -> None:
    try:
        parse_request_headers([*_request(), *headers])
    except ProtocolStatusError as exc:
        assert isinstance(exc.code, StatusCode)
