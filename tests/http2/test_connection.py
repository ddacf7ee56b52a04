"""Tests of the sans-IO HTTP/2 connection.

Sections: an in-memory client/server pair (bulk exchange, byte-at-a-time delivery), the
stream state table, flow-control properties, frame-level behaviour against a raw peer, and
hostile peers hitting each limit.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grpcx.http2 import frames as fr
from grpcx.http2.connection import (
    ConnectionClosedError,
    H2Connection,
    StreamStateError,
    TooManyStreamsError,
)
from grpcx.http2.errors import ErrorCode, H2ConnectionError, H2StreamError
from grpcx.http2.events import (
    ConnectionTerminated,
    DataReceived,
    Event,
    GoAwayReceived,
    HeadersReceived,
    InformationalHeadersReceived,
    KeyedCache,
    PingAcked,
    PingReceived,
    SendQueueDrained,
    SettingsAcked,
    SettingsReceived,
    StreamReset,
    TrailersReceived,
)
from grpcx.http2.settings import H2Config
from grpcx.http2.stream_states import (
    CLOSED_STATES,
    RECEIVE_INPUTS,
    SEND_INPUTS,
    TRANSITIONS,
    StreamInput,
    StreamState,
    compose,
    next_state,
    reject,
)

# The harness classes live in conftest.py and reach tests through the ``make_pair`` and
# ``make_peer`` fixtures (tests/ is not a package); these aliases are for annotations.
ConnectionPair = Any
RawPeer = Any

REQUEST = [
    (b":method", b"POST"),
    (b":scheme", b"http"),
    (b":path", b"/pkg.Service/Method"),
    (b":authority", b"localhost"),
    (b"content-type", b"application/grpc"),
    (b"te", b"trailers"),
]
RESPONSE = [(b":status", b"200"), (b"content-type", b"application/grpc")]
TRAILERS = [(b"grpc-status", b"0")]

SMALL = H2Config(
    initial_window_size=65_535,
    connection_window_size=65_535,
    max_concurrent_streams=1000,
)


def body(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


# ===================================================================== in-memory pair


@dataclass
class EchoExchange:
    """Client streams request bodies; the server echoes each chunk back as it arrives and
    ends with trailers. Both "applications" acknowledge data as they consume it."""

    pair: ConnectionPair
    sent: dict[int, bytes] = field(default_factory=dict)
    echoed: dict[int, list[bytes]] = field(default_factory=dict)
    finished: set[int] = field(default_factory=set)
    drained: int = 0

    def __post_init__(self) -> None:
        self.pair.on_server = self.server_app
        self.pair.on_client = self.client_app

    def server_app(self, conn: H2Connection, event: Event) -> None:
        if isinstance(event, HeadersReceived):
            conn.send_headers(event.stream_id, RESPONSE)
            if event.end_stream:
                conn.send_trailers(event.stream_id, TRAILERS)
        elif isinstance(event, DataReceived):
            conn.acknowledge_received_data(event.stream_id, event.flow_controlled_length)
            if event.data:
                conn.send_data(event.stream_id, event.data)
            if event.end_stream:
                conn.send_trailers(event.stream_id, TRAILERS)
        elif isinstance(event, SendQueueDrained):
            self.drained += 1
        else:
            assert isinstance(event, (SettingsReceived, SettingsAcked)), event

    def client_app(self, conn: H2Connection, event: Event) -> None:
        if isinstance(event, DataReceived):
            conn.acknowledge_received_data(event.stream_id, event.flow_controlled_length)
            self.echoed.setdefault(event.stream_id, []).append(event.data)
        elif isinstance(event, TrailersReceived):
            assert event.headers == TRAILERS
            self.finished.add(event.stream_id)
        elif isinstance(event, HeadersReceived):
            assert event.headers == RESPONSE
        elif isinstance(event, SendQueueDrained):
            self.drained += 1
        else:
            assert isinstance(event, (SettingsReceived, SettingsAcked)), event

    def request(self, payload: bytes) -> int:
        stream_id = self.pair.client.open_stream(REQUEST)
        self.pair.client.send_data(stream_id, payload, end_stream=True)
        self.sent[stream_id] = payload
        return stream_id

    def check(self) -> None:
        assert self.finished == set(self.sent)
        for stream_id, payload in self.sent.items():
            assert b"".join(self.echoed.get(stream_id, [])) == payload, stream_id
        for conn in (self.pair.client, self.pair.server):
            assert conn.open_streams == 0
            assert conn.outbound_buffered == 0
            assert not conn.terminated
        check_windows_settled(self.pair)


def check_windows_settled(pair: ConnectionPair) -> None:
    """Both sides agree on every window and, counting acknowledged bytes not yet announced,
    the receive windows are back at their initial values."""
    client, server = pair.client, pair.server
    assert client.remote_window(0) == server.local_window(0)
    assert server.remote_window(0) == client.local_window(0)
    for conn in (client, server):
        assert conn.local_window(0) + conn.unacknowledged(0) == conn.config.connection_window_size


def settle(pair: ConnectionPair) -> None:
    pair.pump()
    pair.take()


@pytest.mark.parametrize("chunk", [None, 1], ids=["whole", "byte-at-a-time"])
def test_pair_1000_concurrent_streams(make_pair: Any, chunk: int | None) -> None:
    # Byte-at-a-time feeds every byte of the exchange separately, so bodies are smaller
    # there (still ~100 KB each way: over the 64 KiB connection window).
    pair = make_pair(SMALL, SMALL)
    settle(pair)
    assert pair.client.peer_max_concurrent_streams == 1000
    pair.chunk = chunk
    exchange = EchoExchange(pair)
    modulus = 4000 if chunk is None else 200
    for i in range(1000):
        exchange.request(body(i, (i * 7919) % modulus))
    assert pair.client.local_open_streams == 1000
    assert not pair.client.can_open_stream
    pair.pump()
    exchange.check()
    assert exchange.drained > 0  # some sends waited for window


@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    ("size", "chunk"),
    [(50 * 1024 * 1024, None), (256 * 1024, 1), (50 * 1024 * 1024, 1)],
    ids=["50MB-whole", "256KiB-byte-at-a-time", "50MB-byte-at-a-time"],
)
def test_pair_large_body_each_direction(make_pair: Any, size: int, chunk: int | None) -> None:
    # The 50 MB byte-at-a-time run is 100 million receive_data calls: a few minutes.
    config = H2Config(initial_window_size=65_535, connection_window_size=256 * 1024)
    pair = make_pair(config, config)
    settle(pair)
    pair.chunk = chunk
    exchange = EchoExchange(pair)
    payload = body(1, size)
    exchange.request(payload)
    pair.pump()
    exchange.check()


def test_pair_windows_return_to_initial_on_live_stream(make_pair: Any) -> None:
    pair = make_pair(SMALL, SMALL)
    settle(pair)
    client, server = pair.client, pair.server
    stream_id = client.open_stream(REQUEST)
    client.send_data(stream_id, body(2, 300_000))
    got = []

    def server_app(conn: H2Connection, event: Event) -> None:
        if isinstance(event, DataReceived):
            got.append(event.data)
            conn.acknowledge_received_data(event.stream_id, event.flow_controlled_length)

    pair.on_server = server_app
    pair.pump()
    assert b"".join(got) == body(2, 300_000)
    assert client.outbound_queued(stream_id) == 0
    assert client.remote_window(stream_id) == server.local_window(stream_id)
    assert server.local_window(stream_id) + server.unacknowledged(stream_id) == 65_535
    check_windows_settled(pair)


def test_slow_reader_pushes_back(make_pair: Any) -> None:
    pair = make_pair(SMALL, SMALL)
    settle(pair)
    client = pair.client
    stream_id = client.open_stream(REQUEST)
    client.send_data(stream_id, bytes(1_000_000), end_stream=True)
    pair.pump()  # the server application never acknowledges
    received = sum(
        e.flow_controlled_length for e in pair.server_events if isinstance(e, DataReceived)
    )
    assert received == 65_535
    assert client.outbound_queued(stream_id) == 1_000_000 - 65_535
    assert client.remote_window(stream_id) == 0
    # Acknowledging less than half a window sends nothing yet; more releases data.
    pair.server.acknowledge_received_data(stream_id, 30_000)
    assert pair.server.data_to_send() == b""
    pair.server.acknowledge_received_data(stream_id, 10_000)
    pair.pump()
    assert client.outbound_queued(stream_id) == 1_000_000 - 65_535 - 40_000


# ===================================================================== stream state table

S = StreamState
I = StreamInput  # noqa: E741

# What RFC 9113 §5.1 lets an endpoint *receive* in each state (closed split by cause).
RFC_RECEIVABLE = {
    S.IDLE: {I.RECV_HEADERS, I.RECV_PRIORITY, I.RECV_PUSH_PROMISE},
    S.RESERVED_LOCAL: {I.RECV_PRIORITY, I.RECV_WINDOW_UPDATE, I.RECV_RST_STREAM},
    S.RESERVED_REMOTE: {I.RECV_HEADERS, I.RECV_RST_STREAM, I.RECV_PRIORITY},
    S.OPEN: RECEIVE_INPUTS - {I.RECV_PUSH_PROMISE},
    S.HALF_CLOSED_LOCAL: RECEIVE_INPUTS - {I.RECV_PUSH_PROMISE},
    S.HALF_CLOSED_REMOTE: {I.RECV_WINDOW_UPDATE, I.RECV_PRIORITY, I.RECV_RST_STREAM},
    S.CLOSED: {I.RECV_PRIORITY, I.RECV_WINDOW_UPDATE, I.RECV_RST_STREAM},
    S.RESET_SENT: set(RECEIVE_INPUTS),
    S.RESET_RECEIVED: {I.RECV_PRIORITY, I.RECV_WINDOW_UPDATE, I.RECV_RST_STREAM},
}
# How the RFC says to reject anything else received in that state.
RFC_REJECTION = {
    S.IDLE: (H2ConnectionError, ErrorCode.PROTOCOL_ERROR),
    S.RESERVED_LOCAL: (H2ConnectionError, ErrorCode.PROTOCOL_ERROR),
    S.RESERVED_REMOTE: (H2ConnectionError, ErrorCode.PROTOCOL_ERROR),
    S.OPEN: (H2ConnectionError, ErrorCode.PROTOCOL_ERROR),
    S.HALF_CLOSED_LOCAL: (H2ConnectionError, ErrorCode.PROTOCOL_ERROR),
    S.HALF_CLOSED_REMOTE: (H2StreamError, ErrorCode.STREAM_CLOSED),
    S.CLOSED: (H2ConnectionError, ErrorCode.STREAM_CLOSED),
    S.RESET_RECEIVED: (H2StreamError, ErrorCode.STREAM_CLOSED),
}


@pytest.mark.parametrize("state", list(StreamState))
def test_table_receivable_inputs_match_rfc(state: StreamState) -> None:
    in_table = {i for (s, i) in TRANSITIONS if s == state and i in RECEIVE_INPUTS}
    # END_STREAM is accepted exactly where HEADERS/DATA can carry it
    expected = set(RFC_RECEIVABLE[state])
    if state in (S.OPEN, S.HALF_CLOSED_LOCAL):
        assert I.RECV_END_STREAM in in_table
    assert in_table == expected


def expected_outcome(state: StreamState, event: StreamInput) -> object:
    if (state, event) in TRANSITIONS:
        return TRANSITIONS[state, event]
    if event in SEND_INPUTS:
        return StreamStateError
    return RFC_REJECTION[state]


@given(st.sampled_from(list(StreamState)), st.sampled_from(list(StreamInput)))
def test_every_state_input_pair_transitions_or_fails_closed(
    state: StreamState, event: StreamInput
) -> None:
    expected = expected_outcome(state, event)
    try:
        result: object = next_state(state, event, 7)
    except StreamStateError:
        assert expected is StreamStateError
    except (H2ConnectionError, H2StreamError) as exc:
        assert expected == (type(exc), exc.code)
        if isinstance(exc, H2StreamError):
            assert exc.stream_id == 7
    else:
        assert result == expected


@pytest.mark.parametrize(
    "steps",
    [
        (StreamInput.RECV_DATA,),
        (StreamInput.RECV_DATA, StreamInput.RECV_END_STREAM),
        (StreamInput.RECV_HEADERS,),
        (StreamInput.RECV_HEADERS, StreamInput.RECV_END_STREAM),
        (StreamInput.SEND_HEADERS, StreamInput.SEND_DATA),
        (StreamInput.SEND_HEADERS, StreamInput.SEND_DATA, StreamInput.SEND_END_STREAM),
        (StreamInput.SEND_HEADERS, StreamInput.SEND_DATA, StreamInput.SEND_HEADERS,
         StreamInput.SEND_END_STREAM),
        (StreamInput.SEND_DATA, StreamInput.SEND_HEADERS, StreamInput.SEND_END_STREAM),
        (StreamInput.SEND_HEADERS, StreamInput.SEND_END_STREAM),
    ],
)  # fmt: skip
def test_composed_steps_agree_with_the_table(steps: tuple[StreamInput, ...]) -> None:
    """compose() (one lookup for a whole sequence, on hot paths) and reject() (its errors)
    say exactly what walking next_state step by step says, from every state."""
    table = compose(*steps)
    for state in StreamState:
        current = state
        try:
            for event in steps:
                current = next_state(current, event, 7)
        except (H2ConnectionError, H2StreamError, StreamStateError) as exc:
            assert state not in table
            with pytest.raises(type(exc)) as raised:
                reject(state, steps, 7)
            assert str(raised.value) == str(exc)
        else:
            assert table[state] is current


def test_every_pair_is_covered() -> None:
    # The hypothesis test samples; this walks all of them once, deterministically.
    for state in StreamState:
        for event in StreamInput:
            test_every_state_input_pair_transitions_or_fails_closed.hypothesis.inner_test(  # type: ignore[attr-defined]
                state, event
            )


@given(st.lists(st.sampled_from(list(StreamInput)), max_size=12))
def test_random_walks_never_leave_closed_states(events: list[StreamInput]) -> None:
    state = S.IDLE
    for event in events:
        try:
            nxt = next_state(state, event, 1)
        except Exception:
            continue  # rejected: the state is unchanged
        if state in CLOSED_STATES:
            assert nxt == state
        if state != S.IDLE:
            assert nxt != S.IDLE
        state = nxt


# Driving a real server connection into each state, then receiving each frame kind: the
# connection's reaction must be exactly the table's.
REACHABLE = [
    S.IDLE,
    S.OPEN,
    S.HALF_CLOSED_LOCAL,
    S.HALF_CLOSED_REMOTE,
    S.CLOSED,
    S.RESET_SENT,
    S.RESET_RECEIVED,
]
FRAME_INPUTS = {
    "HEADERS+END": (I.RECV_HEADERS, I.RECV_END_STREAM),
    "DATA": (I.RECV_DATA,),
    "DATA+END": (I.RECV_DATA, I.RECV_END_STREAM),
    "RST_STREAM": (I.RECV_RST_STREAM,),
    "WINDOW_UPDATE": (I.RECV_WINDOW_UPDATE,),
    "PRIORITY": (I.RECV_PRIORITY,),
}


def drive_to(peer: RawPeer, state: StreamState) -> None:
    conn = peer.conn
    if state != S.IDLE:
        peer.send(peer.headers(1, REQUEST, end_stream=state in (S.HALF_CLOSED_REMOTE, S.CLOSED)))
    if state in (S.HALF_CLOSED_LOCAL, S.CLOSED):
        conn.send_headers(1, RESPONSE, end_stream=True)
    elif state == S.RESET_SENT:
        conn.reset_stream(1)
    elif state == S.RESET_RECEIVED:
        peer.send(fr.build_rst_stream(1, ErrorCode.CANCEL))
    peer.read()
    assert conn.stream_state(1) == state


def frame_for(peer: RawPeer, name: str, state: StreamState) -> bytes:
    if name == "HEADERS+END":
        headers = REQUEST if state == S.IDLE else TRAILERS
        return peer.headers(1, headers, end_stream=True)
    if name.startswith("DATA"):
        return fr.build_data(1, b"abc", end_stream=name.endswith("END"))
    if name == "RST_STREAM":
        return fr.build_rst_stream(1, ErrorCode.CANCEL)
    if name == "WINDOW_UPDATE":
        return fr.build_window_update(1, 10)
    return fr.build_priority(1, fr.Priority(0, 16, False))


def outcome(frames: list[fr.Frame]) -> tuple[str, int] | None:
    for frame in frames:
        if frame.type == fr.GOAWAY:
            assert frame.error_code is not None
            return ("connection", frame.error_code)
        if frame.type == fr.RST_STREAM:
            assert frame.error_code is not None
            return ("stream", frame.error_code)
    return None


@pytest.mark.parametrize("name", list(FRAME_INPUTS))
@pytest.mark.parametrize("state", REACHABLE)
def test_connection_follows_table(make_peer: Any, state: StreamState, name: str) -> None:
    peer = make_peer()
    drive_to(peer, state)
    expected: tuple[str, int] | None = None
    try:
        current: StreamState = state
        for event in FRAME_INPUTS[name]:
            current = next_state(current, event, 1)
    except H2ConnectionError as exc:
        expected = ("connection", exc.code)
    except H2StreamError as exc:
        expected = ("stream", exc.code)
    peer.send(frame_for(peer, name, state))
    assert outcome(peer.read()) == expected


# ===================================================================== flow control properties

MAXW = fr.MAX_WINDOW_SIZE

ops = st.one_of(
    st.tuples(st.just("send"), st.booleans(), st.integers(0, 2), st.integers(0, 90_000)),
    st.tuples(st.just("ack"), st.booleans(), st.integers(0, 2), st.integers(0, 90_000)),
    st.tuples(st.just("pump"), st.sampled_from([None, 1000, 7])),
    st.tuples(st.just("window"), st.booleans(), st.integers(0, 150_000)),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(ops, max_size=25))
def test_flow_control_accounting(make_pair: Any, script: list[tuple[Any, ...]]) -> None:
    config = H2Config(initial_window_size=40_000, connection_window_size=100_000)
    pair = make_pair(config, config)
    settle(pair)
    client, server = pair.client, pair.server
    streams = [client.open_stream(REQUEST) for _ in range(3)]
    pair.pump()
    for stream_id in streams:
        server.send_headers(stream_id, RESPONSE)
    settle(pair)
    sent: dict[tuple[bool, int], bytearray] = {}
    got: dict[tuple[bool, int], bytearray] = {}
    unacked: dict[tuple[bool, int], int] = {}
    lowered = False

    def absorb() -> None:
        for from_client, events in zip((False, True), pair.take(), strict=True):
            # the client's events carry what the server sent, and vice versa
            for event in events:
                assert not isinstance(event, (ConnectionTerminated, StreamReset)), event
                if isinstance(event, DataReceived):
                    key = (from_client, event.stream_id)
                    got.setdefault(key, bytearray()).extend(event.data)
                    unacked[key] = unacked.get(key, 0) + event.flow_controlled_length

    def check() -> None:
        for conn in (client, server):
            assert conn.local_window(0) >= 0
            assert conn.remote_window(0) >= 0
            assert conn.local_window(0) <= MAXW and conn.remote_window(0) <= MAXW
            for stream_id in streams:
                assert conn.local_window(stream_id) <= MAXW
                assert conn.remote_window(stream_id) <= MAXW
                if not lowered:
                    assert conn.local_window(stream_id) >= 0
                    assert conn.remote_window(stream_id) >= 0

    for op in script:
        if op[0] == "send":
            _, by_client, index, size = op
            conn = client if by_client else server
            payload = body(len(sent), size)
            conn.send_data(streams[index], payload)
            sent.setdefault((by_client, streams[index]), bytearray()).extend(payload)
        elif op[0] == "ack":
            _, by_client, index, size = op
            # by_client: the client acknowledges what it received from the server
            key = (not by_client, streams[index])
            n = min(size, unacked.get(key, 0))
            (client if by_client else server).acknowledge_received_data(streams[index], n)
            unacked[key] = unacked.get(key, 0) - n
        elif op[0] == "pump":
            pair.chunk = op[1]
            pair.pump()
            absorb()
        else:
            _, by_client, value = op
            conn = client if by_client else server
            lowered = lowered or value < 40_000
            conn.update_settings({fr.SETTINGS_INITIAL_WINDOW_SIZE: value}, pair.now)
        check()
    # Drain: acknowledge everything until all data is through.
    pair.chunk = None
    for _ in range(1000):
        pair.pump()
        absorb()
        pending = {k: v for k, v in unacked.items() if v}
        if not pending:
            break
        for (from_client, stream_id), n in pending.items():
            (server if from_client else client).acknowledge_received_data(stream_id, n)
            unacked[from_client, stream_id] = 0
        check()
    for key, data in got.items():
        assert sent[key].startswith(data)  # intact and in order, however far it got
    if all(client.remote_window(s) > 0 and server.remote_window(s) > 0 for s in streams):
        assert got == {k: v for k, v in sent.items() if v}
    check()


# ===================================================================== frame level, raw peer


def goaway_code(frames: list[fr.Frame]) -> int | None:
    codes = [f.error_code for f in frames if f.type == fr.GOAWAY]
    return codes[-1] if codes else None


def resets(frames: list[fr.Frame]) -> dict[int, int | None]:
    return {f.stream_id: f.error_code for f in frames if f.type == fr.RST_STREAM}


def terminated(events: list[Event]) -> int | None:
    ends = [e.error_code for e in events if isinstance(e, ConnectionTerminated)]
    assert len(ends) <= 1
    return ends[0] if ends else None


def assert_connection_error(peer: RawPeer, events: list[Event], code: ErrorCode) -> None:
    assert terminated(events) == code
    assert goaway_code(peer.read()) == code
    assert peer.conn.terminated
    # After ConnectionTerminated no more input is taken.
    assert peer.send(fr.build_ping(b"12345678")) == []
    assert peer.read() == []


def test_client_preface_settings_and_connection_window() -> None:
    config = H2Config(max_concurrent_streams=7, initial_window_size=100_000)
    conn = H2Connection(client_side=True, config=config)
    conn.initiate(0.0)
    data = conn.data_to_send()
    assert data.startswith(fr.CONNECTION_PREFACE)
    reader = fr.FrameReader()
    reader.feed(data[len(fr.CONNECTION_PREFACE) :])
    settings_frame = fr.decode_frame(*reader.read_frame())  # type: ignore[misc]
    window = fr.decode_frame(*reader.read_frame())  # type: ignore[misc]
    assert settings_frame.type == fr.SETTINGS and not settings_frame.flags & fr.FLAG_ACK
    values = dict(settings_frame.settings)
    assert values[fr.SETTINGS_ENABLE_PUSH] == 0
    assert values[fr.SETTINGS_MAX_CONCURRENT_STREAMS] == 7
    assert values[fr.SETTINGS_INITIAL_WINDOW_SIZE] == 100_000
    assert window.type == fr.WINDOW_UPDATE and window.stream_id == 0
    assert window.increment == config.connection_window_size - 65_535
    assert conn.local_window(0) == config.connection_window_size


def test_server_preface_and_settings_ack(make_peer: Any) -> None:
    peer = make_peer(handshake=False)
    out = peer.read()
    assert [f.type for f in out] == [fr.SETTINGS, fr.WINDOW_UPDATE]  # sent without waiting
    # The preface may arrive in pieces.
    assert peer.send_raw(fr.CONNECTION_PREFACE[:5]) == []
    assert peer.send_raw(fr.CONNECTION_PREFACE[5:]) == []
    events = peer.send(fr.build_settings([(fr.SETTINGS_MAX_FRAME_SIZE, 20_000)]))
    assert events == [SettingsReceived({fr.SETTINGS_MAX_FRAME_SIZE: 20_000})]
    ack = peer.read()
    assert [(f.type, f.flags) for f in ack] == [(fr.SETTINGS, fr.FLAG_ACK)]
    assert peer.conn.remote_settings.max_frame_size == 20_000
    # Our SETTINGS take effect when ACKed.
    assert peer.conn.local_settings.pending
    events = peer.send(fr.build_settings(ack=True))
    assert isinstance(events[0], SettingsAcked)
    assert not peer.conn.local_settings.pending
    assert peer.conn.local_settings.acked.max_concurrent_streams == 100


def test_bad_preface_is_a_connection_error(make_peer: Any) -> None:
    peer = make_peer(handshake=False)
    peer.read()
    events = peer.send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert_connection_error(peer, events, ErrorCode.PROTOCOL_ERROR)


def test_first_frame_must_be_settings(make_peer: Any) -> None:
    peer = make_peer(handshake=False)
    peer.read()
    events = peer.send_raw(fr.CONNECTION_PREFACE + fr.build_ping(b"12345678"))
    assert_connection_error(peer, events, ErrorCode.PROTOCOL_ERROR)


def test_settings_ack_with_payload_and_bad_values(make_peer: Any) -> None:
    peer = make_peer()
    events = peer.send(fr.build_frame(fr.SETTINGS, fr.FLAG_ACK, 0, b"\x00" * 6))
    assert_connection_error(peer, events, ErrorCode.FRAME_SIZE_ERROR)
    peer = make_peer()
    bad = fr.build_frame(fr.SETTINGS, 0, 0, b"\x00\x04\x80\x00\x00\x00")
    assert_connection_error(peer, peer.send(bad), ErrorCode.FLOW_CONTROL_ERROR)


def test_settings_timeout(make_peer: Any) -> None:
    peer = make_peer(handshake=False)
    conn = peer.conn
    assert conn.get_timer() == 10.0
    assert conn.handle_timer(5.0) == []
    events = conn.handle_timer(10.0)
    assert terminated(events) == ErrorCode.SETTINGS_TIMEOUT
    assert conn.get_timer() is None


def test_ping_is_acked_and_ours_is_timed(make_peer: Any) -> None:
    peer = make_peer()
    assert peer.send(fr.build_ping(b"abcdefgh")) == [PingReceived(b"abcdefgh")]
    out = peer.read()
    assert [(f.type, f.flags, f.data) for f in out] == [(fr.PING, fr.FLAG_ACK, b"abcdefgh")]
    peer.conn.ping(b"01234567", 1.0)
    sent = peer.read()
    assert sent[0].type == fr.PING and not sent[0].flags
    peer.now = 1.25
    assert peer.send(fr.build_ping(b"01234567", ack=True)) == [PingAcked(b"01234567", 0.25)]
    assert peer.send(fr.build_ping(b"unknown!", ack=True)) == []  # unsolicited ACK ignored


def open_request(peer: RawPeer, stream_id: int, *, end_stream: bool = False) -> list[Event]:
    events = peer.send(peer.headers(stream_id, REQUEST, end_stream=end_stream))
    assert events == [HeadersReceived(stream_id, REQUEST, end_stream)], events
    return events


def test_goaway_received_refuses_streams_above_last(client_peer: RawPeer) -> None:
    conn = client_peer.conn
    ids = [conn.open_stream(REQUEST) for _ in range(3)]
    assert ids == [1, 3, 5]
    client_peer.read()
    events = client_peer.send(fr.build_goaway(3, ErrorCode.NO_ERROR, b"bye"))
    assert events == [
        StreamReset(5, ErrorCode.REFUSED_STREAM, True),
        GoAwayReceived(3, ErrorCode.NO_ERROR, b"bye"),
    ]
    assert not conn.can_open_stream
    with pytest.raises(ConnectionClosedError):
        conn.open_stream(REQUEST)
    # Streams 1 and 3 complete normally.
    events = client_peer.send(client_peer.headers(3, RESPONSE + TRAILERS, end_stream=True))
    assert events == [HeadersReceived(3, RESPONSE + TRAILERS, True)]
    conn.send_data(1, b"still going", end_stream=True)
    assert [f.data for f in client_peer.read()] == [b"still going"]


def test_goaway_sent_is_graceful(peer: RawPeer) -> None:
    open_request(peer, 1)
    open_request(peer, 3)
    peer.conn.send_goaway()
    out = peer.read()
    assert [(f.type, f.last_stream_id, f.error_code) for f in out] == [(fr.GOAWAY, 3, 0)]
    # A new stream after our GOAWAY is ignored; in-flight streams continue.
    assert peer.send(peer.headers(5, REQUEST)) == []
    events = peer.send(fr.build_data(3, b"body", end_stream=True))
    assert events == [DataReceived(3, b"body", 4, True)]
    peer.conn.send_headers(3, RESPONSE)
    assert peer.read()[0].type == fr.HEADERS
    assert peer.conn.remote_open_streams == 2


def test_rst_stream_received_and_late_frames(peer: RawPeer) -> None:
    open_request(peer, 1)
    events = peer.send(fr.build_rst_stream(1, ErrorCode.CANCEL))
    assert events == [StreamReset(1, ErrorCode.CANCEL, True)]
    assert peer.conn.open_streams == 0
    # The application acting on the stream it has not yet heard was reset: a no-op.
    peer.conn.send_headers(1, RESPONSE)
    peer.conn.send_data(1, b"x")
    peer.conn.send_response(1, None, b"x", TRAILERS)
    peer.conn.send_trailers(1, TRAILERS)
    peer.conn.reset_stream(1)
    assert peer.read() == []
    # DATA after the peer's own RST_STREAM is a stream error STREAM_CLOSED (§5.1).
    peer.send(fr.build_data(1, b"late"))
    assert resets(peer.read()) == {1: ErrorCode.STREAM_CLOSED}


def test_acknowledging_stream_0_credits_the_connection_alone(make_peer: Any) -> None:
    """For streams the peer has ended, drivers hand credit back as stream 0: only the
    connection window reopens; no stream WINDOW_UPDATE goes out."""
    peer = make_peer(config=H2Config(connection_window_size=65_535, initial_window_size=65_535))
    peer.send(fr.build_settings(ack=True))
    open_request(peer, 1)
    peer.send(*[fr.build_data(1, b"d" * 10_000) for _ in range(4)])
    assert peer.conn.local_window(0) == 65_535 - 40_000
    peer.conn.acknowledge_received_data(0, 40_000)
    out = peer.read()
    assert [(f.type, f.stream_id, f.increment) for f in out] == [(fr.WINDOW_UPDATE, 0, 40_000)]
    assert peer.conn.local_window(0) == 65_535
    assert peer.conn.local_window(1) == 65_535 - 40_000  # the stream's window is untouched


def test_reset_stream_sent_ignores_late_frames_but_replenishes_connection(
    make_peer: Any,
) -> None:
    peer = make_peer(config=H2Config(connection_window_size=65_535))
    open_request(peer, 1)
    peer.conn.reset_stream(1, ErrorCode.CANCEL)
    assert resets(peer.read()) == {1: ErrorCode.CANCEL}
    peer.conn.reset_stream(1)  # a no-op now
    # Late DATA is ignored but counts against the connection window, which we give back.
    chunk = b"x" * 16_000
    for _ in range(4):
        assert peer.send(fr.build_data(1, chunk)) == []
    out = peer.read()
    assert [(f.type, f.stream_id) for f in out] == [(fr.WINDOW_UPDATE, 0)]
    assert sum(f.increment or 0 for f in out) >= 32_000
    assert peer.conn.local_window(0) + peer.conn.unacknowledged(0) == 65_535


def test_stream_id_rules(make_peer: Any) -> None:
    peer = make_peer()
    events = peer.send(peer.headers(2, REQUEST))  # clients use odd ids
    assert_connection_error(peer, events, ErrorCode.PROTOCOL_ERROR)

    peer = make_peer()
    open_request(peer, 5)
    events = peer.send(peer.headers(3, REQUEST))  # ids must increase
    assert_connection_error(peer, events, ErrorCode.PROTOCOL_ERROR)

    peer = make_peer()
    events = peer.send(fr.build_data(1, b"x"))  # DATA on an idle stream
    assert_connection_error(peer, events, ErrorCode.PROTOCOL_ERROR)

    peer = make_peer()
    events = peer.send(fr.build_window_update(9, 1))  # WINDOW_UPDATE on an idle stream
    assert_connection_error(peer, events, ErrorCode.PROTOCOL_ERROR)

    peer = make_peer()
    events = peer.send(fr.build_rst_stream(9, 0))  # RST_STREAM on an idle stream
    assert_connection_error(peer, events, ErrorCode.PROTOCOL_ERROR)

    peer = make_peer()
    assert peer.send(fr.build_priority(9, fr.Priority(0, 1, False))) == []  # allowed
    open_request(peer, 11)  # skipping ids is fine; 1..9 are now implicitly closed


def test_skipped_ids_and_client_side_rules(client_peer: RawPeer) -> None:
    conn = client_peer.conn
    with pytest.raises(StreamStateError):
        conn.send_headers(2, REQUEST)  # not our parity
    conn.send_headers(7, REQUEST)  # a client may skip ids
    assert conn.get_next_stream_id() == 9
    with pytest.raises(StreamStateError):
        conn.send_headers(3, REQUEST)
    client_peer.read()
    events = client_peer.send(client_peer.headers(2, RESPONSE))  # server-initiated
    assert_connection_error(client_peer, events, ErrorCode.PROTOCOL_ERROR)


def test_push_promise_is_rejected(client_peer: RawPeer) -> None:
    client_peer.conn.open_stream(REQUEST)
    client_peer.read()
    frame = fr.build_push_promise(1, 2, client_peer.block(REQUEST))
    assert_connection_error(client_peer, client_peer.send(frame), ErrorCode.PROTOCOL_ERROR)


def test_continuation_reassembly(peer: RawPeer) -> None:
    block = peer.block([*REQUEST, (b"x-big", b"v" * 300)])
    parts = [block[:10], block[10:200], block[200:]]
    events = peer.send(
        fr.build_headers(1, parts[0], end_headers=False),
        fr.build_continuation(1, parts[1], end_headers=False),
    )
    assert events == []
    events = peer.send(fr.build_continuation(1, parts[2]))
    assert events == [HeadersReceived(1, [*REQUEST, (b"x-big", b"v" * 300)], False)]


@pytest.mark.parametrize(
    "intruder",
    [
        fr.build_ping(b"12345678"),
        fr.build_data(1, b"x"),
        fr.build_continuation(3, b""),
        fr.build_frame(0x42, 0, 0, b"unknown type"),
    ],
    ids=["ping", "data", "other-stream", "unknown-type"],
)
def test_continuation_interleaving_is_a_connection_error(peer: RawPeer, intruder: bytes) -> None:
    block = peer.block(REQUEST)
    events = peer.send(fr.build_headers(1, block[:5], end_headers=False), intruder)
    assert_connection_error(peer, events, ErrorCode.PROTOCOL_ERROR)


def test_continuation_without_headers(peer: RawPeer) -> None:
    events = peer.send(fr.build_continuation(1, b""))
    assert_connection_error(peer, events, ErrorCode.PROTOCOL_ERROR)


def test_headers_depending_on_itself_keeps_hpack_in_step(peer: RawPeer) -> None:
    extra = [*REQUEST, (b"x-indexed", b"remember me")]
    frame = fr.build_headers(1, peer.block(extra), priority=fr.Priority(1, 16, False))
    assert peer.send(frame) == []
    assert resets(peer.read()) == {1: ErrorCode.PROTOCOL_ERROR}
    # The block was decoded anyway: its new dynamic-table entry is usable.
    assert peer.send(peer.headers(3, extra)) == [HeadersReceived(3, extra, False)]


def test_unknown_frame_types_are_ignored(peer: RawPeer) -> None:
    assert peer.send(fr.build_frame(0x42, 0xFF, 1, b"whatever")) == []
    open_request(peer, 1)


def test_trailers(peer: RawPeer) -> None:
    open_request(peer, 1)
    events = peer.send(fr.build_data(1, b"msg"), peer.headers(1, TRAILERS, end_stream=True))
    assert events == [DataReceived(1, b"msg", 3, False), TrailersReceived(1, TRAILERS)]
    # The server can answer; the stream is half-closed (remote).
    assert peer.conn.stream_state(1) == S.HALF_CLOSED_REMOTE
    peer.conn.send_headers(1, RESPONSE)
    peer.conn.send_data(1, b"reply")
    peer.conn.send_trailers(1, TRAILERS)
    out = peer.read()
    assert [f.type for f in out] == [fr.HEADERS, fr.DATA, fr.HEADERS]
    assert out[-1].flags & fr.FLAG_END_STREAM
    assert peer.decode(out[-1].data) == TRAILERS
    assert peer.conn.open_streams == 0


@pytest.mark.parametrize(
    "trailers",
    [TRAILERS, [(b":status", b"200")]],
    ids=["without-end-stream", "pseudo-header"],
)
def test_bad_trailers_reset_the_stream(peer: RawPeer, trailers: list[tuple[bytes, bytes]]) -> None:
    open_request(peer, 1)
    end = trailers is not TRAILERS
    events = peer.send(peer.headers(1, trailers, end_stream=end))
    assert events == [StreamReset(1, ErrorCode.PROTOCOL_ERROR, False)]
    assert resets(peer.read()) == {1: ErrorCode.PROTOCOL_ERROR}


def test_informational_responses_then_final(client_peer: RawPeer) -> None:
    conn = client_peer.conn
    stream_id = conn.open_stream(REQUEST, end_stream=True)
    client_peer.read()
    events = client_peer.send(
        client_peer.headers(stream_id, [(b":status", b"100")]),
        client_peer.headers(stream_id, [(b":status", b"103"), (b"link", b"</x>")]),
        client_peer.headers(stream_id, RESPONSE),
        fr.build_data(stream_id, b"payload", pad_length=3),
        client_peer.headers(stream_id, TRAILERS, end_stream=True),
    )
    assert events == [
        InformationalHeadersReceived(stream_id, [(b":status", b"100")]),
        InformationalHeadersReceived(stream_id, [(b":status", b"103"), (b"link", b"</x>")]),
        HeadersReceived(stream_id, RESPONSE, False),
        DataReceived(stream_id, b"payload", 7 + 1 + 3, False),
        TrailersReceived(stream_id, TRAILERS),
    ]
    assert conn.open_streams == 0


def test_max_concurrent_streams_refusal(make_peer: Any) -> None:
    peer = make_peer(config=H2Config(max_concurrent_streams=2))
    open_request(peer, 1)
    open_request(peer, 3)
    assert peer.send(peer.headers(5, REQUEST)) == []
    assert resets(peer.read()) == {5: ErrorCode.REFUSED_STREAM}
    # Its DATA in flight is ignored; the others go on; once one ends, a new one fits.
    assert peer.send(fr.build_data(5, b"late")) == []
    assert peer.send(fr.build_data(1, b"ok", end_stream=True)) == [DataReceived(1, b"ok", 2, True)]
    peer.conn.send_headers(1, RESPONSE + TRAILERS, end_stream=True)
    open_request(peer, 7)
    assert peer.conn.remote_open_streams == 2


def test_peer_max_concurrent_streams_is_respected(make_peer: Any) -> None:
    peer = make_peer(conn_is_client=True, peer_settings=[(fr.SETTINGS_MAX_CONCURRENT_STREAMS, 2)])
    conn = peer.conn
    assert conn.peer_max_concurrent_streams == 2
    conn.open_stream(REQUEST)
    assert conn.can_open_stream
    conn.open_stream(REQUEST)
    assert not conn.can_open_stream
    with pytest.raises(TooManyStreamsError):
        conn.open_stream(REQUEST)
    conn.reset_stream(1)
    assert conn.can_open_stream
    assert conn.open_stream(REQUEST) == 5


def test_window_update_zero_and_overflow(peer: RawPeer) -> None:
    open_request(peer, 1)
    open_request(peer, 3)
    peer.send(fr.build_frame(fr.WINDOW_UPDATE, 0, 1, b"\x00\x00\x00\x00"))
    assert resets(peer.read()) == {1: ErrorCode.PROTOCOL_ERROR}
    peer.send(fr.build_window_update(3, fr.MAX_WINDOW_SIZE))
    assert resets(peer.read()) == {3: ErrorCode.FLOW_CONTROL_ERROR}

    events = peer.send(fr.build_window_update(0, fr.MAX_WINDOW_SIZE))
    assert_connection_error(peer, events, ErrorCode.FLOW_CONTROL_ERROR)


def test_connection_window_update_zero(peer: RawPeer) -> None:
    events = peer.send(fr.build_frame(fr.WINDOW_UPDATE, 0, 0, b"\x00\x00\x00\x00"))
    assert_connection_error(peer, events, ErrorCode.PROTOCOL_ERROR)


def test_peer_exceeding_windows(make_peer: Any) -> None:
    peer = make_peer(config=H2Config(initial_window_size=100, connection_window_size=65_535))
    peer.send(fr.build_settings(ack=True))  # our small initial window is now in force
    open_request(peer, 1)
    peer.send(fr.build_data(1, b"x" * 101))
    assert resets(peer.read()) == {1: ErrorCode.FLOW_CONTROL_ERROR}
    # That DATA still counted against the connection window: 65535 - 101 remain.
    assert peer.conn.local_window(0) + peer.conn.unacknowledged(0) == 65_535
    peer = make_peer(config=H2Config(connection_window_size=65_535))
    open_request(peer, 3)
    events = peer.send(*[fr.build_data(3, b"y" * 16_000) for _ in range(5)])
    assert_connection_error(peer, events, ErrorCode.FLOW_CONTROL_ERROR)


def test_consecutive_data_frames_on_a_stream_arrive_as_one_event(peer: RawPeer) -> None:
    open_request(peer, 1)
    open_request(peer, 3)
    window = peer.conn.local_window(0)
    frames = [fr.build_data(1, b"a%d" % i) for i in range(5)]
    events = peer.send(*frames, fr.build_data(3, b"other"), fr.build_data(1, b"b"))
    assert events == [
        DataReceived(1, b"a0a1a2a3a4", 10, False),
        DataReceived(3, b"other", 5, False),
        DataReceived(1, b"b", 1, False),
    ]
    # END_STREAM and padding leave the run: what came before is still delivered first, in
    # order, and flow-controlled lengths add up (padding included).
    events = peer.send(
        fr.build_data(1, b"c"),
        fr.build_data(1, b"d"),
        fr.build_data(1, b"e", pad_length=3),
        fr.build_data(1, b"f"),
        fr.build_data(1, b"g", end_stream=True),
    )
    assert events == [
        DataReceived(1, b"cd", 2, False),
        DataReceived(1, b"ef", 6, False),
        DataReceived(1, b"g", 1, True),
    ]
    # Every byte is owed to the windows exactly once.
    assert window - peer.conn.local_window(0) == 10 + 5 + 1 + 2 + 6 + 1
    # Other frame types end a run too (here a PING between two DATA frames).
    events = peer.send(fr.build_data(3, b"x"), fr.build_ping(b"12345678"), fr.build_data(3, b"y"))
    assert events == [
        DataReceived(3, b"x", 1, False),
        PingReceived(b"12345678"),
        DataReceived(3, b"y", 1, False),
    ]


def test_window_exceeded_inside_a_run_delivers_what_fit(make_peer: Any) -> None:
    peer = make_peer(config=H2Config(initial_window_size=100, connection_window_size=65_535))
    peer.send(fr.build_settings(ack=True))
    open_request(peer, 1)
    events = peer.send(
        fr.build_data(1, b"x" * 60), fr.build_data(1, b"y" * 40), fr.build_data(1, b"z")
    )
    assert events[0] == DataReceived(1, b"x" * 60 + b"y" * 40, 100, False)
    assert [type(e) for e in events[1:]] == [StreamReset]
    assert resets(peer.read()) == {1: ErrorCode.FLOW_CONTROL_ERROR}
    # A connection error inside a run: the run's data still comes first, then the end.
    peer = make_peer(config=H2Config(connection_window_size=65_535))
    open_request(peer, 3)
    events = peer.send(*[fr.build_data(3, b"w" * 2_000) for _ in range(33)])
    assert events[0] == DataReceived(3, b"w" * 64_000, 64_000, False)
    assert_connection_error(peer, events, ErrorCode.FLOW_CONTROL_ERROR)


def test_large_data_frames_are_not_joined(peer: RawPeer) -> None:
    """Joining frames whose copy dwarfs the per-frame work would only copy them again."""
    open_request(peer, 1)
    big = [fr.build_data(1, bytes([i]) * 16_000) for i in range(3)]
    events = peer.send(fr.build_data(1, b"s"), fr.build_data(1, b"t"), *big)
    assert events == [
        DataReceived(1, b"st", 2, False),
        *(DataReceived(1, bytes([i]) * 16_000, 16_000, False) for i in range(3)),
    ]


def test_initial_window_size_change_adjusts_open_streams(make_peer: Any) -> None:
    peer = make_peer(conn_is_client=True)
    conn = peer.conn
    stream_id = conn.open_stream(REQUEST)
    conn.send_data(stream_id, b"a" * 70_000)
    peer.read()
    assert conn.remote_window(stream_id) == 0
    assert conn.outbound_queued(stream_id) == 70_000 - 65_535
    peer.send(fr.build_window_update(0, 1_000_000))
    # Shrinking the initial window makes the stream's window negative (§6.9.2)...
    peer.send(fr.build_settings([(fr.SETTINGS_INITIAL_WINDOW_SIZE, 65_535 - 1000)]))
    assert conn.remote_window(stream_id) == -1000
    assert [f.type for f in peer.read()] == [fr.SETTINGS]
    # ...and nothing flows until it is positive again.
    peer.send(fr.build_window_update(stream_id, 1000))
    assert peer.read() == []
    events = peer.send(fr.build_window_update(stream_id, 10_000))
    assert events == [SendQueueDrained(stream_id)]
    assert sum(len(f.data) for f in peer.read() if f.type == fr.DATA) == 70_000 - 65_535
    # Growing it past 2^31-1 for an open stream is a connection error.
    peer.send(fr.build_window_update(stream_id, 100_000))
    events = peer.send(fr.build_settings([(fr.SETTINGS_INITIAL_WINDOW_SIZE, fr.MAX_WINDOW_SIZE)]))
    assert_connection_error(peer, events, ErrorCode.FLOW_CONTROL_ERROR)


MALFORMED = {
    "uppercase-name": [*REQUEST, (b"X-Upper", b"1")],
    "connection": [*REQUEST, (b"connection", b"keep-alive")],
    "keep-alive": [*REQUEST, (b"keep-alive", b"5")],
    "transfer-encoding": [*REQUEST, (b"transfer-encoding", b"chunked")],
    "upgrade": [*REQUEST, (b"upgrade", b"h2c")],
    "proxy-connection": [*REQUEST, (b"proxy-connection", b"x")],
    "te-gzip": [*REQUEST[:-1], (b"te", b"gzip")],
    "pseudo-after-regular": [*REQUEST[:4], (b"x-a", b"1"), (b":method", b"GET")],
    "unknown-pseudo": [(b":bogus", b"1"), *REQUEST],
    "duplicate-pseudo": [(b":path", b"/a"), *REQUEST],
    "response-pseudo": [(b":status", b"200"), *REQUEST],
    "missing-method": REQUEST[1:],
    "missing-path": [h for h in REQUEST if h[0] != b":path"],
    "missing-scheme": [h for h in REQUEST if h[0] != b":scheme"],
    "value-newline": [*REQUEST, (b"x-a", b"a\r\nb")],
    "value-leading-space": [*REQUEST, (b"x-a", b" a")],
    "empty-name": [*REQUEST, (b"", b"a")],
}


@pytest.mark.parametrize("headers", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_request_resets_only_that_stream(
    peer: RawPeer, headers: list[tuple[bytes, bytes]]
) -> None:
    open_request(peer, 1)
    # Sent three times: the block's encoding repeats from the second on (HPACK indexed its
    # fields the first time), and a repeated block is rejected each time, never cached.
    for stream_id in (3, 5, 7):
        events = peer.send(peer.headers(stream_id, headers))
        assert events == []  # never surfaced to the application
        assert resets(peer.read()) == {stream_id: ErrorCode.PROTOCOL_ERROR}
    # The connection and stream 1 carry on (and HPACK stayed in step).
    assert peer.send(fr.build_data(1, b"fine", end_stream=True)) == [
        DataReceived(1, b"fine", 4, True)
    ]
    open_request(peer, 9)


def test_keyed_cache_finds_only_its_own_keys() -> None:
    cache: KeyedCache[int] = KeyedCache(2)
    a, b = tuple(REQUEST), tuple(REQUEST)  # equal, but two objects
    cache.put(a, 1)
    cache.put(None, 2)  # nothing kept for no key
    assert cache.get(id(a)) == (a, 1) and cache.get(id(b)) is None
    assert cache.get(id(None)) is None and len(cache) == 1
    cache.put(b, 3)
    cache.put((), 4)  # full: emptied first
    assert len(cache) == 1 and cache.get(id(a)) is None


def test_repeated_header_blocks_carry_one_key(peer: RawPeer) -> None:
    """HeadersReceived.key: the same tuple object for every repeat of a header block (the
    list as a tuple), None for a block HPACK did not cache (one that indexes a field)."""
    headers = [*REQUEST, (b"x-a", b"1")]
    keys = []
    for stream_id in (1, 3, 5, 7):
        (event,) = peer.send(peer.headers(stream_id, headers, end_stream=True))
        assert isinstance(event, HeadersReceived) and event.headers == headers
        keys.append(event.key)
    assert keys[0] is None  # the first block inserted x-a into the table
    assert keys[1] == tuple(headers) and keys[2] is keys[1] and keys[3] is keys[1]
    other = [*REQUEST, (b"x-a", b"2")]
    for stream_id in (9, 11):
        (event,) = peer.send(peer.headers(stream_id, other, end_stream=True))
        assert event.headers == other and event.key is not keys[1]


@pytest.mark.parametrize(
    "response",
    [[(b"x-a", b"1")], [(b":status", b"2000")], [(b":status", b"200"), (b":path", b"/")]],
    ids=["missing-status", "bad-status", "request-pseudo"],
)
def test_malformed_response(client_peer: RawPeer, response: list[tuple[bytes, bytes]]) -> None:
    stream_id = client_peer.conn.open_stream(REQUEST, end_stream=True)
    client_peer.read()
    events = client_peer.send(client_peer.headers(stream_id, response))
    assert events == [StreamReset(stream_id, ErrorCode.PROTOCOL_ERROR, False)]
    assert resets(client_peer.read()) == {stream_id: ErrorCode.PROTOCOL_ERROR}


def test_send_headers_split_into_continuations(peer: RawPeer) -> None:
    open_request(peer, 1)
    big = [
        (b":status", b"200"),
        *[(f"x-h{i}".encode(), bytes(range(65, 91)) * 40) for i in range(40)],
    ]
    peer.conn.send_headers(1, big)
    out = peer.read()
    assert [f.type for f in out] == [fr.HEADERS] + [fr.CONTINUATION] * (len(out) - 1)
    assert len(out) > 1
    assert all(len(f.data) <= fr.DEFAULT_MAX_FRAME_SIZE for f in out)
    assert [bool(f.flags & fr.FLAG_END_HEADERS) for f in out] == [False] * (len(out) - 1) + [True]
    assert peer.decode(b"".join(f.data for f in out)) == big


def test_send_data_chunking_queueing_and_deferred_end(make_peer: Any) -> None:
    peer = make_peer(conn_is_client=True)
    conn = peer.conn
    stream_id = conn.open_stream(REQUEST)
    conn.send_data(stream_id, b"a" * 40_000)
    conn.send_data(stream_id, b"b" * 40_000)
    conn.send_trailers(stream_id, TRAILERS)
    out = peer.read()
    data = [f for f in out if f.type == fr.DATA]
    assert [len(f.data) for f in data] == [16_384, 16_384, 7_232, 16_384, 9_151]
    assert not any(f.flags & fr.FLAG_END_STREAM for f in out)
    assert conn.outbound_queued(stream_id) == 80_000 - 65_535
    assert conn.stream_state(stream_id) == S.HALF_CLOSED_LOCAL
    peer.send(fr.build_window_update(0, 100_000))
    assert peer.read() == []  # the stream window is still closed
    events = peer.send(fr.build_window_update(stream_id, 100_000))
    assert events == [SendQueueDrained(stream_id)]
    out = peer.read()
    assert [f.type for f in out] == [fr.DATA, fr.HEADERS]
    assert b"".join(f.data for f in data + out[:1]) == b"a" * 40_000 + b"b" * 40_000
    assert out[1].flags & fr.FLAG_END_STREAM and peer.decode(out[1].data) == TRAILERS


def test_small_data_keeps_order_and_windows(make_peer: Any) -> None:
    """Small DATA is framed at once only while nothing of the stream waits for window and
    it fits both windows and one frame; otherwise it queues behind, in order."""
    peer = make_peer(conn_is_client=True, peer_settings=[(fr.SETTINGS_INITIAL_WINDOW_SIZE, 100)])
    conn = peer.conn
    stream_id = conn.open_stream(REQUEST)
    conn.send_data(stream_id, b"a" * 60)  # fits: one frame
    conn.send_data(stream_id, b"b" * 60)  # 40 fit, 20 queue
    conn.send_data(stream_id, b"c" * 5)  # would fit a fresh window, but b is waiting
    out = [f for f in peer.read() if f.type == fr.DATA]
    assert [f.data for f in out] == [b"a" * 60, b"b" * 40]
    assert conn.remote_window(stream_id) == 0
    assert conn.outbound_queued(stream_id) == 25
    peer.send(fr.build_window_update(stream_id, 1000))
    out = [f for f in peer.read() if f.type == fr.DATA]
    assert b"".join(f.data for f in out) == b"b" * 20 + b"c" * 5
    conn.send_data(stream_id, b"d" * 7)  # nothing queued now: at once
    out = [f for f in peer.read() if f.type == fr.DATA]
    assert [f.data for f in out] == [b"d" * 7]
    assert conn.remote_window(stream_id) == 1000 - 25 - 7
    conn.send_data(stream_id, b"", end_stream=True)
    assert conn.stream_state(stream_id) == S.HALF_CLOSED_LOCAL
    with pytest.raises(StreamStateError):
        conn.send_data(stream_id, b"e")


def test_send_data_takes_only_bytes_like_data(make_peer: Any) -> None:
    """Not bytes-like: refused at the call, the connection's output intact. A bytearray is
    framed as a view of it: it may not change size until written (BufferError)."""
    peer = make_peer(conn_is_client=True)
    conn = peer.conn
    stream_id = conn.open_stream(REQUEST)
    with pytest.raises(TypeError):
        conn.send_data(stream_id, "text")  # type: ignore[arg-type]
    buffer = bytearray(b"abc")
    conn.send_data(stream_id, buffer)
    with pytest.raises(BufferError):
        buffer.extend(b"def")
    conn.send_data(stream_id, b"xyz")
    assert b"".join(f.data for f in peer.read() if f.type == fr.DATA) == b"abcxyz"


def test_queued_data_is_released_fairly(make_peer: Any) -> None:
    peer = make_peer(conn_is_client=True, peer_settings=[(fr.SETTINGS_INITIAL_WINDOW_SIZE, 10**6)])
    conn = peer.conn
    ids = [conn.open_stream(REQUEST) for _ in range(4)]
    for stream_id in ids:
        conn.send_data(stream_id, bytes(100_000), end_stream=True)
    peer.read()
    assert conn.remote_window(0) == 0
    peer.send(fr.build_window_update(0, 4 * 16_384))
    sent = {}
    for f in peer.read():
        sent[f.stream_id] = sent.get(f.stream_id, 0) + len(f.data)
    assert sent == dict.fromkeys(ids, 16_384)


def test_finished_streams_are_forgotten(make_peer: Any) -> None:
    peer = make_peer(config=H2Config(closed_stream_history=64))
    for i in range(2000):
        stream_id = 2 * i + 1
        peer.send(peer.headers(stream_id, REQUEST, end_stream=True))
        peer.conn.send_headers(stream_id, RESPONSE + TRAILERS, end_stream=True)
        peer.conn.data_to_send()
    conn = peer.conn
    assert conn.open_streams == 0
    assert len(conn._streams) == 0 and len(conn._closed) + len(conn._closed_old) <= 64
    # A late DATA on a long-forgotten stream is ignored, not fatal.
    assert peer.send(fr.build_data(1, b"late")) == []
    assert not conn.terminated


@pytest.mark.parametrize("history", [1, 7, 64])
def test_closed_stream_history_keeps_the_newest_half(make_peer: Any, history: int) -> None:
    """Late DATA on a stream that closed normally is a connection error STREAM_CLOSED
    (RFC 9113 §5.1) while the stream is remembered, which the newest half of the history
    always is; on a stream forgotten long ago it is ignored, like one we reset."""
    count = 3 * history + 5
    ids = [2 * i + 1 for i in range(count)]

    def closed_peer() -> Any:
        peer = make_peer(config=H2Config(closed_stream_history=history))
        for stream_id in ids:
            peer.send(peer.headers(stream_id, REQUEST, end_stream=True))
            peer.conn.send_headers(stream_id, RESPONSE + TRAILERS, end_stream=True)
        peer.read()
        assert len(peer.conn._closed) + len(peer.conn._closed_old) <= history
        return peer

    for stream_id in (ids[-1], ids[-max(1, history // 2)]):
        peer = closed_peer()
        peer.send(fr.build_data(stream_id, b"late"))
        assert goaway_code(peer.read()) == ErrorCode.STREAM_CLOSED, stream_id
    peer = closed_peer()
    assert peer.send(fr.build_data(ids[0], b"late")) == []
    assert not peer.conn.terminated and peer.read() == []


# ===================================================================== hostile peers


def test_rapid_reset_burst(make_peer: Any) -> None:
    config = H2Config(max_peer_resets_per_second=100, peer_reset_burst=50)
    peer = make_peer(config=config)
    events: list[Event] = []
    stream_id = 1
    for _ in range(60):
        events += peer.send(
            peer.headers(stream_id, REQUEST), fr.build_rst_stream(stream_id, ErrorCode.CANCEL)
        )
        stream_id += 2
    assert_connection_error(peer, events, ErrorCode.ENHANCE_YOUR_CALM)
    assert sum(isinstance(e, StreamReset) for e in events) == 50


def test_resets_within_the_rate_are_fine(make_peer: Any) -> None:
    config = H2Config(max_peer_resets_per_second=100, peer_reset_burst=50)
    peer = make_peer(config=config)
    for i in range(500):
        peer.now = i * 0.011  # just under 100 per second
        events = peer.send(peer.headers(2 * i + 1, REQUEST), fr.build_rst_stream(2 * i + 1, 8))
        assert terminated(events) is None
    assert peer.conn.open_streams == 0


def test_provoked_stream_errors_count_as_resets(make_peer: Any) -> None:
    # "MadeYouReset": the peer makes *us* reset streams (here with malformed requests).
    peer = make_peer(config=H2Config(max_peer_resets_per_second=100, peer_reset_burst=50))
    bad = [*REQUEST, (b"connection", b"close")]
    events = peer.send(*[peer.headers(2 * i + 1, bad) for i in range(60)])
    assert_connection_error(peer, events, ErrorCode.ENHANCE_YOUR_CALM)


def test_continuation_flood(make_peer: Any) -> None:
    peer = make_peer(config=H2Config(max_continuation_frames=32))
    events = peer.send(fr.build_headers(1, peer.block(REQUEST), end_headers=False))
    for _ in range(40):
        events += peer.send(fr.build_continuation(1, b"", end_headers=False))
    assert_connection_error(peer, events, ErrorCode.ENHANCE_YOUR_CALM)


def test_oversized_header_block(make_peer: Any) -> None:
    peer = make_peer(config=H2Config(max_header_block_size=40_000))
    events = peer.send(fr.build_headers(1, b"\x00" * 16_000, end_headers=False))
    events += peer.send(fr.build_continuation(1, b"\x00" * 16_000, end_headers=False))
    events += peer.send(fr.build_continuation(1, b"\x00" * 16_000, end_headers=False))
    assert_connection_error(peer, events, ErrorCode.ENHANCE_YOUR_CALM)


def test_hpack_bomb(make_peer: Any) -> None:
    peer = make_peer(config=H2Config(max_header_list_size=16_384))
    # One 4000-byte entry in the dynamic table (index 62), sent with a valid request...
    value = b"b" * 4000
    first = peer.headers(1, [*REQUEST, (b"x-bomb", value)])
    assert peer.send(first)[0] == HeadersReceived(1, [*REQUEST, (b"x-bomb", value)], False)
    # ...then referenced 10,000 times: 10 KB on the wire, 40 MB if decoded naively.
    bomb = peer.block(REQUEST) + b"\xbe" * 10_000  # 0xbe = indexed field 62
    events = peer.send(
        fr.build_headers(3, bomb[:16_000], end_headers=False),
        fr.build_continuation(3, bomb[16_000:]),
    )
    assert events == []
    assert resets(peer.read()) == {3: ErrorCode.PROTOCOL_ERROR}
    # The dynamic table is still in step: the entry still decodes on a new stream.
    events = peer.send(peer.headers(5, [*REQUEST, (b"x-bomb", value)]))
    assert events == [HeadersReceived(5, [*REQUEST, (b"x-bomb", value)], False)]


def test_ping_flood(make_peer: Any) -> None:
    peer = make_peer(config=H2Config(max_pings_per_second=10, ping_burst=100))
    events = peer.send(*[fr.build_ping(b"%08d" % i) for i in range(150)])
    assert sum(isinstance(e, PingReceived) for e in events) == 100
    assert_connection_error(peer, events, ErrorCode.ENHANCE_YOUR_CALM)


def test_pings_within_the_rate_are_fine(make_peer: Any) -> None:
    peer = make_peer(config=H2Config(max_pings_per_second=10, ping_burst=100))
    for i in range(1000):
        peer.now = i * 0.1
        assert peer.send(fr.build_ping(b"%08d" % i)) == [PingReceived(b"%08d" % i)]
        peer.read()


def test_pings_answering_our_data_are_not_a_flood(make_peer: Any) -> None:
    """grpc-go PINGs once per round trip of DATA it receives (BDP estimation): a PING
    after we sent HEADERS or DATA never counts towards the flood limit."""
    peer = make_peer(config=H2Config(max_pings_per_second=10, ping_burst=5))
    request = [
        (b":method", b"POST"),
        (b":scheme", b"http"),
        (b":path", b"/s/m"),
        (b":authority", b"a"),
    ]
    peer.send(peer.headers(1, request))
    peer.read()
    peer.conn.send_headers(1, [(b":status", b"200")])
    for i in range(500):  # all at one instant: only the exemption lets them through
        peer.conn.send_data(1, b"x")
        peer.read()
        assert peer.send(fr.build_ping(b"%08d" % i)) == [PingReceived(b"%08d" % i)]
    # Without our traffic in between, the limit holds again.
    events = peer.send(*[fr.build_ping(b"%08d" % i) for i in range(10)])
    assert_connection_error(peer, events, ErrorCode.ENHANCE_YOUR_CALM)


@pytest.mark.parametrize(
    "frame",
    [
        fr.build_data(1, b""),  # empty DATA without END_STREAM
        fr.build_priority(1, fr.Priority(0, 16, False)),
        fr.build_frame(0xEE, 0, 0, b"ext"),  # an unknown frame type
    ],
    ids=["empty-data", "priority", "unknown-type"],
)
def test_empty_frame_flood(make_peer: Any, frame: bytes) -> None:
    """CVE-2019-9518: frames that cost work and carry nothing are rate-limited."""
    peer = make_peer(config=H2Config(max_empty_frames_per_second=100, empty_frame_burst=50))
    request = [
        (b":method", b"POST"),
        (b":scheme", b"http"),
        (b":path", b"/s/m"),
        (b":authority", b"a"),
    ]
    peer.send(peer.headers(1, request))
    peer.read()
    for i in range(200):  # within the rate: fine
        peer.now = i * 0.02
        events = peer.send(frame)
        assert not any(isinstance(e, ConnectionTerminated) for e in events)
    events = peer.send(*[frame] * 100)  # a burst past it: the connection ends
    assert_connection_error(peer, events, ErrorCode.ENHANCE_YOUR_CALM)


def test_settings_flood(make_peer: Any) -> None:
    peer = make_peer(config=H2Config(max_settings_per_second=10, settings_burst=50))
    events = peer.send(*[fr.build_settings([(fr.SETTINGS_MAX_FRAME_SIZE, 16_384)])] * 100)
    assert sum(isinstance(e, SettingsReceived) for e in events) < 50
    assert_connection_error(peer, events, ErrorCode.ENHANCE_YOUR_CALM)


def test_peer_that_never_reads(make_peer: Any) -> None:
    # The driver stops draining data_to_send() (transport paused) while the peer keeps
    # provoking PING ACKs at an allowed rate: the reply backlog is bounded.
    config = H2Config(max_outbound_buffer=4096, max_pings_per_second=1000, ping_burst=1000)
    peer = make_peer(config=config)
    events: list[Event] = []
    sent = 0
    while not peer.conn.terminated:
        peer.now += 0.01
        events += peer.conn.receive_data(fr.build_ping(b"%08d" % sent), peer.now)
        sent += 1
        assert sent < 1000
    assert sent == 4096 // 17 + 1
    assert_connection_error(peer, events, ErrorCode.ENHANCE_YOUR_CALM)
    assert peer.conn.outbound_buffered < 4096 + 100


def test_peer_that_reads_is_not_limited(make_peer: Any) -> None:
    config = H2Config(max_outbound_buffer=4096, max_pings_per_second=1000, ping_burst=1000)
    peer = make_peer(config=config)
    for i in range(2000):
        peer.now += 0.01
        assert terminated(peer.send(fr.build_ping(b"%08d" % i))) is None
        peer.read()


def test_local_misuse_raises_and_sends_nothing(client_peer: RawPeer) -> None:
    conn = client_peer.conn
    stream_id = conn.open_stream(REQUEST, end_stream=True)
    client_peer.read()
    with pytest.raises(StreamStateError):
        conn.send_data(stream_id, b"after end")
    with pytest.raises(StreamStateError):
        conn.send_data(99, b"never opened")
    with pytest.raises(StreamStateError):
        conn.reset_stream(101)
    assert conn.data_to_send() == b""
    server = H2Connection(client_side=False)
    with pytest.raises(Exception, match="cannot open"):
        server.open_stream(REQUEST)
