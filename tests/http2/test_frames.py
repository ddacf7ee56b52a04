"""Frame codec tests, with python-hyper's ``hyperframe`` as the oracle both ways."""

from __future__ import annotations

import contextlib
import random

import hyperframe.frame as hf
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from grpcx.http2 import frames as fr
from grpcx.http2.errors import ErrorCode, FrameTooLargeError, H2ConnectionError, H2StreamError


def parse_with_hyperframe(data: bytes) -> hf.Frame:
    frame, length = hf.Frame.parse_frame_header(memoryview(data[:9]))
    assert len(data) == 9 + length
    frame.parse_body(memoryview(data[9:]))
    return frame


def read_one(data: bytes) -> fr.Frame:
    reader = fr.FrameReader(max_frame_size=fr.MAX_FRAME_SIZE_LIMIT)
    reader.feed(data)
    raw = reader.read_frame()
    assert raw is not None
    assert reader.read_frame() is None
    assert reader.buffered == 0
    return fr.decode_frame(*raw)


stream_ids = st.integers(min_value=1, max_value=fr.MAX_STREAM_ID)
payloads = st.binary(max_size=300)
pads = st.none() | st.integers(min_value=0, max_value=255)


# ------------------------------------------------------------ ours -> hyperframe


@given(stream_ids, payloads, st.booleans(), pads)
def test_data_parses_with_hyperframe(
    stream_id: int, data: bytes, end: bool, pad: int | None
) -> None:
    frame = parse_with_hyperframe(fr.build_data(stream_id, data, end_stream=end, pad_length=pad))
    assert isinstance(frame, hf.DataFrame)
    assert frame.stream_id == stream_id
    assert frame.data == data
    assert ("END_STREAM" in frame.flags) == end
    assert frame.pad_length == (pad or 0)
    assert frame.flow_controlled_length == len(data) + (0 if pad is None else pad + 1)


@given(
    stream_ids,
    payloads,
    st.booleans(),
    st.booleans(),
    pads,
    st.none()
    | st.tuples(
        st.integers(min_value=0, max_value=fr.MAX_STREAM_ID),
        st.integers(min_value=1, max_value=256),
        st.booleans(),
    ),
)
def test_headers_parse_with_hyperframe(
    stream_id: int,
    block: bytes,
    end_stream: bool,
    end_headers: bool,
    pad: int | None,
    prio: tuple[int, int, bool] | None,
) -> None:
    # hyperframe rejects padding equal to the fragment that remains (an empty fragment),
    # which RFC 9113 §6.2 allows; test_empty_padded_headers_fragment covers our side.
    assume(pad is None or pad < len(block))
    priority = fr.Priority(*prio) if prio else None
    data = fr.build_headers(
        stream_id,
        block,
        end_stream=end_stream,
        end_headers=end_headers,
        pad_length=pad,
        priority=priority,
    )
    frame = parse_with_hyperframe(data)
    assert isinstance(frame, hf.HeadersFrame)
    assert frame.data == block
    assert ("END_STREAM" in frame.flags) == end_stream
    assert ("END_HEADERS" in frame.flags) == end_headers
    if priority is not None:
        assert "PRIORITY" in frame.flags
        assert frame.depends_on == priority.depends_on
        assert frame.stream_weight == priority.weight - 1
        assert frame.exclusive == priority.exclusive


def test_control_frames_parse_with_hyperframe() -> None:
    frame = parse_with_hyperframe(fr.build_rst_stream(3, ErrorCode.CANCEL))
    assert isinstance(frame, hf.RstStreamFrame) and frame.error_code == 8

    frame = parse_with_hyperframe(fr.build_settings([(1, 0), (4, 2**31 - 1), (0x99, 7)]))
    assert isinstance(frame, hf.SettingsFrame)
    assert frame.settings == {1: 0, 4: 2**31 - 1, 0x99: 7}
    frame = parse_with_hyperframe(fr.build_settings(ack=True))
    assert "ACK" in frame.flags and frame.settings == {}

    frame = parse_with_hyperframe(fr.build_ping(b"12345678", ack=True))
    assert isinstance(frame, hf.PingFrame) and frame.opaque_data == b"12345678"
    assert "ACK" in frame.flags

    frame = parse_with_hyperframe(fr.build_goaway(7, ErrorCode.ENHANCE_YOUR_CALM, b"calm"))
    assert isinstance(frame, hf.GoAwayFrame)
    assert (frame.last_stream_id, frame.error_code, frame.additional_data) == (7, 11, b"calm")

    frame = parse_with_hyperframe(fr.build_window_update(0, 2**31 - 1))
    assert isinstance(frame, hf.WindowUpdateFrame) and frame.window_increment == 2**31 - 1

    frame = parse_with_hyperframe(fr.build_continuation(5, b"abc", end_headers=False))
    assert isinstance(frame, hf.ContinuationFrame) and frame.data == b"abc"
    assert "END_HEADERS" not in frame.flags

    frame = parse_with_hyperframe(fr.build_priority(9, fr.Priority(3, 256, True)))
    assert isinstance(frame, hf.PriorityFrame)
    assert (frame.depends_on, frame.stream_weight, frame.exclusive) == (3, 255, True)

    frame = parse_with_hyperframe(fr.build_push_promise(1, 2, b"blk", pad_length=3))
    assert isinstance(frame, hf.PushPromiseFrame)
    assert (frame.promised_stream_id, frame.data, frame.pad_length) == (2, b"blk", 3)


# ------------------------------------------------------------ hyperframe -> ours


@given(stream_ids, payloads, st.booleans(), pads)
def test_hyperframe_data_parses(stream_id: int, data: bytes, end: bool, pad: int | None) -> None:
    f = hf.DataFrame(stream_id, data)
    if end:
        f.flags.add("END_STREAM")
    if pad is not None:
        f.flags.add("PADDED")
        f.pad_length = pad
    frame = read_one(f.serialize())
    assert (frame.type, frame.stream_id, frame.data) == (fr.DATA, stream_id, data)
    assert bool(frame.flags & fr.FLAG_END_STREAM) == end


def _random_hyperframe(rng: random.Random) -> tuple[hf.Frame, fr.Frame]:
    """A random hyperframe frame and the Frame we expect to decode from it."""
    kind = rng.randrange(9)
    sid = rng.randrange(1, 2**31)
    blob = rng.randbytes(rng.randrange(0, 200))
    f: hf.Frame
    if kind == 0:
        f = hf.HeadersFrame(sid, blob)
        f.flags.add("END_HEADERS")
        if rng.random() < 0.5:
            f.flags.add("PRIORITY")
            f.depends_on, f.stream_weight, f.exclusive = sid - 1, rng.randrange(256), True
            prio = fr.Priority(sid - 1, f.stream_weight + 1, True)
        else:
            prio = None
        return f, fr.Frame(fr.HEADERS, 0, sid, blob, priority=prio)
    if kind == 1:
        f = hf.RstStreamFrame(sid)
        f.error_code = rng.randrange(2**32)
        return f, fr.Frame(fr.RST_STREAM, 0, sid, error_code=f.error_code)
    if kind == 2:
        # hyperframe serializes identifiers as ``ident & 0xFF``, so unknown ones stay < 256.
        pairs = {rng.choice([1, 3, 6, 0x42]): rng.randrange(2**31) for _ in range(3)}
        f = hf.SettingsFrame(0, pairs)
        return f, fr.Frame(fr.SETTINGS, 0, 0, settings=tuple(pairs.items()))
    if kind == 3:
        opaque = rng.randbytes(8)
        f = hf.PingFrame(0, opaque)
        return f, fr.Frame(fr.PING, 0, 0, opaque)
    if kind == 4:
        f = hf.GoAwayFrame(0, sid, rng.randrange(14), blob)
        return f, fr.Frame(fr.GOAWAY, 0, 0, blob, error_code=f.error_code, last_stream_id=sid)
    if kind == 5:
        inc = rng.randrange(1, 2**31)
        f = hf.WindowUpdateFrame(rng.choice([0, sid]), inc)
        return f, fr.Frame(fr.WINDOW_UPDATE, 0, f.stream_id, increment=inc)
    if kind == 6:
        f = hf.ContinuationFrame(sid, blob)
        return f, fr.Frame(fr.CONTINUATION, 0, sid, blob)
    if kind == 7:
        f = hf.PushPromiseFrame(sid, rng.randrange(1, 2**30) * 2, blob)
        return f, fr.Frame(fr.PUSH_PROMISE, 0, sid, blob, promised_stream_id=f.promised_stream_id)
    f = hf.PriorityFrame(sid, sid - 1, rng.randrange(256), False)
    return f, fr.Frame(
        fr.PRIORITY, 0, sid, priority=fr.Priority(sid - 1, f.stream_weight + 1, False)
    )


def test_hyperframe_frames_parse_in_one_stream() -> None:
    """Many hyperframe-built frames concatenated parse back, fed in random chunks."""
    rng = random.Random(1234)
    pairs = [_random_hyperframe(rng) for _ in range(2000)]
    wire = b"".join(f.serialize() for f, _ in pairs)
    reader = fr.FrameReader()
    got: list[fr.Frame] = []
    pos = 0
    while pos < len(wire):
        step = rng.choice([1, 2, 9, 10, 100, 4096])
        reader.feed(wire[pos : pos + step])
        pos += step
        while (raw := reader.read_frame()) is not None:
            got.append(fr.decode_frame(*raw))
    assert reader.buffered == 0
    assert len(got) == len(pairs)
    for frame, (_, expected) in zip(got, pairs, strict=True):
        assert (frame.type, frame.stream_id, frame.data) == (
            expected.type,
            expected.stream_id,
            expected.data,
        )
        assert frame.priority == expected.priority
        assert frame.error_code == expected.error_code
        assert frame.settings == expected.settings
        assert frame.increment == expected.increment
        assert frame.promised_stream_id == expected.promised_stream_id
        assert frame.last_stream_id == expected.last_stream_id


# ------------------------------------------------------------ validation


def test_frame_larger_than_max_frame_size_is_rejected() -> None:
    reader = fr.FrameReader()
    reader.feed(fr.build_data(1, b"x" * (fr.DEFAULT_MAX_FRAME_SIZE + 1))[:9])
    with pytest.raises(FrameTooLargeError) as exc:
        reader.read_frame()
    assert exc.value.code == ErrorCode.FRAME_SIZE_ERROR
    ok = fr.FrameReader()
    ok.feed(fr.build_data(1, b"x" * fr.DEFAULT_MAX_FRAME_SIZE))
    assert ok.read_frame() is not None


def test_padding_may_fill_the_whole_frame() -> None:
    assert read_one(fr.build_frame(fr.DATA, fr.FLAG_PADDED, 1, b"\x02ab")).data == b""


def test_empty_padded_headers_fragment() -> None:
    frame = read_one(fr.build_headers(1, b"", pad_length=1))
    assert frame.data == b""
    # Padding one byte longer than what remains is PROTOCOL_ERROR.
    with pytest.raises(H2ConnectionError) as exc:
        read_one(fr.build_frame(fr.HEADERS, fr.FLAG_PADDED | fr.FLAG_END_HEADERS, 1, b"\x02\x00"))
    assert exc.value.code == ErrorCode.PROTOCOL_ERROR


def test_reserved_bit_is_ignored() -> None:
    wire = bytearray(fr.build_window_update(5, 10))
    wire[5] |= 0x80  # set R in the stream identifier
    wire[9] |= 0x80  # and the reserved bit of the increment
    frame = read_one(bytes(wire))
    assert (frame.stream_id, frame.increment) == (5, 10)


def test_unknown_frame_type_is_passed_through() -> None:
    frame = read_one(fr.build_frame(0xFA, 0xFF, 3, b"ext"))
    assert (frame.type, frame.data, frame.type_name) == (0xFA, b"ext", "UNKNOWN(250)")


@pytest.mark.parametrize(
    ("wire", "code"),
    [
        (fr.build_frame(fr.DATA, 0, 0, b"x"), ErrorCode.PROTOCOL_ERROR),
        (fr.build_frame(fr.HEADERS, 4, 0, b"x"), ErrorCode.PROTOCOL_ERROR),
        (fr.build_frame(fr.DATA, fr.FLAG_PADDED, 1, b""), ErrorCode.FRAME_SIZE_ERROR),
        (fr.build_frame(fr.DATA, fr.FLAG_PADDED, 1, b"\x03ab"), ErrorCode.PROTOCOL_ERROR),
        (fr.build_frame(fr.HEADERS, fr.FLAG_PRIORITY, 1, b"1234"), ErrorCode.FRAME_SIZE_ERROR),
        (fr.build_frame(fr.RST_STREAM, 0, 1, b"123"), ErrorCode.FRAME_SIZE_ERROR),
        (fr.build_frame(fr.RST_STREAM, 0, 0, b"1234"), ErrorCode.PROTOCOL_ERROR),
        (fr.build_frame(fr.SETTINGS, 0, 1, b""), ErrorCode.PROTOCOL_ERROR),
        (fr.build_frame(fr.SETTINGS, 0, 0, b"12345"), ErrorCode.FRAME_SIZE_ERROR),
        (fr.build_frame(fr.SETTINGS, fr.FLAG_ACK, 0, b"\x00" * 6), ErrorCode.FRAME_SIZE_ERROR),
        (fr.build_settings([(fr.SETTINGS_ENABLE_PUSH, 2)]), ErrorCode.PROTOCOL_ERROR),
        (
            fr.build_settings([(fr.SETTINGS_INITIAL_WINDOW_SIZE, 2**31)]),
            ErrorCode.FLOW_CONTROL_ERROR,
        ),
        (fr.build_settings([(fr.SETTINGS_MAX_FRAME_SIZE, 16383)]), ErrorCode.PROTOCOL_ERROR),
        (fr.build_settings([(fr.SETTINGS_MAX_FRAME_SIZE, 2**24)]), ErrorCode.PROTOCOL_ERROR),
        (fr.build_frame(fr.PING, 0, 0, b"1234567"), ErrorCode.FRAME_SIZE_ERROR),
        (fr.build_frame(fr.PING, 0, 1, b"12345678"), ErrorCode.PROTOCOL_ERROR),
        (fr.build_frame(fr.GOAWAY, 0, 0, b"1234567"), ErrorCode.FRAME_SIZE_ERROR),
        (fr.build_frame(fr.GOAWAY, 0, 3, b"12345678"), ErrorCode.PROTOCOL_ERROR),
        (fr.build_frame(fr.WINDOW_UPDATE, 0, 0, b"12345"), ErrorCode.FRAME_SIZE_ERROR),
        (fr.build_frame(fr.CONTINUATION, 0, 0, b""), ErrorCode.PROTOCOL_ERROR),
        (fr.build_frame(fr.PUSH_PROMISE, 0, 1, b"123"), ErrorCode.FRAME_SIZE_ERROR),
        (fr.build_frame(fr.PRIORITY, 0, 0, b"12345"), ErrorCode.PROTOCOL_ERROR),
    ],
)
def test_malformed_frames_are_connection_errors(wire: bytes, code: ErrorCode) -> None:
    with pytest.raises(H2ConnectionError) as exc:
        read_one(wire)
    assert exc.value.code == code


def test_priority_errors_are_stream_errors() -> None:
    with pytest.raises(H2StreamError) as exc:
        read_one(fr.build_frame(fr.PRIORITY, 0, 3, b"1234"))
    assert (exc.value.stream_id, exc.value.code) == (3, ErrorCode.FRAME_SIZE_ERROR)
    with pytest.raises(H2StreamError) as exc:
        read_one(fr.build_priority(3, fr.Priority(3, 16, False)))
    assert exc.value.code == ErrorCode.PROTOCOL_ERROR


def test_builders_reject_invalid_arguments() -> None:
    with pytest.raises(ValueError):
        fr.build_ping(b"short")
    with pytest.raises(ValueError):
        fr.build_window_update(1, 0)
    with pytest.raises(ValueError):
        fr.build_data(1, b"", pad_length=256)
    with pytest.raises(ValueError):
        fr.build_settings([(1, 1)], ack=True)


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=400), st.integers(min_value=16384, max_value=2**24 - 1))
def test_fuzz_any_bytes_parse_or_raise_protocol_error(data: bytes, max_frame_size: int) -> None:
    reader = fr.FrameReader(max_frame_size)
    reader.feed(fr.CONNECTION_PREFACE[:0] + data)
    try:
        while (raw := reader.read_frame()) is not None:
            with contextlib.suppress(H2ConnectionError, H2StreamError):
                fr.decode_frame(*raw)
    except FrameTooLargeError:
        return
    assert reader.buffered < 9 + max_frame_size


# ------------------------------------------------------------ runs of frames alike

# read_frames unpacks runs of frames whose headers start alike (same length, type, flags
# and stream id high byte) in one C call; these frames make such runs, and break them.
ALIKE = [
    fr.build_data(1, b"m" * 105),
    fr.build_data(3, b"n" * 105),  # same key as the first: stream ids differ in low bytes
    fr.build_data(1, b"e" * 105, end_stream=True),  # flags differ
    fr.build_data(1, b"s" * 104),  # length differs
    fr.build_window_update(5, 7),
    fr.build_frame(fr.DATA, 0, 0x8000_0001, b"r" * 105),  # reserved bit set: never a run
    fr.build_data(0x0100_0001, b"h" * 105),  # stream id high byte differs
]


@settings(max_examples=300, deadline=None)
@given(
    runs=st.lists(
        st.tuples(st.integers(0, len(ALIKE) - 1), st.integers(1, 40)), min_size=1, max_size=12
    ),
    cut=st.integers(0, 120),
)
def test_runs_of_alike_frames_read_as_one_at_a_time(runs: list[tuple[int, int]], cut: int) -> None:
    wire = b"".join(ALIKE[index] * count for index, count in runs)
    wire = wire[: max(0, len(wire) - cut)]  # often ends inside a frame
    one = fr.FrameReader()
    one.feed(wire)
    expected = list(iter(one.read_frame, None))
    batch = fr.FrameReader()
    batch.feed(wire)
    got = batch.read_frames()
    assert got == expected
    assert batch.buffered == one.buffered
    for frame_type, _flags, stream_id, payload in got:
        assert stream_id & 0x8000_0000 == 0
        assert frame_type != fr.DATA or len(payload) in (104, 105)
