"""Harnesses for the sans-IO HTTP/2 connection.

* :class:`ConnectionPair`: a client and a server :class:`H2Connection` wired back to back in
  memory, with optional byte-at-a-time delivery and application callbacks per side.
* :class:`RawPeer`: one connection under test driven by hand-built frames (``frames.py``
  builders, HPACK from python-hyper's ``hpack`` as an independent oracle); its output is
  decoded back into :class:`Frame` objects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import hpack
import pytest

from grpcx.http2 import frames as fr
from grpcx.http2.connection import H2Connection
from grpcx.http2.events import Event
from grpcx.http2.settings import H2Config

Headers = list[tuple[bytes, bytes]]
Handler = Callable[[H2Connection, Event], None]


class ConnectionPair:
    """A client and a server connection exchanging bytes in memory."""

    def __init__(
        self,
        client_config: H2Config | None = None,
        server_config: H2Config | None = None,
        *,
        chunk: int | None = None,
        now: float = 0.0,
    ) -> None:
        self.client = H2Connection(client_side=True, config=client_config)
        self.server = H2Connection(client_side=False, config=server_config)
        self.chunk = chunk  # None: deliver each batch whole; n: n bytes per receive_data
        self.now = now
        self.client_events: list[Event] = []
        self.server_events: list[Event] = []
        self.on_client: Handler | None = None
        self.on_server: Handler | None = None
        self.client.initiate(now)
        self.server.initiate(now)

    def _deliver(
        self, data: bytes, to: H2Connection, log: list[Event], handler: Handler | None
    ) -> None:
        step = self.chunk or len(data)
        for start in range(0, len(data), step):
            for event in to.receive_data(data[start : start + step], self.now):
                if handler is None:
                    log.append(event)
                else:
                    handler(to, event)

    def pump(self, max_rounds: int = 1_000_000) -> int:
        """Exchange bytes until both sides are quiet; returns the number of rounds."""
        for rounds in range(max_rounds):
            to_server = self.client.data_to_send()
            to_client = self.server.data_to_send()
            if not to_server and not to_client:
                return rounds
            if to_server:
                self._deliver(to_server, self.server, self.server_events, self.on_server)
            if to_client:
                self._deliver(to_client, self.client, self.client_events, self.on_client)
        raise AssertionError("the pair did not settle")

    def take(self) -> tuple[list[Event], list[Event]]:
        """The events logged so far (client's, server's), clearing the logs."""
        client, server = self.client_events, self.server_events
        self.client_events, self.server_events = [], []
        return client, server


class RawPeer:
    """The far end of one connection under test, speaking raw frames."""

    def __init__(
        self,
        *,
        conn_is_client: bool = False,
        config: H2Config | None = None,
        handshake: bool = True,
        peer_settings: Iterable[tuple[int, int]] = (),
    ) -> None:
        self.conn = H2Connection(client_side=conn_is_client, config=config)
        self.conn.initiate(0.0)
        self.now = 0.0
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.decoder.max_header_list_size = 2**32
        self._reader = fr.FrameReader(max_frame_size=fr.MAX_FRAME_SIZE_LIMIT)
        self.received: list[fr.Frame] = []  # every frame the connection sent us
        self._expect_preface = conn_is_client
        if handshake:
            if not conn_is_client:
                self.send_raw(fr.CONNECTION_PREFACE)
            self.send(fr.build_settings(list(peer_settings)), fr.build_settings(ack=True))
            self.read()

    def send_raw(self, data: bytes) -> list[Event]:
        return self.conn.receive_data(data, self.now)

    def send(self, *frames: bytes) -> list[Event]:
        """Feed frames to the connection; returns its events."""
        return self.conn.receive_data(b"".join(frames), self.now)

    def read(self) -> list[fr.Frame]:
        """Decode what the connection has queued for us."""
        data = self.conn.data_to_send()
        if self._expect_preface:
            assert data.startswith(fr.CONNECTION_PREFACE)
            data = data[len(fr.CONNECTION_PREFACE) :]
            self._expect_preface = False
        self._reader.feed(data)
        out = []
        while (raw := self._reader.read_frame()) is not None:
            frame = fr.decode_frame(*raw)
            out.append(frame)
        self.received.extend(out)
        return out

    def block(self, headers: Headers) -> bytes:
        return bytes(self.encoder.encode(headers))

    def headers(self, stream_id: int, headers: Headers, *, end_stream: bool = False) -> bytes:
        return fr.build_headers(stream_id, self.block(headers), end_stream=end_stream)

    def decode(self, block: bytes) -> Headers:
        return [(bytes(n), bytes(v)) for n, v in self.decoder.decode(block, raw=True)]


@pytest.fixture
def peer() -> RawPeer:
    """A raw client talking to a server connection under test, handshake done."""
    return RawPeer()


@pytest.fixture
def client_peer() -> RawPeer:
    """A raw server talking to a client connection under test, handshake done."""
    return RawPeer(conn_is_client=True)


@pytest.fixture
def make_pair() -> type[ConnectionPair]:
    """The :class:`ConnectionPair` class, to build pairs with custom configs."""
    return ConnectionPair


@pytest.fixture
def make_peer() -> type[RawPeer]:
    """The :class:`RawPeer` class, to build peers with custom configs."""
    return RawPeer
