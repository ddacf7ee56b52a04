"""HPACK header compression (RFC 7541): a decoder and an encoder, one per direction.

Both sides keep the dynamic table of RFC 7541 §2.3.2; the encoder of one endpoint and the
decoder of the other must apply exactly the same insertions, evictions and size updates in
the same order, so every state change here follows the RFC step by step.

Speed comes from the shape of gRPC traffic: after the first call on a connection, a header
block is mostly one-byte references to entries already in the table, plus a few per-call
literals (``grpc-timeout``). The decoder caches the decoding of such leading runs of
references; the encoder keeps, per header, the insertion number of its table entry so a
repeated header costs one dict lookup and one appended byte. The invariants are written next
to the code that relies on them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable

from grpcx.http2.errors import HeaderListTooLargeError, HPACKDecodingError
from grpcx.http2.huffman import huffman_decode, huffman_encode

__all__ = ["DEFAULT_HEADER_TABLE_SIZE", "DEFAULT_MAX_HEADER_LIST_SIZE", "Decoder", "Encoder"]

Header = tuple[bytes, bytes]
# What Encoder.encode accepts: bytes is the fast path, str is encoded as UTF-8.
HeaderLike = tuple[bytes | str, bytes | str]

#: SETTINGS_HEADER_TABLE_SIZE before any SETTINGS frame (RFC 9113 §6.5.2).
DEFAULT_HEADER_TABLE_SIZE = 4096
#: Our default limit on a decoded header list, sized as in RFC 9113 §6.5.2.
DEFAULT_MAX_HEADER_LIST_SIZE = 65536

# RFC 7541 §4.1: an entry's size is its name and value lengths plus 32 octets of overhead.
_ENTRY_OVERHEAD = 32
# SETTINGS values are 32-bit (RFC 9113 §6.5.1); no HPACK integer a peer sends legitimately is
# larger, and at most 5 continuation octets (35 bits) are read before giving up.
_MAX_INT = 2**32 - 1
_MAX_INT_SHIFT = 28

# RFC 7541 Appendix A.
_STATIC_TABLE: tuple[Header, ...] = (
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
)
_STATIC_COUNT = len(_STATIC_TABLE)  # 61; dynamic indices start at 62 (RFC 7541 §2.3.3)
_FIRST_DYNAMIC = _STATIC_COUNT + 1

# Static entries whose value is meaningful (index 2..14, 16): an exact match is one byte.
_STATIC_EXACT: dict[Header, int] = {}
# Lowest static index for each name, for literals with an indexed name.
_STATIC_NAME: dict[bytes, int] = {}
for _index, _entry in enumerate(_STATIC_TABLE, 1):
    _STATIC_NAME.setdefault(_entry[0], _index)
    if _entry[1]:
        _STATIC_EXACT[_entry] = _index
del _index, _entry


def _encode_int(value: int, prefix_max: int, first: int) -> bytes:
    """RFC 7541 §5.1: ``value`` with an N-bit prefix (``prefix_max`` = 2**N - 1)."""
    if value < prefix_max:
        return bytes((first | value,))
    out = bytearray((first | prefix_max,))
    value -= prefix_max
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _decode_int(data: bytes, pos: int, prefix_max: int) -> tuple[int, int]:
    """RFC 7541 §5.1: the integer at ``data[pos]`` with an N-bit prefix, and the next pos."""
    try:
        value = data[pos] & prefix_max
        pos += 1
        if value < prefix_max:
            return value, pos
        shift = 0
        while True:
            byte = data[pos]
            pos += 1
            value += (byte & 0x7F) << shift
            if not byte & 0x80:
                break
            shift += 7
            if shift > _MAX_INT_SHIFT:
                raise HPACKDecodingError("HPACK integer too long")
    except IndexError:
        raise HPACKDecodingError("header block truncated inside an integer") from None
    if value > _MAX_INT:
        raise HPACKDecodingError(f"HPACK integer {value} out of range")
    return value, pos


# The bytes of one-byte indexed header fields (RFC 7541 §6.1, index 1..126), to find the
# leading run of them with bytes.lstrip (C speed). 0x80 is index 0, an error; 0xFF starts a
# multi-byte index. Both end the run and are left to the full decoder.
_ONE_BYTE_INDEXES = bytes(range(0x81, 0xFF))
# Runs longer than this are not cached and go through the full decoder, which is the one
# that enforces max_header_list_size without building the whole list (HPACK bombs).
_MAX_CACHED_RUN = 128
_RUN_CACHE_ENTRIES = 64
# Whole blocks (see Decoder.decode) up to this length are cached; few distinct blocks recur.
_MAX_CACHED_BLOCK = 512
_BLOCK_CACHE_ENTRIES = 32
# Huffman-decoded strings are cached by their encoded bytes (no table state involved).
_MAX_CACHED_STRING = 64
_STRING_CACHE_ENTRIES = 256


class Decoder:
    """Decodes HPACK header blocks received from one peer (one per connection).

    ``max_table_size`` is the SETTINGS_HEADER_TABLE_SIZE we advertised (set it when the peer
    acknowledges our SETTINGS); the peer's dynamic table size updates may not exceed it.
    ``max_header_list_size`` bounds a decoded list, counted as in RFC 9113 §6.5.2.
    """

    __slots__ = (
        "_block_cache",
        "_max_table_size",
        "_required_update",
        "_run_cache",
        "_strings",
        "_table",
        "_table_limit",
        "_table_size",
        "last_key",
        "max_header_list_size",
    )

    def __init__(
        self,
        max_table_size: int = DEFAULT_HEADER_TABLE_SIZE,
        max_header_list_size: int = DEFAULT_MAX_HEADER_LIST_SIZE,
    ) -> None:
        """Start with ``max_table_size`` as the agreed size, as if no update were pending."""
        # One list for both tables: [0] is a placeholder (index 0 is invalid), [1..61] the
        # static table, [62..] the dynamic table newest first, so any index is one lookup.
        self._table: list[Header] = [(b"", b""), *_STATIC_TABLE]
        self._table_size = 0
        self._table_limit = max_table_size
        self._max_table_size = max_table_size
        # Set when we lowered max_table_size: the next block must start with a dynamic table
        # size update no larger than this (RFC 7541 §4.2).
        self._required_update: int | None = None
        self._run_cache: dict[bytes, tuple[tuple[Header, ...], int]] = {}
        self._block_cache: dict[bytes, tuple[tuple[Header, ...], int]] = {}
        self._strings: dict[bytes, bytes] = {}
        self.max_header_list_size = max_header_list_size
        #: After :meth:`decode`: the cache's tuple of the headers it returned if the block is
        #: in the block cache, else None. A block decoded again gives the same tuple object
        #: while it stays cached, so holders of the tuple can key on its identity (holding
        #: it keeps its id from being reused) instead of hashing a new tuple of the list.
        self.last_key: tuple[Header, ...] | None = None

    @property
    def max_table_size(self) -> int:
        """The largest dynamic table size the peer may choose (our SETTINGS value)."""
        return self._max_table_size

    @max_table_size.setter
    def max_table_size(self, value: int) -> None:
        if not 0 <= value <= _MAX_INT:
            raise ValueError(f"invalid header table size {value}")
        self._max_table_size = value
        if value < self._table_limit:
            # RFC 7541 §4.2: the peer's encoder now has to shrink its table and say so at
            # the start of the next block; after several changes, the smallest one counts.
            required = self._required_update
            self._required_update = value if required is None else min(required, value)

    @property
    def header_table_size(self) -> int:
        """The dynamic table's current maximum size, as last set by the peer."""
        return self._table_limit

    def decode(self, data: bytes | bytearray | memoryview) -> list[Header]:
        """Decode one complete header block into ``(name, value)`` pairs.

        Raises HPACKDecodingError (a connection error, COMPRESSION_ERROR) on any malformed
        input. Raises HeaderListTooLargeError after decoding the whole block if the list
        exceeds ``max_header_list_size``; the dynamic table is then still in sync.
        """
        if type(data) is not bytes:
            data = bytes(data)
        limit = self.max_header_list_size
        end = len(data)
        pos = 0
        headers: list[Header] = []
        size = 0
        # Cache invariant. Both caches map block bytes (a whole block, or the leading run of
        # one-byte indexed fields of a block) to the headers they decoded to and their list
        # size, and hold only bytes whose instructions neither change decoder state nor
        # depend on anything but the dynamic table's contents: indexed fields and literals
        # without indexing; never a literal with incremental indexing, a size update or a
        # never-indexed literal (kept out of memory on purpose). Such bytes decode the same
        # for as long as the table does not change, and every table mutation (insertion,
        # eviction, size update) clears both caches, so a hit is exactly what decoding
        # would produce. A block that must start with a size update bypasses the caches.
        self.last_key = None
        if self._required_update is None:
            hit = self._block_cache.get(data)
            if hit is not None and hit[1] <= limit:
                self.last_key = hit[0]
                return list(hit[0])
            run = end - len(data.lstrip(_ONE_BYTE_INDEXES))
            if 0 < run <= _MAX_CACHED_RUN:
                key = data if run == end else data[:run]
                hit = self._run_cache.get(key)
                if hit is None:
                    hit = self._decode_run(key)
                if hit[1] <= limit:  # else start over below, dropping headers past the limit
                    if run == end:
                        # All indexed: next time the block cache answers at once.
                        self._cache_block(data, hit)
                        self.last_key = hit[0]
                        return list(hit[0])
                    headers = list(hit[0])
                    size = hit[1]
                    pos = run
        # Whether the whole block may go into the block cache (see above). Blocks carrying a
        # Huffman-coded value not seen before (a per-call value) are left out as well: they
        # would only push out the blocks that do recur.
        cacheable = end <= _MAX_CACHED_BLOCK
        if pos == 0 and ((end and data[0] & 0xE0 == 0x20) or self._required_update is not None):
            pos = self._decode_size_updates(data)
            cacheable = False
        table = self._table
        strings = self._strings
        try:
            while pos < end:
                byte = data[pos]
                if byte & 0x80:
                    # Indexed header field, RFC 7541 §6.1.
                    if byte != 0xFF:
                        index = byte & 0x7F
                        pos += 1
                    else:
                        index, pos = _decode_int(data, pos, 0x7F)
                    if index == 0 or index >= len(table):
                        raise HPACKDecodingError(f"header index {index} out of range")
                    header = table[index]
                    size += len(header[0]) + len(header[1]) + _ENTRY_OVERHEAD
                    if size <= limit:
                        headers.append(header)
                    continue
                if byte & 0x40:
                    # Literal with incremental indexing, RFC 7541 §6.2.1.
                    prefix_max = 0x3F
                    cacheable = False
                elif byte & 0x20:
                    # RFC 7541 §4.2: size updates only at the beginning of a block.
                    raise HPACKDecodingError("dynamic table size update after a header field")
                else:
                    # Literal without indexing (0000) or never indexed (0001), §6.2.2-3.
                    prefix_max = 0x0F
                    if byte & 0x10:
                        cacheable = False
                index = byte & prefix_max
                if index == prefix_max:
                    index, pos = _decode_int(data, pos, prefix_max)
                else:
                    pos += 1
                if index:
                    if index >= len(table):
                        raise HPACKDecodingError(f"header name index {index} out of range")
                    name = table[index][0]
                else:
                    name, pos = self._decode_string(data, pos)
                # The value's string literal (RFC 7541 §5.2), inlined: per-call values are
                # the one part of a steady-state gRPC block that no cache absorbs.
                first = data[pos]
                length = first & 0x7F
                if length == 0x7F:
                    length, pos = _decode_int(data, pos, 0x7F)
                else:
                    pos += 1
                stop = pos + length
                if stop > end:
                    raise HPACKDecodingError("header block truncated inside a string literal")
                value = data[pos:stop]
                pos = stop
                if first & 0x80:
                    decoded = strings.get(value)
                    if decoded is None:
                        cacheable = False
                        decoded = self._huffman_decode(value)
                    value = decoded
                header = (name, value)
                if prefix_max == 0x3F:
                    self._insert(header)
                size += len(name) + len(value) + _ENTRY_OVERHEAD
                if size <= limit:
                    headers.append(header)
                if pos < end and data[pos] & 0x80 and end - pos <= _MAX_CACHED_RUN:
                    # A per-call literal (grpc-timeout) often sits between two runs of
                    # indexed fields: the rest of the block may be one the run cache holds.
                    rest = data[pos:]
                    if not rest.lstrip(_ONE_BYTE_INDEXES):
                        hit = self._run_cache.get(rest)
                        if hit is None:
                            hit = self._decode_run(rest)
                        if size + hit[1] <= limit:
                            headers += hit[0]
                            size += hit[1]
                            pos = end
        except IndexError:
            raise HPACKDecodingError("header block truncated") from None
        if size > limit:
            raise HeaderListTooLargeError(size, limit)
        if cacheable:
            whole = tuple(headers)
            self._cache_block(data, (whole, size))
            self.last_key = whole
        return headers

    def _cache_block(self, data: bytes, entry: tuple[tuple[Header, ...], int]) -> None:
        cache = self._block_cache
        if len(cache) >= _BLOCK_CACHE_ENTRIES:
            cache.clear()
        cache[data] = entry

    def _decode_run(self, run: bytes) -> tuple[tuple[Header, ...], int]:
        """Decode and cache a run of one-byte indexed fields (see ``decode``)."""
        table = self._table
        try:
            headers = tuple([table[byte & 0x7F] for byte in run])
        except IndexError:
            raise HPACKDecodingError("header index out of range") from None
        size = _ENTRY_OVERHEAD * len(run)
        for name, value in headers:
            size += len(name) + len(value)
        cache = self._run_cache
        if len(cache) >= _RUN_CACHE_ENTRIES:
            cache.clear()
        cache[run] = (headers, size)
        return headers, size

    def _decode_size_updates(self, data: bytes) -> int:
        """Apply the size updates that open a block (RFC 7541 §4.2, §6.3); return the pos."""
        pos = 0
        end = len(data)
        required = self._required_update
        while pos < end and data[pos] & 0xE0 == 0x20:
            size, pos = _decode_int(data, pos, 0x1F)
            if size > self._max_table_size:
                raise HPACKDecodingError(
                    f"dynamic table size update to {size} exceeds {self._max_table_size}"
                )
            if required is not None and size <= required:
                required = self._required_update = None
            self._table_limit = size
            self._evict(size)
        if required is not None:
            raise HPACKDecodingError(
                f"header block must start with a dynamic table size update <= {required}"
            )
        return pos

    def _decode_string(self, data: bytes, pos: int) -> tuple[bytes, int]:
        """RFC 7541 §5.2: the string literal at ``data[pos]`` and the next pos.

        Raises IndexError if ``pos`` is past the end; the caller turns it into an HPACK error.
        """
        first = data[pos]
        length = first & 0x7F
        if length == 0x7F:
            length, pos = _decode_int(data, pos, 0x7F)
        else:
            pos += 1
        stop = pos + length
        if stop > len(data):
            raise HPACKDecodingError("header block truncated inside a string literal")
        raw = data[pos:stop]
        if not first & 0x80:
            return raw, stop
        decoded = self._strings.get(raw)
        return (self._huffman_decode(raw) if decoded is None else decoded), stop

    def _huffman_decode(self, raw: bytes) -> bytes:
        """Huffman-decode ``raw``, remembering short strings (no table state involved)."""
        decoded = huffman_decode(raw)
        if len(raw) <= _MAX_CACHED_STRING:
            strings = self._strings
            if len(strings) >= _STRING_CACHE_ENTRIES:
                strings.clear()
            strings[raw] = decoded
        return decoded

    def _insert(self, header: Header) -> None:
        """Add an entry to the dynamic table, evicting as RFC 7541 §4.4 says."""
        self._run_cache.clear()
        self._block_cache.clear()
        size = len(header[0]) + len(header[1]) + _ENTRY_OVERHEAD
        limit = self._table_limit
        if size > limit:
            # Not an error: the table is emptied and the entry is not added.
            self._evict(0)
            return
        self._evict(limit - size)
        self._table.insert(_FIRST_DYNAMIC, header)
        self._table_size += size

    def _evict(self, target: int) -> None:
        """Drop the oldest entries until the table size is at most ``target``."""
        self._run_cache.clear()
        self._block_cache.clear()
        table = self._table
        while self._table_size > target:
            name, value = table.pop()
            self._table_size -= len(name) + len(value) + _ENTRY_OVERHEAD


# Headers whose values change from call to call: indexing them only churns both tables.
_NO_INDEX_NAMES = frozenset(
    {
        b"grpc-timeout",
        b"grpc-message",
        b"grpc-status-details-bin",
        b"grpc-previous-rpc-attempts",
        b"grpc-retry-pushback-ms",
        b"content-length",
        b"date",
        b"etag",
        b"last-modified",
        b"age",
        b"expires",
        b"if-modified-since",
        b"if-none-match",
        b"location",
        b"set-cookie",
        b"x-request-id",
    }
)
# RFC 7541 §7.1.3: credentials are sent as never-indexed literals so that no intermediary
# indexes them either; short cookies likewise (guessable by probing the table).
_NEVER_INDEX_NAMES = frozenset({b"authorization", b"proxy-authorization"})
_SHORT_COOKIE = 20
# Longer values are sent without indexing: they would crowd the table for little gain.
_MAX_INDEXED_VALUE = 256


def _encode_string(data: bytes) -> bytes:
    """RFC 7541 §5.2: a string literal, Huffman-coded when that is shorter."""
    size = len(data)
    if size > 1:
        coded = huffman_encode(data)
        if len(coded) < size:
            if len(coded) < 0x7F:
                return bytes((0x80 | len(coded),)) + coded
            return _encode_int(len(coded), 0x7F, 0x80) + coded
    if size < 0x7F:
        return bytes((size,)) + data
    return _encode_int(size, 0x7F, 0x00) + data


class Encoder:
    """Encodes header blocks sent to one peer (one per connection).

    Set ``header_table_size`` to the peer's SETTINGS_HEADER_TABLE_SIZE; the next block then
    starts with the dynamic table size update(s) RFC 7541 §4.2 requires.

    Indexing policy: headers that repeat (``:path``, ``content-type``, ``grpc-status: 0``,
    ``user-agent``...) are added to the dynamic table and later sent as one-byte
    references. Per-call values (``grpc-timeout``, ``grpc-message``, ``content-length``,
    ``date``, any ``-bin`` metadata, values over 256 bytes) are literals without indexing.
    ``authorization``, ``proxy-authorization``, short ``cookie`` values and any name passed
    in ``sensitive`` are never-indexed literals (RFC 7541 §7.1.3).
    """

    __slots__ = (
        "_blocks",
        "_entries",
        "_fields",
        "_heads",
        "_indexes",
        "_inserted",
        "_names",
        "_pending_min",
        "_signaled_limit",
        "_strings",
        "_table_limit",
        "_table_size",
        "generation",
    )

    def __init__(self, header_table_size: int = DEFAULT_HEADER_TABLE_SIZE) -> None:
        """Start with ``header_table_size`` as the size both sides already agree on."""
        # Invariant: _indexes maps a header to -(static index) for exact static matches, or
        # to the insertion number of its newest dynamic entry. Insertion n (counting from 0)
        # has index 61 + _inserted - n (RFC 7541 §2.3.3: newest is 62), so references stay
        # right as entries are added; an entry leaves the dict when it is evicted.
        self._indexes: dict[HeaderLike, int] = {h: -i for h, i in _STATIC_EXACT.items()}
        self._names: dict[bytes, int] = {}  # name -> insertion number of its newest entry
        self._entries: deque[tuple[bytes, bytes, int]] = deque()  # oldest first
        self._inserted = 0
        self._table_size = 0
        self._table_limit = header_table_size
        self._signaled_limit = header_table_size
        self._pending_min: int | None = None
        # Caches, all bounded and emptied when full:
        # _strings: name -> its string literal encoding (pure function of the name).
        # _fields: header -> its encoding as an indexed field or a literal without indexing,
        #   valid while the dynamic table is unchanged (emptied on insertion and eviction);
        #   never holds never-indexed literals or ones that insert.
        # _heads: name -> first octet and name of its literal without indexing, for per-call
        #   names (never indexed whatever the value) whose name is static or literal.
        # _blocks: a whole header list -> its block; valid only while the dynamic table is
        #   unchanged, so it is emptied on every insertion or eviction, and holds only blocks
        #   whose encoding changed nothing (no insertion, no size update) and contained no
        #   value seen for the first time (per-call values would only churn it).
        self._strings: dict[bytes, bytes] = {}
        self._fields: dict[HeaderLike, bytes] = {}
        self._heads: dict[bytes, bytes] = {}
        self._blocks: dict[tuple[HeaderLike, ...], bytes] = {}
        #: Changes whenever the dynamic table does (or its size): a block from
        #: :meth:`cached_block` stays right while this is unchanged.
        self.generation = 0

    @property
    def header_table_size(self) -> int:
        """The dynamic table's maximum size: the peer's SETTINGS_HEADER_TABLE_SIZE."""
        return self._table_limit

    @header_table_size.setter
    def header_table_size(self, value: int) -> None:
        if not 0 <= value <= _MAX_INT:
            raise ValueError(f"invalid header table size {value}")
        # Evict now: the decoder does the same when it reads the size update that opens the
        # next block, before any other instruction of ours.
        self._table_limit = value
        self._evict(value)
        pending = self._pending_min
        self._pending_min = value if pending is None else min(pending, value)

    def encode(self, headers: Iterable[HeaderLike], sensitive: Collection[bytes] = ()) -> bytes:
        """Encode one header block.

        ``headers`` are ``(name, value)`` tuples of bytes (``str`` is accepted and encoded
        as UTF-8, at some cost). Values of names in ``sensitive`` are sent as never-indexed
        literals, in addition to the built-in ones listed on the class.
        """
        if sensitive or self._pending_min is not None:
            return self._encode_general(headers, sensitive)
        key = headers if type(headers) is tuple else tuple(headers)
        try:
            block = self._blocks.get(key)
        except TypeError:  # a header that is not a hashable tuple
            return self._encode_general(key, ())
        if block is not None:
            return block
        out = bytearray()
        fields = self._fields
        inserted = self._inserted
        fresh = False
        heads = self._heads
        for header in key:
            encoded = fields.get(header)
            if encoded is None:
                # Seen for the first time (or since the table changed): a block holding a
                # per-call value will not recur, so it does not go into the block cache.
                fresh = True
                head = heads.get(header[0])  # type: ignore[arg-type]
                value = header[1]
                if head is not None and type(value) is bytes:
                    # A per-call header (grpc-timeout...): only the value needs encoding,
                    # and it is not remembered (it would only churn _fields).
                    encoded = head + _encode_string(value)
                else:
                    encoded = self._encode_field(header, ())
            out += encoded
        block = bytes(out)
        if not fresh and self._inserted == inserted and len(block) <= _MAX_CACHED_BLOCK:
            blocks = self._blocks
            if len(blocks) >= _BLOCK_CACHE_ENTRIES:
                blocks.clear()
            blocks[key] = block
        return block

    def cached_block(self, headers: tuple[HeaderLike, ...]) -> bytes | None:
        """The block :meth:`encode` would give ``headers`` now without changing anything
        (from its cache), or None. It stays what encoding them gives, and encoding them
        stays free of effects, for as long as :attr:`generation` is unchanged."""
        if self._pending_min is not None:
            return None
        try:
            return self._blocks.get(headers)
        except TypeError:
            return None

    def _encode_general(self, headers: Iterable[HeaderLike], sensitive: Collection[bytes]) -> bytes:
        """Encode without the block cache: size updates pending, or sensitive names given."""
        out = bytearray()
        if self._pending_min is not None:
            self._encode_size_updates(out)
        for header in headers:
            out += self._encode_field(header, sensitive)
        return bytes(out)

    def _encode_size_updates(self, out: bytearray) -> None:
        """RFC 7541 §4.2: signal the smallest size set since the last block, then the final."""
        low = self._pending_min
        final = self._table_limit
        assert low is not None
        if low < final:
            out += _encode_int(low, 0x1F, 0x20)
            out += _encode_int(final, 0x1F, 0x20)
        elif final != self._signaled_limit:
            out += _encode_int(final, 0x1F, 0x20)
        self._signaled_limit = final
        self._pending_min = None

    def _encode_field(self, header: HeaderLike, sensitive: Collection[bytes]) -> bytes:
        """Encode one header field, remembering the encoding in ``_fields`` when reusable."""
        raw_name, raw_value = header
        name = raw_name.encode() if isinstance(raw_name, str) else raw_name
        value = raw_value.encode() if isinstance(raw_value, str) else raw_value
        head = self._heads.get(name)
        if head is not None and name not in sensitive:
            # A per-call header seen before: only its value needs encoding.
            encoded = head + _encode_string(value)
        else:
            never = (
                name in _NEVER_INDEX_NAMES
                or name in sensitive
                or (name == b"cookie" and len(value) < _SHORT_COOKIE)
            )
            position = None if never else self._indexes.get((name, value))
            if position is not None:
                index = -position if position < 0 else _STATIC_COUNT + self._inserted - position
                encoded = _encode_int(index, 0x7F, 0x80)
            else:
                encoded = self._encode_literal(name, value, never)
                if encoded[0] & 0xF0:  # never indexed (0001) or with indexing (01): no reuse
                    return encoded
        fields = self._fields
        if len(fields) >= _STRING_CACHE_ENTRIES:
            fields.clear()
        fields[header] = encoded
        return encoded

    def _encode_literal(self, name: bytes, value: bytes, never: bool) -> bytes:
        """A literal field (RFC 7541 §6.2), adding it to the table when the policy says so."""
        size = len(name) + len(value) + _ENTRY_OVERHEAD
        per_call = name in _NO_INDEX_NAMES or name.endswith(b"-bin")
        if never:
            first, prefix_max = 0x10, 0x0F
        elif per_call or len(value) > _MAX_INDEXED_VALUE or size > self._table_limit:
            first, prefix_max = 0x00, 0x0F
        else:
            first, prefix_max = 0x40, 0x3F
        name_index = _STATIC_NAME.get(name)
        dynamic_name = False
        if name_index is None:
            position = self._names.get(name)
            if position is not None:
                name_index = _STATIC_COUNT + self._inserted - position
                dynamic_name = True
        if name_index is not None:
            head = _encode_int(name_index, prefix_max, first)
        else:
            literal = self._strings.get(name)
            if literal is None:
                literal = _encode_string(name)
                if len(self._strings) >= _STRING_CACHE_ENTRIES:
                    self._strings.clear()
                self._strings[name] = literal
            head = bytes((first,)) + literal
        if first == 0x40:
            self._insert(name, value, size)
        elif first == 0x00 and per_call and not dynamic_name:
            heads = self._heads
            if len(heads) >= _STRING_CACHE_ENTRIES:
                heads.clear()
            heads[name] = head
        return head + _encode_string(value)

    def _insert(self, name: bytes, value: bytes, size: int) -> None:
        """Add an entry (RFC 7541 §4.4); the caller made sure it fits in the table."""
        self._evict(self._table_limit - size)
        number = self._inserted
        self._inserted = number + 1
        self._entries.append((name, value, number))
        self._indexes[(name, value)] = number
        self._names[name] = number
        self._table_size += size

    def _evict(self, target: int) -> None:
        """Drop the oldest entries until the table size is at most ``target``."""
        # (Also how an insertion and a size change empty the caches.)
        self._blocks.clear()
        self._fields.clear()
        self.generation += 1
        entries = self._entries
        while self._table_size > target:
            name, value, number = entries.popleft()
            self._table_size -= len(name) + len(value) + _ENTRY_OVERHEAD
            # Only forget the header if this was its newest entry.
            if self._indexes.get((name, value)) == number:
                del self._indexes[(name, value)]
            if self._names.get(name) == number:
                del self._names[name]
