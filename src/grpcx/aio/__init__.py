"""grpcx on asyncio: [`Server`][grpcx.aio.Server] and [`Channel`][grpcx.aio.Channel]."""

from grpcx.aio.channel import (
    EOF,
    Call,
    Channel,
    StreamStreamCall,
    StreamStreamMethod,
    StreamUnaryCall,
    StreamUnaryMethod,
    UnaryStreamCall,
    UnaryStreamMethod,
    UnaryUnaryCall,
    UnaryUnaryMethod,
)
from grpcx.aio.server import Server, ServicerContext
from grpcx.aio.workers import WorkerGroup, new_event_loop, run

__all__ = [
    "EOF",
    "Call",
    "Channel",
    "Server",
    "ServicerContext",
    "StreamStreamCall",
    "StreamStreamMethod",
    "StreamUnaryCall",
    "StreamUnaryMethod",
    "UnaryStreamCall",
    "UnaryStreamMethod",
    "UnaryUnaryCall",
    "UnaryUnaryMethod",
    "WorkerGroup",
    "new_event_loop",
    "run",
]
