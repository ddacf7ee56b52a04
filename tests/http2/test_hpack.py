"""HPACK tests: the hpack-test-case corpus, RFC 7541 Appendix C, python-hyper's ``hpack``
as an oracle in both directions, the error cases, and a fuzz test of the decoder."""

from __future__ import annotations

import json
import random
import tracemalloc
from pathlib import Path

import hpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grpcx.http2.errors import ErrorCode, HeaderListTooLargeError, HPACKDecodingError
from grpcx.http2.hpack import Decoder, Encoder
from grpcx.http2.huffman import huffman_encode

Headers = list[tuple[bytes, bytes]]

# The hpack-test-case corpus (HTTP/2 Japan Community, MIT: its LICENSE and README are
# beside it), kept in the repository: the encoders' output of nghttp2, Go, Swift NIO and
# Haskell http2.
CORPUS = Path(__file__).resolve().parent / "data" / "hpack-test-case"
STORIES = sorted(p for p in CORPUS.glob("*/story_*.json") if p.parent.name != "raw-data")


def dynamic_entries(decoder: Decoder) -> Headers:
    """The decoder's dynamic table, newest first (white-box, for RFC table-state checks)."""
    return decoder._table[62:]


# -- the hpack-test-case corpus ---------------------------------------------------------


def test_corpus_is_present() -> None:
    # Fail rather than silently collect nothing if the corpus went missing.
    assert CORPUS.is_dir(), f"missing HPACK corpus at {CORPUS}: restore it from git"
    assert (CORPUS / "LICENSE").is_file()
    assert len(STORIES) >= 100


@pytest.mark.parametrize(
    "story", STORIES or [CORPUS / "missing"], ids=lambda p: f"{p.parent.name}/{p.stem}"
)
def test_story_decodes(story: Path) -> None:
    cases = json.loads(story.read_text())["cases"]
    decoder = Decoder()
    for case in cases:
        # The SETTINGS value acknowledged just before this case; 4096 when absent (or null).
        size = case.get("header_table_size")
        decoder.max_table_size = 4096 if size is None else size
        expected = [
            (name.encode(), value.encode())
            for item in case["headers"]
            for name, value in item.items()
        ]
        assert decoder.decode(bytes.fromhex(case["wire"])) == expected, case["seqno"]


# -- RFC 7541 Appendix C ----------------------------------------------------------------

REQUEST_1 = [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/")]
REQUEST_1 += [(b":authority", b"www.example.com")]
REQUEST_2 = [*REQUEST_1, (b"cache-control", b"no-cache")]
REQUEST_3 = [(b":method", b"GET"), (b":scheme", b"https"), (b":path", b"/index.html")]
REQUEST_3 += [(b":authority", b"www.example.com"), (b"custom-key", b"custom-value")]
RESPONSE_1 = [(b":status", b"302"), (b"cache-control", b"private")]
RESPONSE_1 += [(b"date", b"Mon, 21 Oct 2013 20:13:21 GMT")]
RESPONSE_1 += [(b"location", b"https://www.example.com")]
RESPONSE_2 = [(b":status", b"307"), *RESPONSE_1[1:]]
RESPONSE_3 = [(b":status", b"200"), (b"cache-control", b"private")]
RESPONSE_3 += [(b"date", b"Mon, 21 Oct 2013 20:13:22 GMT")]
RESPONSE_3 += [(b"location", b"https://www.example.com"), (b"content-encoding", b"gzip")]
RESPONSE_3 += [(b"set-cookie", b"foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1")]

C5_1 = (
    "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120"
    "474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d"
)
C5_3 = (
    "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738"
    "666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d33"
    "3630303b2076657273696f6e3d31"
)
C6_1 = (
    "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad1718"
    "63c78f0b97c8e9ae82ae43d3"
)
C6_3 = (
    "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7"
    "b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007"
)
# (table size, [(wire, headers, dynamic table size after)])
APPENDIX_C = {
    "C.3": (
        4096,
        [
            ("828684410f7777772e6578616d706c652e636f6d", REQUEST_1, 57),
            ("828684be58086e6f2d6361636865", REQUEST_2, 110),
            (
                "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565",
                REQUEST_3,
                164,
            ),
        ],
    ),
    "C.4": (
        4096,
        [
            ("828684418cf1e3c2e5f23a6ba0ab90f4ff", REQUEST_1, 57),
            ("828684be5886a8eb10649cbf", REQUEST_2, 110),
            ("828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf", REQUEST_3, 164),
        ],
    ),
    "C.5": (
        256,
        [(C5_1, RESPONSE_1, 222), ("4803333037c1c0bf", RESPONSE_2, 222), (C5_3, RESPONSE_3, 215)],
    ),
    "C.6": (
        256,
        [(C6_1, RESPONSE_1, 222), ("4883640effc1c0bf", RESPONSE_2, 222), (C6_3, RESPONSE_3, 215)],
    ),
}


@pytest.mark.parametrize(
    ("wire", "expected", "table_size"),
    [
        (
            "400a637573746f6d2d6b65790d637573746f6d2d686561646572",
            [(b"custom-key", b"custom-header")],
            55,
        ),
        ("040c2f73616d706c652f70617468", [(b":path", b"/sample/path")], 0),
        ("100870617373776f726406736563726574", [(b"password", b"secret")], 0),
        ("82", [(b":method", b"GET")], 0),
    ],
    ids=["C.2.1", "C.2.2", "C.2.3", "C.2.4"],
)
def test_appendix_c2(wire: str, expected: Headers, table_size: int) -> None:
    decoder = Decoder()
    assert decoder.decode(bytes.fromhex(wire)) == expected
    assert decoder._table_size == table_size


@pytest.mark.parametrize("section", sorted(APPENDIX_C))
def test_appendix_c_decoder(section: str) -> None:
    table_limit, blocks = APPENDIX_C[section]
    decoder = Decoder(max_table_size=table_limit)
    for wire, expected, table_size in blocks:
        assert decoder.decode(bytes.fromhex(wire)) == expected
        assert decoder._table_size == table_size
    if section in ("C.5", "C.6"):
        # RFC 7541 C.5.3: the final table after two rounds of evictions.
        assert dynamic_entries(decoder) == [RESPONSE_3[5], RESPONSE_3[4], RESPONSE_3[2]]


def test_appendix_c4_encoder() -> None:
    # Our encoder's choices (index everything here, Huffman when shorter) match C.4 exactly.
    encoder = Encoder()
    for wire, headers, _ in APPENDIX_C["C.4"][1]:
        assert encoder.encode(headers).hex() == wire


def test_appendix_c6_encoder_round_trip() -> None:
    # C.6 indexes date, location and set-cookie; we send those without indexing by policy,
    # so only the :status / cache-control / content-encoding encodings match byte for byte.
    encoder = Encoder(header_table_size=256)
    decoder = Decoder(max_table_size=256)
    oracle = hpack.Decoder()
    oracle.header_table_size = 256
    for headers in (RESPONSE_1, RESPONSE_2, RESPONSE_3):
        block = encoder.encode(headers)
        assert decoder.decode(block) == headers
        assert [tuple(h) for h in oracle.decode(block, raw=True)] == headers
    assert len(encoder.encode([(b":status", b"302")])) == 1  # indexed since RESPONSE_1


# -- python-hyper hpack as an oracle ----------------------------------------------------

NAMES = [
    b":path", b":authority", b":status", b":method", b"content-type", b"grpc-status",
    b"grpc-message", b"grpc-timeout", b"user-agent", b"te", b"x-trace-bin", b"authorization",
    b"cookie", b"custom-key", b"grpc-accept-encoding", b"date", b"accept-encoding",
]  # fmt: skip
VALUES = [b"", b"0", b"200", b"POST", b"application/grpc", b"trailers", b"gzip, deflate"]


def random_headers(rng: random.Random) -> Headers:
    headers = []
    for _ in range(rng.randint(0, 12)):
        if rng.random() < 0.8:
            name = rng.choice(NAMES)
        else:
            name = bytes(
                rng.choice(b"abcdefghijklmnopqrstuvwxyz-") for _ in range(rng.randint(1, 20))
            )
        roll = rng.random()
        if roll < 0.5:
            value = rng.choice(VALUES)
        elif roll < 0.9:
            value = bytes(rng.randrange(32, 127) for _ in range(rng.randint(0, 40)))
        else:
            value = rng.randbytes(rng.randint(0, 300))
        headers.append((name, value))
    return headers


@pytest.mark.parametrize("seed", range(20))
def test_our_encoder_hpack_decoder(seed: int) -> None:
    rng = random.Random(seed)
    encoder = Encoder()
    oracle = hpack.Decoder(max_header_list_size=2**30)
    ours = Decoder()
    for _ in range(60):
        if rng.random() < 0.1:
            # A SETTINGS change, sometimes lowered and raised again before the next block.
            for size in rng.sample([0, 64, 256, 1000, 4096, 8192], rng.randint(1, 2)):
                encoder.header_table_size = size
            oracle.max_allowed_table_size = encoder.header_table_size
            ours.max_table_size = encoder.header_table_size
        headers = random_headers(rng)
        sensitive = {b"custom-key"} if rng.random() < 0.3 else ()
        block = encoder.encode(headers, sensitive)
        assert [tuple(h) for h in oracle.decode(block, raw=True)] == headers
        assert ours.decode(block) == headers


@pytest.mark.parametrize("seed", range(20))
def test_hpack_encoder_our_decoder(seed: int) -> None:
    rng = random.Random(1000 + seed)
    oracle = hpack.Encoder()
    decoder = Decoder()
    for _ in range(60):
        if rng.random() < 0.1:
            size = rng.choice([0, 64, 256, 1000, 4096, 8192])
            decoder.max_table_size = size
            oracle.header_table_size = size
        headers = random_headers(rng)
        pairs: list[tuple[bytes, bytes]] = [
            hpack.NeverIndexedHeaderTuple(n, v) if rng.random() < 0.1 else (n, v)
            for n, v in headers
        ]
        block = oracle.encode(pairs, huffman=rng.random() < 0.7)
        assert decoder.decode(block) == headers


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(
                st.sampled_from(NAMES) | st.binary(min_size=1, max_size=10), st.binary(max_size=30)
            ),
            max_size=8,
        ),
        max_size=10,
    )
)
def test_round_trip_property(blocks: list[Headers]) -> None:
    encoder, decoder, oracle = Encoder(header_table_size=256), Decoder(256), hpack.Decoder()
    oracle.header_table_size = 256
    for headers in blocks:
        block = encoder.encode(headers)
        assert decoder.decode(block) == headers
        assert [tuple(h) for h in oracle.decode(block, raw=True)] == headers


# -- encoder behaviour ------------------------------------------------------------------


def test_encoder_repeated_headers_are_one_byte_each() -> None:
    encoder = Encoder()
    trailers = [(b"grpc-status", b"0")]
    response = [(b":status", b"200"), (b"content-type", b"application/grpc")]
    assert encoder.encode(response)[:1] == b"\x88"  # :status 200 is static index 8
    encoder.encode(trailers)
    assert len(encoder.encode(response)) == 2
    assert len(encoder.encode(trailers)) == 1


def test_encoder_does_not_index_per_call_values() -> None:
    encoder = Encoder()
    decoder = Decoder()
    for timeout in (b"1S", b"999834u", b"5m"):
        headers = [(b"grpc-timeout", timeout), (b"grpc-message", b"x" + timeout)]
        headers += [(b"trace-bin", timeout), (b"content-length", b"12")]
        block = encoder.encode(headers)
        assert block[0] & 0xF0 == 0x00  # literal without indexing
        assert decoder.decode(block) == headers
    assert dynamic_entries(decoder) == []
    long_value = [(b"x-long", b"v" * 300)]
    assert decoder.decode(encoder.encode(long_value)) == long_value
    assert dynamic_entries(decoder) == []


def test_encoder_never_indexes_sensitive_headers() -> None:
    encoder = Encoder()
    oracle = hpack.Decoder()
    headers = [(b"authorization", b"Bearer abc"), (b"cookie", b"a=b"), (b"x-secret", b"s")]
    for _ in range(2):
        block = encoder.encode(headers, sensitive={b"x-secret"})
        decoded = oracle.decode(block, raw=True)
        assert [tuple(h) for h in decoded] == headers
        assert all(isinstance(h, hpack.NeverIndexedHeaderTuple) for h in decoded)
    # A sensitive header already in the table is not sent as a reference either.
    assert oracle.decode(encoder.encode([(b"x-token", b"t")]), raw=True) == [(b"x-token", b"t")]
    block = encoder.encode([(b"x-token", b"t")], sensitive={b"x-token"})
    assert block[0] & 0xF0 == 0x10
    (only,) = oracle.decode(block, raw=True)
    assert isinstance(only, hpack.NeverIndexedHeaderTuple)


def test_encoder_accepts_str_headers() -> None:
    encoder = Encoder()
    decoder = Decoder()
    for _ in range(2):
        block = encoder.encode([(":path", "/a.B/C"), ("x-k", "v")])
        assert decoder.decode(block) == [(b":path", b"/a.B/C"), (b"x-k", b"v")]


def test_encoder_size_update_lowered_then_raised() -> None:
    encoder = Encoder()
    decoder = Decoder()
    decoder.decode(encoder.encode([(b"x-a", b"1")]))
    encoder.header_table_size = 0
    encoder.header_table_size = 4096
    decoder.max_table_size = 0
    decoder.max_table_size = 4096
    block = encoder.encode([(b"x-a", b"1")])
    assert block[:4] == b"\x20\x3f\xe1\x1f"  # RFC 7541 §4.2: the minimum, then the final size
    assert decoder.decode(block) == [(b"x-a", b"1")]
    assert encoder.encode([(b"x-a", b"1")]) == b"\xbe"  # re-indexed after the emptying
    assert decoder.decode(b"\xbe") == [(b"x-a", b"1")]


def test_encoder_size_update_only_when_changed() -> None:
    encoder = Encoder()
    encoder.header_table_size = 4096
    assert encoder.encode([(b":method", b"GET")]) == b"\x82"
    encoder.header_table_size = 100
    assert encoder.encode([(b":method", b"GET")]) == b"\x3f\x45\x82"
    encoder.header_table_size = 8192
    assert encoder.encode([]) == b"\x3f\xe1\x3f"


def test_encoder_evicts_like_the_decoder() -> None:
    encoder = Encoder(header_table_size=100)
    decoder = Decoder(max_table_size=100)
    for i in range(50):
        headers = [(b"x-key", b"%d" % (i % 7)), (b"x-other", b"v" * (i % 30))]
        assert decoder.decode(encoder.encode(headers)) == headers
        assert decoder._table_size <= 100


def test_encoder_many_entries_multibyte_index() -> None:
    encoder = Encoder(header_table_size=65536)
    decoder = Decoder(max_table_size=65536)
    headers = [(b"x-h", b"%d" % i) for i in range(300)]
    assert decoder.decode(encoder.encode(headers)) == headers
    block = encoder.encode(headers)
    assert len(block) < 3 * len(headers)
    assert decoder.decode(block) == headers


# -- decoder: table size updates --------------------------------------------------------


def test_size_update_at_block_start() -> None:
    decoder = Decoder()
    decoder.decode(bytes.fromhex("400a637573746f6d2d6b65790d637573746f6d2d686561646572"))
    assert decoder.decode(b"\x20\x3f\xe1\x1f\x82") == [(b":method", b"GET")]  # 0, then 4096
    assert dynamic_entries(decoder) == []
    assert decoder.header_table_size == 4096


def test_size_update_larger_than_settings() -> None:
    decoder = Decoder()
    with pytest.raises(HPACKDecodingError) as info:
        decoder.decode(b"\x3f\xe2\x1f")  # 4097
    assert info.value.code == ErrorCode.COMPRESSION_ERROR


def test_size_update_after_a_field() -> None:
    with pytest.raises(HPACKDecodingError):
        Decoder().decode(b"\x82\x20")


def test_missing_size_update_after_lowering() -> None:
    decoder = Decoder()
    decoder.max_table_size = 100
    with pytest.raises(HPACKDecodingError):
        decoder.decode(b"\x82")
    decoder = Decoder()
    decoder.max_table_size = 100
    with pytest.raises(HPACKDecodingError):
        decoder.decode(b"")
    decoder = Decoder()
    decoder.max_table_size = 100
    with pytest.raises(HPACKDecodingError):
        decoder.decode(b"\x3f\x46\x82")  # 101 > 100


def test_lowered_then_raised_needs_the_minimum() -> None:
    decoder = Decoder()
    decoder.max_table_size = 0
    decoder.max_table_size = 4096
    with pytest.raises(HPACKDecodingError):
        decoder.decode(b"\x3f\xe1\x1f\x82")  # only 4096: the 0 was never signalled
    decoder = Decoder()
    decoder.max_table_size = 0
    decoder.max_table_size = 4096
    assert decoder.decode(b"\x20\x3f\xe1\x1f\x82") == [(b":method", b"GET")]
    assert decoder.decode(b"\x82") == [(b":method", b"GET")]  # requirement met once


def test_raising_settings_needs_no_update() -> None:
    decoder = Decoder()
    decoder.max_table_size = 8192
    assert decoder.decode(b"\x82") == [(b":method", b"GET")]


def test_entry_larger_than_table_empties_it() -> None:
    decoder = Decoder(max_table_size=64)
    decoder.decode(b"\x40\x01a\x01b")
    assert dynamic_entries(decoder) == [(b"a", b"b")]
    big = b"\x40\x01c\x20" + b"x" * 32
    assert decoder.decode(big) == [(b"c", b"x" * 32)]
    assert dynamic_entries(decoder) == []


# -- decoder: malformed input -----------------------------------------------------------


@pytest.mark.parametrize(
    "wire",
    [
        "80",  # index 0
        "be",  # index 62 with an empty dynamic table
        "ff80808080808001",  # integer with too many continuation bytes
        "fffffffffff0",  # integer above 2**32 - 1 (huge continuation)
        "ff",  # truncated integer
        "ff80",  # truncated integer continuation
        "40",  # literal, truncated before the name
        "4005616263",  # name shorter than its length
        "410361",  # value shorter than its length
        "7f80808080808001",  # name index integer overflow
        "4f",  # truncated name index
        "7e0161",  # name index 62 out of range
        "0f2f0161",  # name index 62, without indexing
        "0081ff0161",  # Huffman name with 8 bits of padding
        "0081000161",  # Huffman name whose padding is not all 1s
        "0084ffffffff0161",  # Huffman EOS in the string
        "00830fffff0161",  # '0' then EOS-prefix padding longer than 7 bits
        "3fe21f",  # size update above the settings value
        "823f00",  # size update after a field
    ],
)
def test_malformed_block(wire: str) -> None:
    with pytest.raises(HPACKDecodingError):
        Decoder().decode(bytes.fromhex(wire))


def test_huffman_errors_from_the_decoder() -> None:
    good = huffman_encode(b"abc")
    assert Decoder().decode(b"\x00\x01x" + bytes([0x80 | len(good)]) + good) == [(b"x", b"abc")]
    with pytest.raises(HPACKDecodingError):
        Decoder().decode(b"\x00\x01x" + bytes([0x80 | (len(good) + 1)]) + good + b"\xff")


# -- decoder: header list size and HPACK bombs ------------------------------------------


def test_header_list_too_large_keeps_table_in_sync() -> None:
    decoder = Decoder(max_header_list_size=1000)
    encoder = Encoder()
    block = encoder.encode([(b"x-a", b"a" * 600), (b"x-b", b"b" * 600), (b"x-c", b"c")])
    with pytest.raises(HeaderListTooLargeError) as info:
        decoder.decode(block)
    assert info.value.limit == 1000 and info.value.size > 1000
    # Every insertion of the failed block happened: the next block references them.
    follow = [(b"x-c", b"c"), (b"x-b", b"b" * 600)]
    assert decoder.decode(encoder.encode(follow)) == follow


def test_hpack_bomb_is_bounded() -> None:
    # One 4 KB entry, then 16,000 one-byte references to it: 64 MB of headers if expanded.
    decoder = Decoder(max_header_list_size=65536)
    insert = b"\x40\x01x\x7f\xa1\x1e" + b"v" * 4000  # x: 4000 v's, literal with indexing
    bomb = insert + b"\xbe" * 16000
    tracemalloc.start()
    try:
        with pytest.raises(HeaderListTooLargeError):
            decoder.decode(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000
    assert decoder.decode(b"\xbe\x82") == [(b"x", b"v" * 4000), (b":method", b"GET")]


def test_header_list_limit_with_cached_run() -> None:
    decoder = Decoder()
    decoder.decode(b"\x40\x01x\x7f\xa1\x1e" + b"v" * 4000)
    assert len(decoder.decode(b"\xbe" * 10)) == 10  # cached now
    decoder.max_header_list_size = 20000
    with pytest.raises(HeaderListTooLargeError):
        decoder.decode(b"\xbe" * 10)
    decoder.max_header_list_size = 65536
    assert len(decoder.decode(b"\xbe" * 10)) == 10


# -- decoder: the repeated-block cache --------------------------------------------------


def test_cache_follows_the_dynamic_table() -> None:
    decoder = Decoder()
    decoder.decode(b"\x40\x01a\x011")
    assert decoder.decode(b"\xbe\x82") == [(b"a", b"1"), (b":method", b"GET")]
    assert decoder.decode(b"\xbe\x82") == [(b"a", b"1"), (b":method", b"GET")]  # cached
    decoder.decode(b"\x40\x01b\x012")  # shifts a:1 to index 63
    assert decoder.decode(b"\xbe\x82") == [(b"b", b"2"), (b":method", b"GET")]
    assert decoder.decode(b"\xbf") == [(b"a", b"1")]
    # A size update that evicts everything makes the same bytes an error.
    decoder.decode(b"\x20\x3f\xe1\x1f")
    with pytest.raises(HPACKDecodingError):
        decoder.decode(b"\xbe\x82")
    # The run prefix of a longer block is cached the same way.
    decoder.decode(b"\x40\x01c\x013")
    tail = b"\x00\x01t\x01v"
    assert decoder.decode(b"\xbe\x82" + tail) == [(b"c", b"3"), (b":method", b"GET"), (b"t", b"v")]
    assert decoder.decode(b"\xbe\x82" + tail) == [(b"c", b"3"), (b":method", b"GET"), (b"t", b"v")]


def test_cached_result_is_a_fresh_list() -> None:
    decoder = Decoder()
    first = decoder.decode(b"\x82\x86")
    first.append((b"x", b"y"))
    assert decoder.decode(b"\x82\x86") == [(b":method", b"GET"), (b":scheme", b"http")]


def test_cache_and_pending_size_update() -> None:
    decoder = Decoder()
    assert decoder.decode(b"\x82") == [(b":method", b"GET")]
    decoder.max_table_size = 0
    with pytest.raises(HPACKDecodingError):
        decoder.decode(b"\x82")  # cached, but the block must start with a size update


def test_memoryview_input() -> None:
    data = bytearray(bytes.fromhex("828684410f7777772e6578616d706c652e636f6d"))
    assert Decoder().decode(memoryview(data)) == REQUEST_1
    assert Decoder().decode(data) == REQUEST_1


# -- fuzzing ----------------------------------------------------------------------------


@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=200), st.sampled_from([0, 100, 4096]), st.sampled_from([64, 65536]))
def test_fuzz_decoder(data: bytes, table_size: int, list_size: int) -> None:
    decoder = Decoder(max_table_size=table_size, max_header_list_size=list_size)
    for _ in range(2):  # twice: the second pass may go through the cache
        try:
            headers = decoder.decode(data)
        except (HPACKDecodingError, HeaderListTooLargeError):
            return
        assert all(type(n) is bytes and type(v) is bytes for n, v in headers)
