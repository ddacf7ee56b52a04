"""The interop test cases' names, requests and expected results, independent of any API.

Every constant here is fixed by grpc/grpc ``doc/interop-test-descriptions.md``; both
grpcx's interop client and the grpcio peer in grpcx's tests build their requests from
this module, so the two clients send the same messages.
"""

from __future__ import annotations

from grpcx.interop.protos.messages_pb2 import (
    BoolValue,
    EchoStatus,
    Payload,
    ResponseParameters,
    SimpleRequest,
    StreamingInputCallRequest,
    StreamingOutputCallRequest,
)

__all__ = [
    "CLIENT_COMPRESSED_STREAMING_SIZES",
    "CLIENT_STREAMING_SIZES",
    "CONCURRENT_LARGE_UNARY_CALLS",
    "ECHO_INITIAL_KEY",
    "ECHO_INITIAL_VALUE",
    "ECHO_STATUS_CODE",
    "ECHO_TRAILING_KEY",
    "ECHO_TRAILING_VALUE",
    "EMPTY_CALL",
    "FULL_DUPLEX_CALL",
    "HALF_DUPLEX_CALL",
    "LARGE_REQUEST_SIZE",
    "LARGE_RESPONSE_SIZE",
    "PING_PONG_REQUEST_SIZES",
    "SERVER_COMPRESSED_STREAMING_SIZES",
    "SERVER_STREAMING_SIZES",
    "SLEEPING_SERVER_REQUEST_SIZE",
    "SLEEPING_SERVER_TIMEOUT",
    "SPECIAL_STATUS_MESSAGE",
    "STATUS_MESSAGE",
    "STREAMING_INPUT_CALL",
    "STREAMING_OUTPUT_CALL",
    "TEST_CASES",
    "UNARY_CALL",
    "UNIMPLEMENTED_METHOD",
    "UNIMPLEMENTED_SERVICE_METHOD",
    "echo_status_stream_request",
    "echo_status_unary_request",
    "large_unary_request",
    "payload",
    "ping_pong_request",
    "sleeping_server_request",
    "streaming_input_request",
    "streaming_output_request",
]

_SERVICE = "/grpc.testing.TestService/"
#: Method paths of ``grpc.testing.TestService``.
EMPTY_CALL = _SERVICE + "EmptyCall"
UNARY_CALL = _SERVICE + "UnaryCall"
STREAMING_OUTPUT_CALL = _SERVICE + "StreamingOutputCall"
STREAMING_INPUT_CALL = _SERVICE + "StreamingInputCall"
FULL_DUPLEX_CALL = _SERVICE + "FullDuplexCall"
HALF_DUPLEX_CALL = _SERVICE + "HalfDuplexCall"
#: A method of TestService that servers do not implement.
UNIMPLEMENTED_METHOD = _SERVICE + "UnimplementedCall"
#: A method of a service that servers do not implement.
UNIMPLEMENTED_SERVICE_METHOD = "/grpc.testing.UnimplementedService/UnimplementedCall"

#: The client test cases grpcx implements, in the order ``--test_case=all`` runs them.
TEST_CASES = (
    "empty_unary",
    "large_unary",
    "client_compressed_unary",
    "server_compressed_unary",
    "client_streaming",
    "client_compressed_streaming",
    "server_streaming",
    "server_compressed_streaming",
    "ping_pong",
    "empty_stream",
    "timeout_on_sleeping_server",
    "cancel_after_begin",
    "cancel_after_first_response",
    "custom_metadata",
    "status_code_and_message",
    "special_status_message",
    "unimplemented_method",
    "unimplemented_service",
    "concurrent_large_unary",
)

LARGE_REQUEST_SIZE = 271828
LARGE_RESPONSE_SIZE = 314159
CLIENT_STREAMING_SIZES = (27182, 8, 1828, 45904)  # aggregated: 74922
CLIENT_COMPRESSED_STREAMING_SIZES = (27182, 45904)  # aggregated: 73086
SERVER_STREAMING_SIZES = (31415, 9, 2653, 58979)
SERVER_COMPRESSED_STREAMING_SIZES = ((31415, True), (92653, False))
#: (response size, request payload size) of each ping_pong round.
PING_PONG_REQUEST_SIZES = ((31415, 27182), (9, 8), (2653, 1828), (58979, 45904))
SLEEPING_SERVER_REQUEST_SIZE = 27182
#: timeout_on_sleeping_server's deadline, in seconds (1 ms).
SLEEPING_SERVER_TIMEOUT = 0.001
#: How many large_unary calls concurrent_large_unary runs at once.
CONCURRENT_LARGE_UNARY_CALLS = 1000

ECHO_INITIAL_KEY = "x-grpc-test-echo-initial"
ECHO_INITIAL_VALUE = "test_initial_metadata_value"
ECHO_TRAILING_KEY = "x-grpc-test-echo-trailing-bin"
ECHO_TRAILING_VALUE = b"\xab\xab\xab"

#: The status code (UNKNOWN) the status cases ask the server to end calls with.
ECHO_STATUS_CODE = 2
STATUS_MESSAGE = "test status message"
SPECIAL_STATUS_MESSAGE = (
    "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001f608\t\n"
)


def payload(size: int) -> Payload:
    """A COMPRESSABLE payload of ``size`` zero bytes."""
    return Payload(body=bytes(size))


def large_unary_request(expect_compressed: bool | None = None) -> SimpleRequest:
    """large_unary's request (271828 zero bytes in, 314159 asked back)."""
    request = SimpleRequest(response_size=LARGE_RESPONSE_SIZE, payload=payload(LARGE_REQUEST_SIZE))
    if expect_compressed is not None:
        request.expect_compressed.CopyFrom(BoolValue(value=expect_compressed))
    return request


def streaming_input_request(
    size: int, expect_compressed: bool | None = None
) -> StreamingInputCallRequest:
    """One StreamingInputCall request carrying ``size`` zero bytes."""
    request = StreamingInputCallRequest(payload=payload(size))
    if expect_compressed is not None:
        request.expect_compressed.CopyFrom(BoolValue(value=expect_compressed))
    return request


def streaming_output_request(
    sizes: tuple[int, ...] | tuple[tuple[int, bool], ...],
) -> StreamingOutputCallRequest:
    """A StreamingOutputCall request asking for responses of ``sizes``.

    Each item is a size, or a ``(size, compressed)`` pair to set ``compressed`` too.
    """
    request = StreamingOutputCallRequest()
    for item in sizes:
        if isinstance(item, tuple):
            size, compressed = item
            request.response_parameters.append(
                ResponseParameters(size=size, compressed=BoolValue(value=compressed))
            )
        else:
            request.response_parameters.append(ResponseParameters(size=item))
    return request


def ping_pong_request(response_size: int, request_size: int) -> StreamingOutputCallRequest:
    """A FullDuplexCall request asking for one response of ``response_size`` bytes."""
    return StreamingOutputCallRequest(
        response_parameters=[ResponseParameters(size=response_size)],
        payload=payload(request_size),
    )


def echo_status_unary_request(message: str) -> SimpleRequest:
    """A UnaryCall request asking the server to end the call with UNKNOWN and ``message``."""
    return SimpleRequest(response_status=EchoStatus(code=ECHO_STATUS_CODE, message=message))


def echo_status_stream_request(message: str) -> StreamingOutputCallRequest:
    """A FullDuplexCall request asking the server to end the call with UNKNOWN and ``message``."""
    return StreamingOutputCallRequest(
        response_status=EchoStatus(code=ECHO_STATUS_CODE, message=message)
    )


def sleeping_server_request() -> StreamingOutputCallRequest:
    """timeout_on_sleeping_server's request: a payload and no response asked for."""
    return StreamingOutputCallRequest(payload=payload(SLEEPING_SERVER_REQUEST_SIZE))
