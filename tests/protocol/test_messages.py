"""Length-Prefixed-Message framing and the deframer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grpcx.protocol.errors import ProtocolStatusError
from grpcx.protocol.messages import (
    DEFAULT_MAX_MESSAGE_SIZE,
    MessageDeframer,
    encode_message,
    whole_message,
)
from grpcx.status import StatusCode


def test_encode_message() -> None:
    assert encode_message(b"") == b"\x00\x00\x00\x00\x00"
    assert encode_message(b"abc") == b"\x00\x00\x00\x00\x03abc"
    assert encode_message(b"abc", compressed=True) == b"\x01\x00\x00\x00\x03abc"
    assert encode_message(b"x" * 0x10203) == b"\x00\x00\x01\x02\x03" + b"x" * 0x10203


def test_encode_message_too_large() -> None:
    class Huge(bytes):
        def __len__(self) -> int:
            return 1 << 32

    with pytest.raises(ProtocolStatusError) as info:
        encode_message(Huge())
    assert info.value.code is StatusCode.RESOURCE_EXHAUSTED


def test_default_max() -> None:
    assert MessageDeframer().max_message_size == DEFAULT_MAX_MESSAGE_SIZE == 4 * 1024 * 1024


def test_many_messages_in_one_chunk() -> None:
    data = encode_message(b"a") + encode_message(b"", compressed=True) + encode_message(b"bc")
    deframer = MessageDeframer(100)
    assert deframer.feed(data) == [(False, b"a"), (True, b""), (False, b"bc")]
    assert deframer.buffered == 0
    deframer.end_of_stream()


def test_byte_at_a_time() -> None:
    data = (
        encode_message(b"hello") + encode_message(b"") + encode_message(b"world", compressed=True)
    )
    deframer = MessageDeframer(100)
    out = []
    for i in range(len(data)):
        out += deframer.feed(data[i : i + 1])
    assert out == [(False, b"hello"), (False, b""), (True, b"world")]
    deframer.end_of_stream()


def test_split_body_then_more_messages_in_same_chunk() -> None:
    data = encode_message(b"x" * 10) + encode_message(b"y")
    deframer = MessageDeframer(100)
    assert deframer.feed(data[:8]) == []
    assert deframer.buffered == 8
    assert deframer.feed(data[8:]) == [(False, b"x" * 10), (False, b"y")]
    assert deframer.buffered == 0


def test_empty_feed() -> None:
    deframer = MessageDeframer(10)
    assert deframer.feed(b"") == []
    deframer.end_of_stream()


def test_max_size_exactly_allowed() -> None:
    assert MessageDeframer(3).feed(encode_message(b"abc")) == [(False, b"abc")]


def test_oversize_rejected_on_prefix_alone() -> None:
    deframer = MessageDeframer(3)
    assert deframer.feed(b"\x00\x00\x00") == []
    with pytest.raises(ProtocolStatusError) as info:
        deframer.feed(b"\x00\x04")  # prefix complete, no body sent
    assert info.value.code is StatusCode.RESOURCE_EXHAUSTED
    assert deframer.buffered == 0
    # The deframer stays failed.
    with pytest.raises(ProtocolStatusError) as again:
        deframer.feed(b"abcd")
    assert again.value is info.value
    with pytest.raises(ProtocolStatusError):
        deframer.end_of_stream()


def test_huge_length_rejected_without_buffering() -> None:
    deframer = MessageDeframer(DEFAULT_MAX_MESSAGE_SIZE)
    with pytest.raises(ProtocolStatusError) as info:
        deframer.feed(encode_message(b"ok") + b"\x00\xff\xff\xff\xff")
    assert info.value.code is StatusCode.RESOURCE_EXHAUSTED


@pytest.mark.parametrize("flag", [2, 0x80, 0xFF])
def test_bad_flag(flag: int) -> None:
    deframer = MessageDeframer(10)
    with pytest.raises(ProtocolStatusError) as info:
        deframer.feed(bytes([flag]) + b"\x00\x00\x00\x00")
    assert info.value.code is StatusCode.INTERNAL


def test_bad_flag_after_split_prefix() -> None:
    deframer = MessageDeframer(10)
    assert deframer.feed(encode_message(b"a") + b"\x02\x00") == [(False, b"a")]
    with pytest.raises(ProtocolStatusError) as info:
        deframer.feed(b"\x00\x00\x00")
    assert info.value.code is StatusCode.INTERNAL


@pytest.mark.parametrize("held", [b"\x00", b"\x00\x00\x00\x00", b"\x00\x00\x00\x00\x02a"])
def test_truncated_at_end_of_stream(held: bytes) -> None:
    deframer = MessageDeframer(10)
    assert deframer.feed(held) == []
    with pytest.raises(ProtocolStatusError) as info:
        deframer.end_of_stream()
    assert info.value.code is StatusCode.INTERNAL
    assert deframer.buffered == 0


def test_whole_message_payload_is_bytes() -> None:
    ((flag, payload),) = MessageDeframer(10).feed(encode_message(b"abc"))
    assert type(payload) is bytes and flag is False


messages = st.lists(st.tuples(st.booleans(), st.binary(max_size=300)), max_size=12)


@given(messages, st.data())
def test_random_chunking(msgs: list[tuple[bool, bytes]], data: st.DataObject) -> None:
    stream = b"".join(encode_message(payload, compressed=flag) for flag, payload in msgs)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    deframer = MessageDeframer(300)
    out = []
    start = 0
    for cut in [*cuts, len(stream)]:
        out += deframer.feed(stream[start:cut])
        start = cut
    deframer.end_of_stream()
    assert out == msgs


@given(st.binary(max_size=200), st.data())
def test_fuzz_parses_or_fails_with_status(stream: bytes, data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    deframer = MessageDeframer(16)
    start = 0
    try:
        for cut in [*cuts, len(stream)]:
            for _, payload in deframer.feed(stream[start:cut]):
                assert len(payload) <= 16
            start = cut
            assert deframer.buffered <= 5 + 16 + len(stream)
        deframer.end_of_stream()
    except ProtocolStatusError as exc:
        assert exc.code in (StatusCode.INTERNAL, StatusCode.RESOURCE_EXHAUSTED)


@given(st.binary(max_size=40), st.integers(min_value=0, max_value=50))
def test_whole_message_agrees_with_the_deframer(data: bytes, limit: int) -> None:
    """whole_message takes exactly what a deframer would return as one message from the
    whole of ``data``, and nothing else."""
    deframer = MessageDeframer(limit)
    try:
        messages = deframer.feed(data)
        deframer.end_of_stream()
    except ProtocolStatusError:
        messages = []
    expected = messages[0] if len(messages) == 1 else None
    assert whole_message(data, limit) == expected


def test_whole_message_cases() -> None:
    assert whole_message(encode_message(b"abc"), 3) == (False, b"abc")
    assert whole_message(encode_message(b"abc", compressed=True), 3) == (True, b"abc")
    assert whole_message(encode_message(b""), 0) == (False, b"")
    assert whole_message(encode_message(b"abc"), 2) is None  # over the limit
    assert whole_message(encode_message(b"abc")[:-1], 3) is None  # part of one
    assert whole_message(encode_message(b"a") + encode_message(b"b"), 3) is None  # two
    assert whole_message(b"\x02" + encode_message(b"abc")[1:], 3) is None  # bad flag
    assert whole_message(b"\x00\x00", 3) is None
