"""grpcx: gRPC for Python, written in Python.

The public API is re-exported here; ``grpcx.aio`` holds the asyncio server and channel.
[`ServicerContext`][grpcx.ServicerContext] (a handler's second argument) is re-exported from
``grpcx.aio`` so that handler signatures can name it from here too. Everything else is internal.
"""

# Before the imports: grpcx.protocol.headers reads it for the user-agent.
__version__ = "0.1.0.dev0"

from grpcx.aio.server import ServicerContext
from grpcx.metadata import Metadata, MetadataError
from grpcx.service import (
    Cardinality,
    MethodHandler,
    ServiceDefinition,
    stream_stream,
    stream_unary,
    unary_stream,
    unary_unary,
)
from grpcx.status import RpcError, StatusCode

__all__ = [
    "Cardinality",
    "Metadata",
    "MetadataError",
    "MethodHandler",
    "RpcError",
    "ServiceDefinition",
    "ServicerContext",
    "StatusCode",
    "__version__",
    "stream_stream",
    "stream_unary",
    "unary_stream",
    "unary_unary",
]
