"""HTTP/2 connection configuration and SETTINGS bookkeeping (RFC 9113 §6.5).

:class:`H2Config` holds every knob of a connection: the SETTINGS we advertise and the
limits that protect us from a hostile peer. Each limit has a safe default.

:class:`Settings` is the set of values in force for one side of a connection.
:class:`LocalSettings` tracks what we advertised: a SETTINGS frame we send takes effect
only when the peer acknowledges it (RFC 9113 §6.5.3), so until then the core enforces the
more permissive of the old and the new value (the peer may legitimately use either).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from grpcx.http2.frames import (
    DEFAULT_INITIAL_WINDOW_SIZE,
    DEFAULT_MAX_FRAME_SIZE,
    MAX_FRAME_SIZE_LIMIT,
    MAX_WINDOW_SIZE,
    SETTINGS_ENABLE_CONNECT_PROTOCOL,
    SETTINGS_ENABLE_PUSH,
    SETTINGS_HEADER_TABLE_SIZE,
    SETTINGS_INITIAL_WINDOW_SIZE,
    SETTINGS_MAX_CONCURRENT_STREAMS,
    SETTINGS_MAX_FRAME_SIZE,
    SETTINGS_MAX_HEADER_LIST_SIZE,
)

__all__ = ["UNLIMITED", "H2Config", "LocalSettings", "Settings", "validate_setting"]

#: The value of a setting with no limit ("initial value: unlimited" in RFC 9113 §6.5.2).
UNLIMITED = 2**32 - 1

_MAX_U32 = 2**32 - 1


@dataclass(frozen=True, slots=True)
class H2Config:
    """Everything configurable about one HTTP/2 connection.

    The first group is advertised to the peer in our SETTINGS; the second group bounds the
    work and memory a peer can make us spend. Rates are per second of the ``now`` clock
    passed to the connection; each rate limit is a token bucket holding ``*_burst`` tokens.
    """

    # -- advertised in our SETTINGS (RFC 9113 §6.5.2)
    header_table_size: int = 4096
    """SETTINGS_HEADER_TABLE_SIZE: the HPACK table size the peer may use for headers to us."""
    max_concurrent_streams: int = 100
    """SETTINGS_MAX_CONCURRENT_STREAMS: streams the peer may have open towards us at once."""
    initial_window_size: int = 1 << 20  # 1 MiB per stream
    """SETTINGS_INITIAL_WINDOW_SIZE: the flow-control window of each stream, in bytes."""
    max_frame_size: int = DEFAULT_MAX_FRAME_SIZE
    """SETTINGS_MAX_FRAME_SIZE: the largest frame payload we accept."""
    max_header_list_size: int = 16 << 10  # decoded size, RFC 9113 §6.5.2 accounting
    """SETTINGS_MAX_HEADER_LIST_SIZE: the largest header list we accept (decoded size)."""
    # -- connection flow control (announced with a WINDOW_UPDATE right after the preface)
    connection_window_size: int = 16 << 20  # 16 MiB
    """The connection-level flow-control window, in bytes (65535 to 2**31 - 1)."""
    # -- limits on a hostile peer
    max_continuation_frames: int = 32  # CONTINUATION frames in one header block
    """The most CONTINUATION frames one header block may take."""
    max_header_block_size: int = 64 << 10  # compressed bytes of one header block
    """The most compressed bytes one header block may take."""
    max_peer_resets_per_second: float = 200.0  # rapid reset, CVE-2023-44487
    """Streams the peer may reset per second (the rapid reset attack)."""
    peer_reset_burst: int = 400
    """The burst of the token bucket of `max_peer_resets_per_second`."""
    max_pings_per_second: float = 10.0
    """PINGs the peer may send per second."""
    ping_burst: int = 100
    """The burst of the token bucket of `max_pings_per_second`."""
    max_settings_per_second: float = 10.0
    """SETTINGS frames the peer may send per second."""
    settings_burst: int = 50
    """The burst of the token bucket of `max_settings_per_second`."""
    # Frames that cost work and carry nothing (empty DATA without END_STREAM, PRIORITY,
    # unknown types): the CVE-2019-9518 kind of flood.
    max_empty_frames_per_second: float = 1000.0
    """Frames that carry nothing the peer may send per second: empty DATA without END_STREAM,
    PRIORITY, unknown types (the CVE-2019-9518 kind of flood)."""
    empty_frame_burst: int = 5000
    """The burst of the token bucket of `max_empty_frames_per_second`."""
    # WINDOW_UPDATEs granting fewer than small_window_increment bytes to a window (nearly)
    # used up while more than that waits for it: the data dribble of CVE-2019-9511.
    # Peers that grant in large steps (grpc-go, grpcio, nghttp2, h2: a quarter or half
    # a window at a time) never count; a peer keeping a tiny window counts once per
    # grant, and the burst lets it move some hundreds of kilobytes before the rate applies.
    small_window_increment: int = 256
    """A WINDOW_UPDATE granting fewer bytes than this to a window (nearly) used up, while more
    waits for it, is a small one: the data dribble of CVE-2019-9511."""
    max_small_window_updates_per_second: float = 100.0
    """Small WINDOW_UPDATEs the peer may send per second."""
    small_window_update_burst: int = 2000
    """The burst of the token bucket of `max_small_window_updates_per_second`."""
    max_outbound_buffer: int = 256 << 10  # undrained bytes produced in reply to peer input
    """The most bytes produced in reply to the peer that may wait unsent."""
    max_encoder_table_size: int = 4096  # our HPACK encoder's table, whatever the peer allows
    """Our HPACK encoder's dynamic table size, whatever larger size the peer allows."""
    # Closed stream ids remembered for late frames: at most this many, the newest half at least.
    closed_stream_history: int = 1024
    """How many closed stream ids are remembered, to recognise late frames."""
    settings_timeout: float | None = 10.0  # peer must ACK our SETTINGS within this
    """Seconds the peer has to acknowledge our SETTINGS (None: no limit)."""

    def __post_init__(self) -> None:
        validate_setting(SETTINGS_HEADER_TABLE_SIZE, self.header_table_size)
        validate_setting(SETTINGS_MAX_CONCURRENT_STREAMS, self.max_concurrent_streams)
        validate_setting(SETTINGS_INITIAL_WINDOW_SIZE, self.initial_window_size)
        validate_setting(SETTINGS_MAX_FRAME_SIZE, self.max_frame_size)
        validate_setting(SETTINGS_MAX_HEADER_LIST_SIZE, self.max_header_list_size)
        if not DEFAULT_INITIAL_WINDOW_SIZE <= self.connection_window_size <= MAX_WINDOW_SIZE:
            raise ValueError("connection_window_size must be in 65535..2^31-1")
        for name in (
            "max_continuation_frames",
            "max_header_block_size",
            "peer_reset_burst",
            "ping_burst",
            "settings_burst",
            "empty_frame_burst",
            "small_window_update_burst",
            "max_outbound_buffer",
            "closed_stream_history",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.small_window_increment < 0:
            raise ValueError("small_window_increment must not be negative")
        if self.max_encoder_table_size < 0:
            raise ValueError("max_encoder_table_size must not be negative")
        for name in (
            "max_peer_resets_per_second",
            "max_pings_per_second",
            "max_settings_per_second",
            "max_empty_frames_per_second",
            "max_small_window_updates_per_second",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.settings_timeout is not None and self.settings_timeout <= 0:
            raise ValueError("settings_timeout must be positive or None")

    def advertised(self, client_side: bool) -> list[tuple[int, int]]:
        """The SETTINGS we send in our preface."""
        pairs: list[tuple[int, int]] = []
        if self.header_table_size != 4096:
            pairs.append((SETTINGS_HEADER_TABLE_SIZE, self.header_table_size))
        if client_side:
            # We never accept server push (gRPC does not use it).
            pairs.append((SETTINGS_ENABLE_PUSH, 0))
        pairs.append((SETTINGS_MAX_CONCURRENT_STREAMS, self.max_concurrent_streams))
        pairs.append((SETTINGS_INITIAL_WINDOW_SIZE, self.initial_window_size))
        if self.max_frame_size != DEFAULT_MAX_FRAME_SIZE:
            pairs.append((SETTINGS_MAX_FRAME_SIZE, self.max_frame_size))
        pairs.append((SETTINGS_MAX_HEADER_LIST_SIZE, self.max_header_list_size))
        return pairs


def validate_setting(ident: int, value: int) -> None:
    """Raise ValueError if ``value`` is not allowed for setting ``ident`` (RFC 9113 §6.5.2)."""
    if not 0 <= value <= _MAX_U32:
        raise ValueError(f"setting 0x{ident:x} value out of 32-bit range")
    if ident in (SETTINGS_ENABLE_PUSH, SETTINGS_ENABLE_CONNECT_PROTOCOL) and value > 1:
        raise ValueError(f"setting 0x{ident:x} must be 0 or 1")
    if ident == SETTINGS_INITIAL_WINDOW_SIZE and value > MAX_WINDOW_SIZE:
        raise ValueError("initial window size must be at most 2^31-1")
    if ident == SETTINGS_MAX_FRAME_SIZE and not (
        DEFAULT_MAX_FRAME_SIZE <= value <= MAX_FRAME_SIZE_LIMIT
    ):
        raise ValueError("max frame size must be in 16384..2^24-1")


# Setting identifier -> attribute of :class:`Settings`.
_SETTING_NAMES = {
    SETTINGS_HEADER_TABLE_SIZE: "header_table_size",
    SETTINGS_ENABLE_PUSH: "enable_push",
    SETTINGS_MAX_CONCURRENT_STREAMS: "max_concurrent_streams",
    SETTINGS_INITIAL_WINDOW_SIZE: "initial_window_size",
    SETTINGS_MAX_FRAME_SIZE: "max_frame_size",
    SETTINGS_MAX_HEADER_LIST_SIZE: "max_header_list_size",
    SETTINGS_ENABLE_CONNECT_PROTOCOL: "enable_connect_protocol",
}


class Settings:
    """The values in force for one side of a connection, starting at the RFC's initial values."""

    __slots__ = (
        "enable_connect_protocol",
        "enable_push",
        "header_table_size",
        "initial_window_size",
        "max_concurrent_streams",
        "max_frame_size",
        "max_header_list_size",
    )

    def __init__(self) -> None:
        self.header_table_size = 4096
        self.enable_push = 1
        self.max_concurrent_streams = UNLIMITED
        self.initial_window_size = DEFAULT_INITIAL_WINDOW_SIZE
        self.max_frame_size = DEFAULT_MAX_FRAME_SIZE
        self.max_header_list_size = UNLIMITED
        self.enable_connect_protocol = 0

    def get(self, ident: int) -> int:
        """The value of setting ``ident``; unknown identifiers read as 0."""
        name = _SETTING_NAMES.get(ident)
        return 0 if name is None else int(getattr(self, name))

    def apply(self, pairs: Iterable[tuple[int, int]]) -> dict[int, int]:
        """Apply validated ``(identifier, value)`` pairs; unknown identifiers are ignored
        (RFC 9113 §6.5.2). Returns the known identifiers with their new values, the last
        occurrence winning as the RFC requires."""
        changed: dict[int, int] = {}
        names = _SETTING_NAMES
        for ident, value in pairs:
            name = names.get(ident)
            if name is not None:
                setattr(self, name, value)
                changed[ident] = value
        return changed

    def copy(self) -> Settings:
        """An independent copy."""
        other = Settings()
        for name in self.__slots__:
            setattr(other, name, getattr(self, name))
        return other


class LocalSettings:
    """Our advertised settings: ``acked`` are in force; ``pending`` were sent, not yet ACKed.

    Each SETTINGS frame we send is queued with the time it was sent; each SETTINGS ACK
    from the peer applies the oldest one (RFC 9113 §6.5.3: ACKs come in order).
    """

    __slots__ = ("acked", "latest", "pending")

    def __init__(self) -> None:
        self.acked = Settings()
        #: The values as they will be once everything pending is ACKed.
        self.latest = Settings()
        self.pending: deque[tuple[list[tuple[int, int]], float]] = deque()

    def sent(self, pairs: list[tuple[int, int]], now: float) -> None:
        """Record a SETTINGS frame we queued at time ``now``."""
        for ident, value in pairs:
            validate_setting(ident, value)
        self.latest.apply(pairs)
        self.pending.append((pairs, now))

    def ack_received(self) -> dict[int, int] | None:
        """Apply the oldest pending SETTINGS; None if nothing was pending."""
        if not self.pending:
            return None
        pairs, _ = self.pending.popleft()
        return self.acked.apply(pairs)

    def permissive(self, ident: int) -> int:
        """The larger of the in-force and the latest advertised value of ``ident``: what
        the peer may be using while SETTINGS are in flight."""
        return max(self.acked.get(ident), self.latest.get(ident))

    def deadline(self, timeout: float | None) -> float | None:
        """When the oldest unacknowledged SETTINGS times out, or None."""
        if timeout is None or not self.pending:
            return None
        return self.pending[0][1] + timeout
