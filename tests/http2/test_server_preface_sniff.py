"""The client side's look at the server's first bytes: an HTTP/1 status line or a TLS
record ends the connection with a reason that says what the server speaks; a real
SETTINGS frame, however it is split, goes through."""

from __future__ import annotations

import pytest

from grpcx.http2 import frames as fr
from grpcx.http2.connection import H2Connection
from grpcx.http2.errors import ErrorCode
from grpcx.http2.events import ConnectionTerminated, Event, SettingsReceived


def _client() -> H2Connection:
    client = H2Connection(client_side=True)
    client.initiate(0.0)
    client.data_to_send()
    return client


def _feed(client: H2Connection, data: bytes, chunk: int) -> list[Event]:
    events: list[Event] = []
    for start in range(0, len(data), chunk):
        events.extend(client.receive_data(data[start : start + chunk], 0.0))
    return events


def _terminated(
    events: list[Event], code: int | None = ErrorCode.PROTOCOL_ERROR
) -> ConnectionTerminated:
    ended = [event for event in events if isinstance(event, ConnectionTerminated)]
    assert len(ended) == 1, events
    if code is not None:
        assert ended[0].error_code == code
    return ended[0]


HTTP1_400 = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nBad Request"
)


@pytest.mark.parametrize("chunk", [1, 3, 7, 1000])
def test_http1_status_line_is_named_with_its_status(chunk: int) -> None:
    client = _client()
    event = _terminated(_feed(client, HTTP1_400, chunk))
    assert event.reason == (
        "the server answered with HTTP/1.1 (status 400): not a gRPC server,"
        " or TLS/plaintext mismatch"
    )
    assert client.terminated


def test_http1_0_and_a_status_line_without_status() -> None:
    reason = _terminated(_feed(_client(), b"HTTP/1.0 505 Nope\r\n\r\n", 1000)).reason
    assert "HTTP/1.0 (status 505)" in reason
    reason = _terminated(_feed(_client(), b"HTTP/1.1\r\n", 1000)).reason
    assert "HTTP/1.1 (no status)" in reason


def test_http1_without_a_line_end_is_named_once_the_line_is_long() -> None:
    client = _client()
    assert _feed(client, b"HTTP/1.1 200 " + b"x" * 100, 1000) == []  # still waiting
    reason = _terminated(_feed(client, b"x" * 300, 1000)).reason
    assert "HTTP/1.1 (status 200)" in reason


@pytest.mark.parametrize(
    "record",
    [
        b"\x15\x03\x03\x00\x02\x02\x46",  # a TLS alert (protocol_version)
        b"\x16\x03\x01\x00\x05hello",  # a TLS handshake record
    ],
)
@pytest.mark.parametrize("chunk", [1, 1000])
def test_tls_record_says_use_tls(record: bytes, chunk: int) -> None:
    reason = _terminated(_feed(_client(), record, chunk)).reason
    assert reason == "the server answered with TLS: use a TLS channel (ssl=...)"


@pytest.mark.parametrize("chunk", [1, 2, 5, 1000])
def test_a_real_settings_frame_passes_however_split(chunk: int) -> None:
    data = fr.build_settings([(fr.SETTINGS_MAX_CONCURRENT_STREAMS, 7)])
    events = _feed(_client(), data, chunk)
    assert [type(event) for event in events] == [SettingsReceived]


def test_other_garbage_is_still_a_frame_error() -> None:
    # Not HTTP/1, not TLS: the frame reader's own error, as before.
    events = _feed(_client(), b"\x7fgarbage-bytes!", 1000)
    reason = _terminated(events, ErrorCode.FRAME_SIZE_ERROR).reason
    assert "HTTP/1" not in reason
    assert "TLS" not in reason


def test_server_side_is_unchanged() -> None:
    server = H2Connection(client_side=False)
    server.initiate(0.0)
    events = server.receive_data(HTTP1_400, 0.0)
    reason = _terminated(events, None).reason
    assert "HTTP/1" not in reason
