"""Huffman coding of HPACK string literals (RFC 7541 §5.2, code table from Appendix B).

Decoding runs a byte-at-a-time state machine: the states are the internal nodes of the
Huffman tree, and one table lookup per input byte gives the next state and the symbols that
byte completes. The table is built once at import from a 4-bit table (cheap to walk) by
composing two nibble steps, so no per-bit Python loop runs while decoding.

Encoding maps each byte to its code written as a string of ``0``/``1`` characters with
``str.translate`` and turns the whole string into an integer in one call: all the per-byte
work happens in C.
"""

from __future__ import annotations

from grpcx.http2.errors import HPACKDecodingError

__all__ = ["huffman_decode", "huffman_encode", "huffman_encoded_length"]

# RFC 7541 Appendix B: ``code:bit length`` (code in hex) for symbols 0..255 and EOS (256).
_CODE_TABLE = """
    1ff8:13 7fffd8:23 fffffe2:28 fffffe3:28 fffffe4:28 fffffe5:28 fffffe6:28 fffffe7:28
    fffffe8:28 ffffea:24 3ffffffc:30 fffffe9:28 fffffea:28 3ffffffd:30 fffffeb:28 fffffec:28
    fffffed:28 fffffee:28 fffffef:28 ffffff0:28 ffffff1:28 ffffff2:28 3ffffffe:30 ffffff3:28
    ffffff4:28 ffffff5:28 ffffff6:28 ffffff7:28 ffffff8:28 ffffff9:28 ffffffa:28 ffffffb:28
    14:6 3f8:10 3f9:10 ffa:12 1ff9:13 15:6 f8:8 7fa:11
    3fa:10 3fb:10 f9:8 7fb:11 fa:8 16:6 17:6 18:6
    0:5 1:5 2:5 19:6 1a:6 1b:6 1c:6 1d:6
    1e:6 1f:6 5c:7 fb:8 7ffc:15 20:6 ffb:12 3fc:10
    1ffa:13 21:6 5d:7 5e:7 5f:7 60:7 61:7 62:7
    63:7 64:7 65:7 66:7 67:7 68:7 69:7 6a:7
    6b:7 6c:7 6d:7 6e:7 6f:7 70:7 71:7 72:7
    fc:8 73:7 fd:8 1ffb:13 7fff0:19 1ffc:13 3ffc:14 22:6
    7ffd:15 3:5 23:6 4:5 24:6 5:5 25:6 26:6
    27:6 6:5 74:7 75:7 28:6 29:6 2a:6 7:5
    2b:6 76:7 2c:6 8:5 9:5 2d:6 77:7 78:7
    79:7 7a:7 7b:7 7ffe:15 7fc:11 3ffd:14 1ffd:13 ffffffc:28
    fffe6:20 3fffd2:22 fffe7:20 fffe8:20 3fffd3:22 3fffd4:22 3fffd5:22 7fffd9:23
    3fffd6:22 7fffda:23 7fffdb:23 7fffdc:23 7fffdd:23 7fffde:23 ffffeb:24 7fffdf:23
    ffffec:24 ffffed:24 3fffd7:22 7fffe0:23 ffffee:24 7fffe1:23 7fffe2:23 7fffe3:23
    7fffe4:23 1fffdc:21 3fffd8:22 7fffe5:23 3fffd9:22 7fffe6:23 7fffe7:23 ffffef:24
    3fffda:22 1fffdd:21 fffe9:20 3fffdb:22 3fffdc:22 7fffe8:23 7fffe9:23 1fffde:21
    7fffea:23 3fffdd:22 3fffde:22 fffff0:24 1fffdf:21 3fffdf:22 7fffeb:23 7fffec:23
    1fffe0:21 1fffe1:21 3fffe0:22 1fffe2:21 7fffed:23 3fffe1:22 7fffee:23 7fffef:23
    fffea:20 3fffe2:22 3fffe3:22 3fffe4:22 7ffff0:23 3fffe5:22 3fffe6:22 7ffff1:23
    3ffffe0:26 3ffffe1:26 fffeb:20 7fff1:19 3fffe7:22 7ffff2:23 3fffe8:22 1ffffec:25
    3ffffe2:26 3ffffe3:26 3ffffe4:26 7ffffde:27 7ffffdf:27 3ffffe5:26 fffff1:24 1ffffed:25
    7fff2:19 1fffe3:21 3ffffe6:26 7ffffe0:27 7ffffe1:27 3ffffe7:26 7ffffe2:27 fffff2:24
    1fffe4:21 1fffe5:21 3ffffe8:26 3ffffe9:26 ffffffd:28 7ffffe3:27 7ffffe4:27 7ffffe5:27
    fffec:20 fffff3:24 fffed:20 1fffe6:21 3fffe9:22 1fffe7:21 1fffe8:21 7ffff3:23
    3fffea:22 3fffeb:22 1ffffee:25 1ffffef:25 fffff4:24 fffff5:24 3ffffea:26 7ffff4:23
    3ffffeb:26 7ffffe6:27 3ffffec:26 3ffffed:26 7ffffe7:27 7ffffe8:27 7ffffe9:27 7ffffea:27
    7ffffeb:27 ffffffe:28 7ffffec:27 7ffffed:27 7ffffee:27 7ffffef:27 7fffff0:27 3ffffee:26
    3fffffff:30
"""

_EOS = 256


def _parse_codes() -> list[tuple[int, int]]:
    codes = []
    for item in _CODE_TABLE.split():
        code, length = item.split(":")
        codes.append((int(code, 16), int(length)))
    # A complete prefix code (Kraft sum exactly 1) catches a mistyped entry at import.
    assert len(codes) == 257 and sum(2 ** (30 - n) for _, n in codes) == 2**30
    return codes


_CODES = _parse_codes()

# -- encoding ---------------------------------------------------------------------------

# Each byte's code as text, for ``str.translate`` (a list indexed by code point).
_BIT_STRINGS = [format(code, f"0{length}b") for code, length in _CODES[:256]]
_BIT_LENGTHS = bytes(length for _, length in _CODES[:256])
_PADDING = ["1" * n for n in range(8)]
_SHORT = 12


def huffman_encoded_length(data: bytes) -> int:
    """The length in bytes of ``data`` once Huffman-encoded (padding included)."""
    return (sum(map(_BIT_LENGTHS.__getitem__, data)) + 7) >> 3


def huffman_encode(data: bytes) -> bytes:
    """Huffman-encode ``data``, padding the last byte with the high bits of EOS (all 1s)."""
    if len(data) <= _SHORT:
        # Short strings (per-call values such as grpc-timeout): shifting codes into one int
        # costs less than the string round trip below.
        codes = _CODES
        acc = size = 0
        for byte in data:
            code, length = codes[byte]
            acc = (acc << length) | code
            size += length
        pad = -size & 7
        return ((acc << pad) | ((1 << pad) - 1)).to_bytes((size + pad) >> 3, "big")
    bits = data.decode("latin-1").translate(_BIT_STRINGS)
    size = len(bits)
    pad = -size & 7
    # RFC 7541 §5.2: padding is the most significant bits of EOS, which are all 1s.
    return int(bits + _PADDING[pad], 2).to_bytes((size + pad) >> 3, "big")


# -- decoding ---------------------------------------------------------------------------


def _build_tree() -> list[list[int]]:
    """Internal nodes as ``[child for bit 0, child for bit 1]``; root is node 0.

    A child ``>= 0`` is another internal node, a child ``< 0`` is the leaf ``~symbol``.
    """
    nodes: list[list[int]] = [[0, 0]]
    for symbol, (code, length) in enumerate(_CODES):
        node = 0
        for shift in range(length - 1, 0, -1):
            bit = (code >> shift) & 1
            child = nodes[node][bit]
            if child == 0:
                child = len(nodes)
                nodes.append([0, 0])
                nodes[node][bit] = child
            node = child
        nodes[node][code & 1] = ~symbol
    return nodes


def _build_decoder() -> tuple[list[tuple[int, bytes]], frozenset[int]]:
    nodes = _build_tree()
    dead = len(nodes)  # reached by decoding EOS; never left, never accepted
    states = dead + 1

    # Nibble step: (next state, completed symbols) for each (state, 4 bits).
    nibble: list[tuple[int, bytes]] = []
    for state in range(states):
        for value in range(16):
            node = state
            out = bytearray()
            for shift in (3, 2, 1, 0):
                if node == dead:
                    break
                child = nodes[node][(value >> shift) & 1]
                if child >= 0:
                    node = child
                elif ~child == _EOS:
                    # RFC 7541 §5.2: a string containing EOS is a decoding error.
                    node = dead
                else:
                    out.append(~child)
                    node = 0
            nibble.append((node, bytes(out)))

    # Byte step: compose the high and low nibble steps. States are stored pre-multiplied
    # by 256 so the decoding loop does one addition and one lookup per byte.
    table: list[tuple[int, bytes]] = []
    for state in range(states):
        for high in range(16):
            mid, first = nibble[state * 16 + high]
            row = nibble[mid * 16 : mid * 16 + 16]
            if first:
                table.extend([(end << 8, first + second) for end, second in row])
            else:
                table.extend([(end << 8, second) for end, second in row])

    # RFC 7541 §5.2: a string may end mid-code only on padding of at most 7 bits, all 1s,
    # that is, on the root or on one of the first 7 nodes down the all-ones path.
    accepting = {0}
    node = 0
    for _ in range(7):
        node = nodes[node][1]
        accepting.add(node << 8)
    return table, frozenset(accepting)


_DECODE_TABLE, _ACCEPTING = _build_decoder()


def huffman_decode(data: bytes) -> bytes:
    """Decode a Huffman-encoded string; raise HPACKDecodingError on EOS or bad padding."""
    table = _DECODE_TABLE
    state = 0
    out: list[bytes] = []
    append = out.append
    for byte in data:
        state, symbols = table[state + byte]
        append(symbols)
    if state not in _ACCEPTING:
        raise HPACKDecodingError("invalid Huffman padding or EOS in string literal")
    return b"".join(out)
