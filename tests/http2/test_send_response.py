"""H2Connection.send_response: a whole response in one call, equal on the wire to
send_headers + send_data + send_trailers, with fallbacks when windows or frames don't fit."""

from __future__ import annotations

from typing import Any

import pytest

from grpcx.http2 import frames as fr
from grpcx.http2.connection import StreamStateError
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
