"""The error the gRPC protocol core raises for a call that must end with a status."""

from __future__ import annotations

from grpcx.status import StatusCode

__all__ = ["CallUsageError", "ProtocolStatusError"]


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


class CallUsageError(RuntimeError):
    """The application misused a call: it acted on a call it had itself already ended
    (a second finish, a message after its own finish or half-close, a second response
    on a unary call). Raised at the call that made the mistake.

    An action that races the peer or the clock (the peer reset the stream, the deadline
    passed, the connection went) is not misuse: it is a no-op, and the call reports how
    it really ended.
    """
