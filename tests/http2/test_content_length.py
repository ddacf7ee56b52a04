"""content-length against the DATA received (RFC 9113 §8.1.1), on both sides of the core.

A request or response whose ``content-length`` is not a valid non-negative integer, or
disagrees with the DATA payloads (padding excluded) that make up its content, is malformed:
the stream ends with RST_STREAM PROTOCOL_ERROR and the application sees a local
StreamReset. gRPC peers never send the field; these are the peers that do.
"""

from __future__ import annotations

from typing import Any

import pytest

from grpcx.http2 import frames as fr
from grpcx.http2.errors import ErrorCode
from grpcx.http2.events import (
    DataReceived,
    HeadersReceived,
    StreamReset,
    TrailersReceived,
)

RawPeer = Any

REQUEST = [
    (b":method", b"POST"),
    (b":scheme", b"http"),
    (b":path", b"/pkg.Service/Method"),
    (b":authority", b"localhost"),
    (b"content-type", b"application/grpc"),
]
TRAILERS = [(b"grpc-status", b"0")]


def with_length(headers: list[tuple[bytes, bytes]], *values: bytes) -> list[tuple[bytes, bytes]]:
    return [*headers, *((b"content-length", value) for value in values)]


def resets(peer: RawPeer) -> dict[int, int | None]:
    return {f.stream_id: f.error_code for f in peer.read() if f.type == fr.RST_STREAM}


def reset_event(stream_id: int) -> StreamReset:
    return StreamReset(stream_id, ErrorCode.PROTOCOL_ERROR, False)


def test_the_issue_case_declared_1000_sent_111(peer: RawPeer) -> None:
    """The issue's request: 1,000 bytes declared, 111 sent, then END_STREAM."""
    events = peer.send(peer.headers(1, with_length(REQUEST, b"1000")))
    assert events == [HeadersReceived(1, with_length(REQUEST, b"1000"), False)]
    events = peer.send(fr.build_data(1, b"x" * 111, end_stream=True))
    assert events == [reset_event(1)]
    assert resets(peer) == {1: ErrorCode.PROTOCOL_ERROR}


@pytest.mark.parametrize(
    ("declared", "frames", "delivered"),
    [
        # exact, in one frame, in several (a run of small frames), with padding
        (b"10", [(b"0123456789", 0, True)], b"0123456789"),
        (b"6", [(b"ab", 0, False), (b"cd", 0, False), (b"ef", 0, True)], b"abcdef"),
        (b"4", [(b"ab", 7, False), (b"cd", 200, True)], b"abcd"),
        (b"0", [(b"", 0, True)], b""),
        # a list of identical values counts as one (RFC 9110 §8.6)
        (b"3, 3", [(b"abc", 0, True)], b"abc"),
    ],
    ids=["one-frame", "run", "padded", "zero", "identical-list"],
)
def test_content_that_matches_is_delivered(
    peer: RawPeer, declared: bytes, frames: list[tuple[bytes, int, bool]], delivered: bytes
) -> None:
    peer.send(peer.headers(1, with_length(REQUEST, declared)))
    events = peer.send(
        *(fr.build_data(1, data, end_stream=end, pad_length=pad) for data, pad, end in frames)
    )
    assert all(type(e) is DataReceived for e in events), events
    assert b"".join(e.data for e in events) == delivered
    assert events[-1].end_stream
    assert resets(peer) == {}


@pytest.mark.parametrize(
    "frames",
    [
        [(b"x" * 5, False), (b"y" * 6, True)],  # more than declared, at the end
        [(b"x" * 11, False)],  # more than declared before the end: reset at once
        [(b"x", False)] * 11,  # the same in a run of small frames
        [(b"x" * 9, True)],  # less
        [(b"x" * 9, False), (b"", True)],  # less, ended by an empty DATA
    ],
    ids=["over-at-end", "over-on-the-way", "over-in-a-run", "under", "under-empty-end"],
)
def test_content_that_disagrees_resets_the_stream(
    peer: RawPeer, frames: list[tuple[bytes, bool]]
) -> None:
    peer.send(peer.headers(1, with_length(REQUEST, b"10")))
    events = peer.send(*(fr.build_data(1, data, end_stream=end) for data, end in frames))
    assert events[-1] == reset_event(1)
    # What went before the excess is delivered; never more than declared.
    assert sum(len(e.data) for e in events if type(e) is DataReceived) <= 10
    assert resets(peer) == {1: ErrorCode.PROTOCOL_ERROR}
    # The connection goes on.
    events = peer.send(peer.headers(3, REQUEST, end_stream=True))
    assert events == [HeadersReceived(3, REQUEST, True)]


@pytest.mark.parametrize(
    "values",
    [(b"-1",), (b"+5",), (b"ten",), (b"",), (b"5", b"6"), (b"5, 6",), (b"0x10",), (b"1 0",)],
)
def test_invalid_content_length_is_malformed(peer: RawPeer, values: tuple[bytes, ...]) -> None:
    # Like any malformed request, never surfaced to the application.
    events = peer.send(peer.headers(1, with_length(REQUEST, *values)))
    assert events == []
    assert resets(peer) == {1: ErrorCode.PROTOCOL_ERROR}


def test_request_ended_by_headers_or_trailers_short_of_its_length(peer: RawPeer) -> None:
    # HEADERS with END_STREAM: no content at all (a malformed request: never surfaced).
    events = peer.send(peer.headers(1, with_length(REQUEST, b"3"), end_stream=True))
    assert events == []
    assert resets(peer) == {1: ErrorCode.PROTOCOL_ERROR}
    # Trailers after part of the content.
    peer.send(peer.headers(3, with_length(REQUEST, b"3")), fr.build_data(3, b"ab"))
    events = peer.send(peer.headers(3, TRAILERS, end_stream=True))
    assert events == [reset_event(3)]
    assert resets(peer) == {3: ErrorCode.PROTOCOL_ERROR}
    # All of it, then trailers; and a zero length ended by HEADERS: both fine.
    peer.send(peer.headers(5, with_length(REQUEST, b"2")), fr.build_data(5, b"ab"))
    events = peer.send(peer.headers(5, TRAILERS, end_stream=True))
    assert events == [TrailersReceived(5, TRAILERS)]
    events = peer.send(peer.headers(7, with_length(REQUEST, b"0"), end_stream=True))
    assert events == [HeadersReceived(7, with_length(REQUEST, b"0"), True)]
    assert resets(peer) == {}


def test_a_repeated_header_block_is_checked_each_time(peer: RawPeer) -> None:
    """Header lists found valid are cached by their HPACK block; the declared length must
    come with the cache entry, not only from the first validation."""
    headers = with_length(REQUEST, b"2")
    for stream_id in (1, 3, 5):
        peer.send(peer.headers(stream_id, headers))
    events = peer.send(
        fr.build_data(1, b"ab", end_stream=True),
        fr.build_data(3, b"abc", end_stream=True),
        fr.build_data(5, b"a", end_stream=True),
    )
    assert events == [DataReceived(1, b"ab", 2, True), reset_event(3), reset_event(5)]


def test_response_content_length(client_peer: RawPeer) -> None:
    conn = client_peer.conn
    response = [(b":status", b"200"), (b"content-length", b"4")]
    ids = [conn.open_stream(REQUEST, end_stream=True) for _ in range(3)]
    client_peer.read()
    events = client_peer.send(
        client_peer.headers(ids[0], response),
        fr.build_data(ids[0], b"abcd", end_stream=True),
        client_peer.headers(ids[1], response),
        fr.build_data(ids[1], b"abcde", end_stream=True),
        client_peer.headers(ids[2], response, end_stream=True),
    )
    assert events == [
        HeadersReceived(ids[0], response, False),
        DataReceived(ids[0], b"abcd", 4, True),
        HeadersReceived(ids[1], response, False),
        reset_event(ids[1]),
        reset_event(ids[2]),
    ]
    assert resets(client_peer) == {
        ids[1]: ErrorCode.PROTOCOL_ERROR,
        ids[2]: ErrorCode.PROTOCOL_ERROR,
    }


@pytest.mark.parametrize("status", [b"204", b"304"])
def test_responses_without_content_ignore_the_length(client_peer: RawPeer, status: bytes) -> None:
    """A 304 carries the length of the content it stands for (RFC 9110 §8.6), a 204 none."""
    conn = client_peer.conn
    stream_id = conn.open_stream(REQUEST, end_stream=True)
    client_peer.read()
    response = [(b":status", status), (b"content-length", b"1234")]
    events = client_peer.send(client_peer.headers(stream_id, response, end_stream=True))
    assert events == [HeadersReceived(stream_id, response, True)]
    assert resets(client_peer) == {}
