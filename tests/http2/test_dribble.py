"""The data dribble (CVE-2019-9511): a peer granting flow-control window a few bytes at a
time must not make the core send DATA a few bytes at a time.

Window granted in one ``receive_data`` is added up and the waiting streams are flushed
once at its end, round-robin; a steady flow of tiny grants for data that waits is a flood
(GOAWAY ENHANCE_YOUR_CALM), while peers with small but steady windows, or that grant in
large steps, are served.
"""

from __future__ import annotations

from typing import Any

import pytest

from grpcx.http2 import frames as fr
from grpcx.http2.errors import ErrorCode
from grpcx.http2.events import ConnectionTerminated, SendQueueDrained
from grpcx.http2.settings import H2Config

RawPeer = Any

REQUEST = [
    (b":method", b"POST"),
    (b":scheme", b"http"),
    (b":path", b"/pkg.Service/Method"),
    (b":authority", b"localhost"),
    (b"content-type", b"application/grpc"),
]
RESPONSE = [(b":status", b"200"), (b"content-type", b"application/grpc")]
# The flood limit out of the way, to see the coalescing alone.
LENIENT = H2Config(small_window_update_burst=10**6)


def data_sizes(peer: RawPeer) -> list[int]:
    return [len(f.data) for f in peer.read() if f.type == fr.DATA]


def terminated(events: list[Any]) -> int | None:
    ends = [e.error_code for e in events if isinstance(e, ConnectionTerminated)]
    return ends[0] if ends else None


def blocked_response(peer: RawPeer, stream_id: int, size: int) -> int:
    """A request on ``stream_id`` whose response of ``size`` bytes waits for window;
    returns how much of it was sent at once."""
    peer.send(peer.headers(stream_id, REQUEST, end_stream=True))
    peer.conn.send_headers(stream_id, RESPONSE)
    peer.conn.send_data(stream_id, bytes(size), end_stream=True)
    assert peer.conn.outbound_queued(stream_id) > 0
    return sum(data_sizes(peer))


def test_many_stream_grants_in_one_read_make_one_flush(make_peer: Any) -> None:
    """20,000 one-byte stream WINDOW_UPDATEs in one read: 20,000 bytes in as few frames as
    MAX_FRAME_SIZE allows, not 20,000 one-byte frames."""
    peer = make_peer(config=LENIENT, peer_settings=[(fr.SETTINGS_INITIAL_WINDOW_SIZE, 0)])
    blocked_response(peer, 1, 100_000)
    events = peer.send(*[fr.build_window_update(1, 1)] * 20_000)
    assert events == []
    assert data_sizes(peer) == [16_384, 20_000 - 16_384]
    assert peer.conn.outbound_queued(1) == 80_000


def test_many_connection_grants_in_one_read_make_one_flush(make_peer: Any) -> None:
    """The same for the connection window, shared fairly by the waiting streams."""
    peer = make_peer(config=LENIENT, peer_settings=[(fr.SETTINGS_INITIAL_WINDOW_SIZE, 10**6)])
    blocked_response(peer, 1, 70_000)  # takes the whole 65,535 connection window
    blocked_response(peer, 3, 70_000)
    assert peer.conn.remote_window(0) == 0
    peer.send(*[fr.build_window_update(0, 1)] * 20_000)
    sent: dict[int, int] = {}
    frames = [f for f in peer.read() if f.type == fr.DATA]
    for f in frames:
        sent[f.stream_id] = sent.get(f.stream_id, 0) + len(f.data)
    # Stream 1 had 4,465 bytes left, stream 3 all of its 70,000: round-robin, a frame's
    # worth each per round, stream 1 ending in the first and stream 3 taking the rest.
    assert sent == {1: 4_465, 3: 20_000 - 4_465}
    assert len(frames) == 2


def test_stream_and_settings_grants_in_one_read_are_flushed_after_all(make_peer: Any) -> None:
    """A SETTINGS INITIAL_WINDOW_SIZE increase and WINDOW_UPDATEs in one read: one flush
    with everything they allow, at the end of the read (after the SETTINGS ACK)."""
    peer = make_peer(config=LENIENT, peer_settings=[(fr.SETTINGS_INITIAL_WINDOW_SIZE, 0)])
    blocked_response(peer, 1, 1_000)
    events = peer.send(
        fr.build_settings([(fr.SETTINGS_INITIAL_WINDOW_SIZE, 10)]),
        *[fr.build_window_update(1, 1)] * 990,
    )
    assert events[-1] == SendQueueDrained(1)
    out = peer.read()
    assert [f.type for f in out] == [fr.SETTINGS, fr.DATA]
    assert len(out[1].data) == 1_000 and out[1].flags & fr.FLAG_END_STREAM


def test_tiny_grant_flood_over_several_reads_is_enhance_your_calm(make_peer: Any) -> None:
    """The issue's flood spread over reads (the default limits): GOAWAY ENHANCE_YOUR_CALM,
    and until then never more than one DATA frame per read."""
    peer = make_peer(peer_settings=[(fr.SETTINGS_INITIAL_WINDOW_SIZE, 0)])
    blocked_response(peer, 1, 10**6)
    for read in range(40):
        peer.now = read * 0.01
        events = peer.send(*[fr.build_window_update(1, 1)] * 500)
        if terminated(events) is not None:
            break
        assert len(data_sizes(peer)) == 1
    else:
        pytest.fail("20,000 one-byte WINDOW_UPDATEs were never stopped")
    assert terminated(events) == ErrorCode.ENHANCE_YOUR_CALM
    goaways = [f for f in peer.read() if f.type == fr.GOAWAY]
    assert [f.error_code for f in goaways] == [ErrorCode.ENHANCE_YOUR_CALM]
    # The same on the connection window.
    peer = make_peer(peer_settings=[(fr.SETTINGS_INITIAL_WINDOW_SIZE, 10**6)])
    blocked_response(peer, 1, 10**6)
    for read in range(40):
        peer.now = read * 0.01
        events = peer.send(*[fr.build_window_update(0, 1)] * 500)
        if terminated(events) is not None:
            break
        assert data_sizes(peer) == [500]
    assert terminated(events) == ErrorCode.ENHANCE_YOUR_CALM


def exchange(peer: RawPeer, size: int, grant: Any) -> int:
    """A response of ``size`` bytes, the peer granting ``grant(received)`` on the stream
    (and on the connection) after each read; returns the number of reads."""
    got = received = blocked_response(peer, 1, size)
    reads = 0
    while received < size:
        increment = grant(got)
        events = peer.send(
            fr.build_window_update(1, increment), fr.build_window_update(0, increment)
        )
        assert terminated(events) is None, f"stopped after {received} bytes"
        got = sum(data_sizes(peer))
        received += got
        reads += 1
        assert got > 0 and reads < 100_000
    return reads


def test_a_small_steady_window_is_served(make_peer: Any) -> None:
    """A peer keeping a 100-byte window, granting what it received each time: a normal
    size transfer (100 KB, a thousand grants) goes through without tripping the limit."""
    peer = make_peer(peer_settings=[(fr.SETTINGS_INITIAL_WINDOW_SIZE, 100)])
    assert exchange(peer, 100_000, lambda got: max(got, 1)) > 900


def test_large_grants_never_count(make_peer: Any) -> None:
    """Grants of at least ``small_window_increment`` are never a dribble, however many:
    here 12,000 grants of 256 bytes in the same instant."""
    peer = make_peer(
        config=H2Config(small_window_update_burst=1, max_small_window_updates_per_second=1e-9),
        peer_settings=[(fr.SETTINGS_INITIAL_WINDOW_SIZE, 256)],
    )
    assert exchange(peer, 3_000_000, lambda got: 256) > 11_000


def test_a_grant_covering_what_waits_never_counts(make_peer: Any) -> None:
    """The last, small grant of a transfer ends it: not a dribble."""
    peer = make_peer(
        config=H2Config(small_window_update_burst=1, max_small_window_updates_per_second=1e-9),
        peer_settings=[(fr.SETTINGS_INITIAL_WINDOW_SIZE, 0)],
    )
    for stream_id in range(1, 20, 2):
        blocked_response(peer, stream_id, 10)
        events = peer.send(fr.build_window_update(stream_id, 10))
        assert events == [SendQueueDrained(stream_id)]
        assert data_sizes(peer) == [10]


def test_small_grants_to_a_window_with_room_never_count(make_peer: Any) -> None:
    """Small stream grants while the stream's window has room (the data waits for the
    connection window) are not a dribble: a peer acknowledging each small message it
    consumes is served."""
    peer = make_peer(
        config=H2Config(small_window_update_burst=1, max_small_window_updates_per_second=1e-9),
        peer_settings=[(fr.SETTINGS_INITIAL_WINDOW_SIZE, 10**6)],
    )
    blocked_response(peer, 1, 100_000)  # the 65,535-byte connection window is used up
    events = peer.send(*[fr.build_window_update(1, 10) for _ in range(100)])
    assert terminated(events) is None
    events = peer.send(fr.build_window_update(0, 10**6))
    assert events == [SendQueueDrained(1)]


def test_limit_configuration_is_validated() -> None:
    with pytest.raises(ValueError):
        H2Config(small_window_update_burst=0)
    with pytest.raises(ValueError):
        H2Config(max_small_window_updates_per_second=0)
    with pytest.raises(ValueError):
        H2Config(small_window_increment=-1)
