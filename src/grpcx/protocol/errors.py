"""The error the gRPC protocol core raises for a call that must end with a status."""

from __future__ import annotations

from grpcx.status import StatusCode

__all__ = ["ProtocolStatusError"]


class ProtocolStatusError(Exception):
    """A protocol violation or limit that ends one call with gRPC status *code*.

    The driver turns it into trailers (server side) or an ``RpcError`` (client side),
    resetting the stream where the message stream can no longer be trusted.
    """

    code: StatusCode
    message: str

    def __init__(self, code: StatusCode, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"
