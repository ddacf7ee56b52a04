"""H2Connection.send_response: a whole response in one call, equal on the wire to
send_headers + send_data + send_trailers, with fallbacks when windows or frames don't fit;
and send_request, its client-side twin (open_stream + send_data)."""

from __future__ import annotations

from typing import Any

import pytest

from grpcx.http2 import frames as fr
from grpcx.http2.connection import (
    ConnectionClosedError,
    LocalProtocolError,
    StreamStateError,
    TooManyStreamsError,
)
from grpcx.http2.stream_states import StreamState

REQUEST = [(b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/s/m"), (b":authority", b"a")]
RESPONSE = [(b":status", b"200"), (b"content-type", b"application/grpc")]
TRAILERS = [(b"grpc-status", b"0")]


def open_request(peer: Any, stream_id: int = 1) -> None:
    peer.send(peer.headers(stream_id, REQUEST, end_stream=True))
    peer.read()


def test_whole_response_in_order(peer: Any) -> None:
    open_request(peer)
    peer.conn.send_response(1, RESPONSE, b"payload", TRAILERS)
    frames = peer.read()
    assert [f.type for f in frames] == [fr.HEADERS, fr.DATA, fr.HEADERS]
    assert peer.decode(frames[0].data) == RESPONSE
    assert frames[1].data == b"payload" and not frames[1].flags & fr.FLAG_END_STREAM
    assert peer.decode(frames[2].data) == TRAILERS
    assert frames[2].flags & fr.FLAG_END_STREAM
    assert peer.conn.stream_state(1) is StreamState.CLOSED
    assert peer.conn.remote_window(1) is not None


def test_headers_already_sent_and_empty_data(peer: Any) -> None:
    open_request(peer)
    peer.conn.send_headers(1, RESPONSE)
    peer.conn.send_response(1, None, b"", TRAILERS)
    frames = peer.read()
    assert [f.type for f in frames] == [fr.HEADERS, fr.HEADERS]
    assert frames[1].flags & fr.FLAG_END_STREAM


def test_falls_back_when_the_window_is_short(make_peer: Any) -> None:
    peer = make_peer(peer_settings=[(fr.SETTINGS_INITIAL_WINDOW_SIZE, 10)])
    open_request(peer)
    peer.conn.send_response(1, RESPONSE, b"x" * 25, TRAILERS)
    frames = peer.read()
    assert [f.type for f in frames] == [fr.HEADERS, fr.DATA]  # 10 bytes, the rest queued
    assert frames[1].data == b"x" * 10
    peer.send(fr.build_window_update(1, 100))
    frames = peer.read()
    assert [f.type for f in frames] == [fr.DATA, fr.HEADERS]
    assert frames[0].data == b"x" * 15
    assert peer.decode(frames[1].data) == TRAILERS and frames[1].flags & fr.FLAG_END_STREAM


def test_large_blocks_use_continuation(peer: Any) -> None:
    open_request(peer)
    big = [*RESPONSE, (b"x-big", b"v" * 40_000)]
    peer.conn.send_response(1, big, b"p", [*TRAILERS, (b"x-big-trailer", b"t" * 40_000)])
    frames = peer.read()
    kinds = [f.type for f in frames]
    assert kinds[0] == fr.HEADERS and fr.CONTINUATION in kinds
    blocks: list[bytes] = []
    current = b""
    for frame in frames:
        if frame.type in (fr.HEADERS, fr.CONTINUATION):
            current += frame.data
            if frame.flags & fr.FLAG_END_HEADERS:
                blocks.append(current)
                current = b""
    assert [peer.decode(b) for b in blocks] == [big, [*TRAILERS, (b"x-big-trailer", b"t" * 40_000)]]


def test_refused_on_a_closed_stream_without_writing(peer: Any) -> None:
    open_request(peer)
    peer.conn.send_response(1, RESPONSE, b"a", TRAILERS)
    peer.read()
    with pytest.raises(StreamStateError):
        peer.conn.send_response(1, RESPONSE, b"a", TRAILERS)
    assert peer.read() == []


RESPONSE_T = tuple(RESPONSE)
TRAILERS_T = tuple(TRAILERS)


def _response_blocks(peer: Any) -> list[list[tuple[bytes, bytes]]]:
    return [peer.decode(f.data) for f in peer.read() if f.type == fr.HEADERS]


def test_repeated_constant_blocks_follow_the_table(make_peer: Any) -> None:
    """The framing kept for constant header and trailer tuples is used only while the
    HPACK table is as it was: responses that change the table, and the peer's new table
    size, come between them, and python-hyper's decoder (sharing the peer's HPACK state)
    reads every block right."""
    peer = make_peer()
    stream_id = 1
    expected: list[list[tuple[bytes, bytes]]] = []

    def respond(headers: Any, trailers: Any) -> None:
        nonlocal stream_id
        peer.send(peer.headers(stream_id, REQUEST, end_stream=True))
        peer.conn.send_response(stream_id, headers, b"x", trailers)
        expected.extend([list(headers), list(trailers)])
        stream_id += 2

    for round_ in range(3):
        respond(RESPONSE_T, TRAILERS_T)
        respond(RESPONSE_T, TRAILERS_T)
        # Custom metadata is indexed: the table changes, then the constant blocks again.
        respond((*RESPONSE_T, (b"x-round", b"%d" % round_)), TRAILERS_T)
        respond(RESPONSE_T, TRAILERS_T)
        respond(RESPONSE_T, (*TRAILERS_T, (b"x-t", b"v" * (50 + round_))))
        respond(RESPONSE_T, TRAILERS_T)
    assert _response_blocks(peer) == expected
    expected.clear()
    # A smaller table from the peer: the next block starts with a size update.
    peer.send(fr.build_settings([(fr.SETTINGS_HEADER_TABLE_SIZE, 0)]))
    respond(RESPONSE_T, TRAILERS_T)
    respond(RESPONSE_T, TRAILERS_T)
    blocks = [f.data for f in peer.read() if f.type == fr.HEADERS]
    assert blocks[0][0] & 0xE0 == 0x20  # a dynamic table size update first
    assert [peer.decode(b) for b in blocks] == expected


def test_header_lists_are_encoded_each_time(peer: Any) -> None:
    """Only tuples are kept by identity: a list may change between responses."""
    headers = list(RESPONSE)
    trailers = list(TRAILERS)
    peer.send(peer.headers(1, REQUEST, end_stream=True))
    peer.conn.send_response(1, headers, b"x", trailers)
    headers.append((b"x-later", b"1"))
    trailers[0] = (b"grpc-status", b"5")
    peer.send(peer.headers(3, REQUEST, end_stream=True))
    peer.conn.send_response(3, headers, b"x", trailers)
    assert _response_blocks(peer) == [
        RESPONSE,
        TRAILERS,
        [*RESPONSE, (b"x-later", b"1")],
        [(b"grpc-status", b"5")],
    ]


# ------------------------------------------------------------ send_request (client side)


def test_send_request_frames_headers_and_data(client_peer: Any) -> None:
    conn = client_peer.conn
    assert conn.send_request(REQUEST, b"message") == 1
    assert conn.send_request(REQUEST, b"second", end_stream=False) == 3
    frames = client_peer.read()
    assert [(f.type, f.stream_id) for f in frames] == [
        (fr.HEADERS, 1), (fr.DATA, 1), (fr.HEADERS, 3), (fr.DATA, 3)
    ]  # fmt: skip
    assert [client_peer.decode(frames[i].data) for i in (0, 2)] == [REQUEST, REQUEST]
    assert frames[0].flags == fr.FLAG_END_HEADERS and frames[2].flags == fr.FLAG_END_HEADERS
    assert frames[1].data == b"message" and frames[1].flags == fr.FLAG_END_STREAM
    assert frames[3].data == b"second" and frames[3].flags == 0
    assert conn.stream_state(1) is StreamState.HALF_CLOSED_LOCAL
    assert conn.stream_state(3) is StreamState.OPEN
    conn.send_data(3, b"more", end_stream=True)
    assert [f.data for f in client_peer.read()] == [b"more"]
    assert conn.remote_window(1) == 65_535 - len(b"message")
    # Without data (or with none), it is open_stream.
    assert conn.send_request(REQUEST) == 5
    frames = client_peer.read()
    assert [(f.type, f.flags) for f in frames] == [
        (fr.HEADERS, fr.FLAG_END_HEADERS | fr.FLAG_END_STREAM)
    ]


def test_send_request_falls_back_when_windows_or_frames_are_short(make_peer: Any) -> None:
    peer = make_peer(conn_is_client=True, peer_settings=[(fr.SETTINGS_INITIAL_WINDOW_SIZE, 10)])
    assert peer.conn.send_request(REQUEST, b"x" * 25) == 1
    frames = peer.read()
    assert [f.type for f in frames] == [fr.HEADERS, fr.DATA]  # 10 bytes, the rest queued
    assert frames[1].data == b"x" * 10 and not frames[1].flags
    peer.send(fr.build_window_update(1, 100))
    frames = peer.read()
    assert frames[0].data == b"x" * 15 and frames[0].flags & fr.FLAG_END_STREAM
    # Headers too large for one frame: CONTINUATION, then the DATA.
    big = [*REQUEST, (b"x-big", b"v" * 40_000)]
    peer = make_peer(conn_is_client=True)
    assert peer.conn.send_request(big, b"body") == 1
    frames = peer.read()
    kinds = [f.type for f in frames]
    assert kinds[0] == fr.HEADERS and kinds[-1] == fr.DATA and fr.CONTINUATION in kinds
    block = b"".join(f.data for f in frames[:-1])
    assert peer.decode(block) == big
    assert frames[-1].data == b"body" and frames[-1].flags & fr.FLAG_END_STREAM


def test_send_request_refused_without_writing(make_peer: Any, peer: Any) -> None:
    with pytest.raises(LocalProtocolError):  # a server cannot open streams
        peer.conn.send_request(REQUEST, b"x")
    assert peer.read() == []
    client = make_peer(conn_is_client=True, peer_settings=[(fr.SETTINGS_MAX_CONCURRENT_STREAMS, 1)])
    client.conn.send_request(REQUEST, b"a")
    client.read()
    with pytest.raises(TooManyStreamsError):
        client.conn.send_request(REQUEST, b"b")
    assert client.read() == []
    client.send(fr.build_goaway(1, 0))
    with pytest.raises(ConnectionClosedError):
        client.conn.send_request(REQUEST, b"c")
    assert client.read() == []
    # Nothing refused touched HPACK: a later request on a fresh slot still decodes.
    client = make_peer(conn_is_client=True, peer_settings=[(fr.SETTINGS_MAX_CONCURRENT_STREAMS, 1)])
    client.conn.send_request(REQUEST, b"a")
    with pytest.raises(TooManyStreamsError):
        client.conn.send_request([*REQUEST, (b"x-new", b"1")], b"b")
    client.send(client.headers(1, [(b":status", b"200")], end_stream=True))
    client.conn.send_request([*REQUEST, (b"x-other", b"2")], b"c")
    frames = [f for f in client.read() if f.type == fr.HEADERS]
    assert [client.decode(f.data) for f in frames] == [REQUEST, [*REQUEST, (b"x-other", b"2")]]
