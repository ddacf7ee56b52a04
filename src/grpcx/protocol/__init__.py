"""Sans-IO gRPC protocol building blocks: headers, message framing, timeouts, compression.

Nothing here imports asyncio, socket, threading or time; drivers feed bytes and header
lists in and get bytes, header lists and statuses out.
"""

from grpcx.protocol.errors import ProtocolStatusError

__all__ = ["ProtocolStatusError"]
