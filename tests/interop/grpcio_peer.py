"""A grpcio (C core) interop peer for grpcx's interop tests: a TestService server and client.

    python tests/interop/grpcio_peer.py server --port N [--use_tls] [--use_mtls]
    python tests/interop/grpcio_peer.py client --server_port N --test_case NAME|all
        [--server_host H] [--use_tls] [--use_mtls] [--server_host_override NAME]

It behaves like ``python -m grpcx.interop.server`` / ``python -m grpcx.interop.client``
(same flags, same ``PASS name`` / ``FAIL name: reason`` lines) but speaks through grpcio,
over grpcx's own message classes and generic handlers, so no generated ``_pb2_grpc`` is
needed. grpcio is a test-only dependency of grpcx.

grpcio's Python API hides the per-message compressed flag, so both sides open their
channel with ``grpc.per_message_decompression`` off: the C core then hands compressed
messages over as they arrived, and this peer sees (and checks) the flag by finding gzip
or deflate data where a message should be, then decompresses it itself.

One deviation from ``doc/interop-test-descriptions.md`` is forced by grpcio: its client
cannot turn compression off for one message of a compressed call, so in
client_compressed_streaming the second (meant to be uncompressed) message goes out
compressed and with ``expect_compressed`` unset instead of false.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import sys
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import grpc.aio

from grpcx.interop import (
    CA_FILE,
    CLIENT_CERT_FILE,
    CLIENT_KEY_FILE,
    SERVER_CERT_FILE,
    SERVER_HOST_OVERRIDE,
    SERVER_KEY_FILE,
    cases,
)
from grpcx.interop.protos.empty_pb2 import Empty
from grpcx.interop.protos.messages_pb2 import (
    COMPRESSABLE,
    Payload,
    SimpleRequest,
    SimpleResponse,
    StreamingInputCallRequest,
    StreamingInputCallResponse,
    StreamingOutputCallRequest,
    StreamingOutputCallResponse,
)

_NO_DECOMPRESSION = ("grpc.per_message_decompression", 0)
_CODES = {code.value[0]: code for code in grpc.StatusCode}
_CASE_TIMEOUT = 60.0


@dataclass(frozen=True)
class Received:
    """A message as it arrived: parsed, and whether its compressed flag was set."""

    compressed: bool
    message: Any


def _deserializer(message_type: Any) -> Callable[[bytes], Received]:
    """Parse a message that may still be compressed (decompression is off in the core)."""

    def deserialize(data: bytes) -> Received:
        if data[:2] == b"\x1f\x8b":  # gzip's magic: no valid message starts with it
            return Received(True, message_type.FromString(gzip.decompress(data)))
        try:
            return Received(False, message_type.FromString(data))
        except Exception:  # not a message as it stands: deflate (zlib) data
            return Received(True, message_type.FromString(zlib.decompress(data)))

    return deserialize


def _serialize(message: Any) -> bytes:
    return bytes(message.SerializeToString())


def _credentials_files(use_mtls: bool) -> tuple[bytes, bytes, bytes]:
    ca = Path(CA_FILE).read_bytes()
    if use_mtls:
        return ca, Path(CLIENT_KEY_FILE).read_bytes(), Path(CLIENT_CERT_FILE).read_bytes()
    return ca, b"", b""


# --- server -------------------------------------------------------------------------------


class TestServiceServicer:
    """grpc.testing.TestService per the interop spec's server features, on grpcio."""

    def _echo_metadata(self, context: grpc.ServicerContext) -> None:
        metadata = dict(context.invocation_metadata())
        if cases.ECHO_INITIAL_KEY in metadata:
            context.send_initial_metadata(
                [(cases.ECHO_INITIAL_KEY, metadata[cases.ECHO_INITIAL_KEY])]
            )
        if cases.ECHO_TRAILING_KEY in metadata:
            context.set_trailing_metadata(
                [(cases.ECHO_TRAILING_KEY, metadata[cases.ECHO_TRAILING_KEY])]
            )

    @staticmethod
    def _check_compressed(received: Received, context: grpc.ServicerContext) -> None:
        expect = received.message.expect_compressed
        if not received.message.HasField("expect_compressed"):
            return
        if expect.value and not received.compressed:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Expected compressed request")
        if not expect.value and received.compressed:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Expected uncompressed request")

    @staticmethod
    def _echo_status(request: Any, context: grpc.ServicerContext) -> None:
        if request.HasField("response_status") and request.response_status.code != 0:
            status = request.response_status
            context.abort(_CODES[status.code], status.message)

    @staticmethod
    def _payload(response_type: int, size: int, context: grpc.ServicerContext) -> Payload:
        if response_type != COMPRESSABLE:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "unsupported response_type")
        return Payload(type=COMPRESSABLE, body=bytes(size))

    def empty_call(self, received: Received, context: grpc.ServicerContext) -> Empty:
        """EmptyCall: the empty message back."""
        self._echo_metadata(context)
        return Empty()

    def unary_call(self, received: Received, context: grpc.ServicerContext) -> SimpleResponse:
        """UnaryCall: compression checks, echo status, a payload of response_size bytes."""
        request = received.message
        self._echo_metadata(context)
        self._check_compressed(received, context)
        self._echo_status(request, context)
        if request.HasField("response_compressed"):
            compression = (
                grpc.Compression.Gzip
                if request.response_compressed.value
                else grpc.Compression.NoCompression
            )
            context.set_compression(compression)
        body = self._payload(request.response_type, request.response_size, context)
        return SimpleResponse(payload=body)

    def cacheable_unary_call(
        self, received: Received, context: grpc.ServicerContext
    ) -> SimpleResponse:
        """CacheableUnaryCall: the current time in nanoseconds, cacheable for 60 s."""
        context.send_initial_metadata([("cache-control", "max-age=60, public")])
        return SimpleResponse(payload=Payload(body=str(time.time_ns()).encode()))

    def _stream_responses(
        self, request: Any, context: grpc.ServicerContext
    ) -> Iterator[StreamingOutputCallResponse]:
        self._echo_status(request, context)
        params = request.response_parameters
        if any(param.HasField("compressed") for param in params):
            context.set_compression(grpc.Compression.Gzip)
        for param in params:
            if param.interval_us:
                time.sleep(param.interval_us / 1e6)
            if param.HasField("compressed") and not param.compressed.value:
                context.disable_next_message_compression()
            body = self._payload(request.response_type, param.size, context)
            yield StreamingOutputCallResponse(payload=body)

    def streaming_output_call(
        self, received: Received, context: grpc.ServicerContext
    ) -> Iterator[StreamingOutputCallResponse]:
        """StreamingOutputCall: one response per ResponseParameters."""
        self._echo_metadata(context)
        yield from self._stream_responses(received.message, context)

    def streaming_input_call(
        self, requests: Iterator[Received], context: grpc.ServicerContext
    ) -> StreamingInputCallResponse:
        """StreamingInputCall: the sum of the payload sizes received."""
        self._echo_metadata(context)
        total = 0
        for received in requests:
            self._check_compressed(received, context)
            total += len(received.message.payload.body)
        return StreamingInputCallResponse(aggregated_payload_size=total)

    def full_duplex_call(
        self, requests: Iterator[Received], context: grpc.ServicerContext
    ) -> Iterator[StreamingOutputCallResponse]:
        """FullDuplexCall: answer each request as it arrives."""
        self._echo_metadata(context)
        for received in requests:
            yield from self._stream_responses(received.message, context)

    def half_duplex_call(
        self, requests: Iterator[Received], context: grpc.ServicerContext
    ) -> Iterator[StreamingOutputCallResponse]:
        """HalfDuplexCall: read every request, then answer them in order."""
        self._echo_metadata(context)
        buffered = [received.message for received in requests]
        for request in buffered:
            yield from self._stream_responses(request, context)


def _test_service_handler(servicer: TestServiceServicer) -> grpc.GenericRpcHandler:
    def handler(kind: Callable[..., Any], method: Callable[..., Any], request: Any) -> Any:
        return kind(
            method, request_deserializer=_deserializer(request), response_serializer=_serialize
        )

    methods = {
        "EmptyCall": handler(grpc.unary_unary_rpc_method_handler, servicer.empty_call, Empty),
        "UnaryCall": handler(
            grpc.unary_unary_rpc_method_handler, servicer.unary_call, SimpleRequest
        ),
        "CacheableUnaryCall": handler(
            grpc.unary_unary_rpc_method_handler, servicer.cacheable_unary_call, SimpleRequest
        ),
        "StreamingOutputCall": handler(
            grpc.unary_stream_rpc_method_handler,
            servicer.streaming_output_call,
            StreamingOutputCallRequest,
        ),
        "StreamingInputCall": handler(
            grpc.stream_unary_rpc_method_handler,
            servicer.streaming_input_call,
            StreamingInputCallRequest,
        ),
        "FullDuplexCall": handler(
            grpc.stream_stream_rpc_method_handler,
            servicer.full_duplex_call,
            StreamingOutputCallRequest,
        ),
        "HalfDuplexCall": handler(
            grpc.stream_stream_rpc_method_handler,
            servicer.half_duplex_call,
            StreamingOutputCallRequest,
        ),
    }
    return grpc.method_handlers_generic_handler("grpc.testing.TestService", methods)


def serve(args: argparse.Namespace) -> int:
    """Run the server until SIGTERM/SIGINT."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=32),
        options=[_NO_DECOMPRESSION, ("grpc.so_reuseport", 0)],
    )
    server.add_generic_rpc_handlers((_test_service_handler(TestServiceServicer()),))
    address = f"{args.host}:{args.port}"
    if args.use_tls or args.use_mtls:
        ca = Path(CA_FILE).read_bytes()
        credentials = grpc.ssl_server_credentials(
            [(Path(SERVER_KEY_FILE).read_bytes(), Path(SERVER_CERT_FILE).read_bytes())],
            root_certificates=ca if args.use_mtls else None,
            require_client_auth=args.use_mtls,
        )
        port = server.add_secure_port(address, credentials)
    else:
        port = server.add_insecure_port(address)
    server.start()
    print(f"grpcio interop server listening on port {port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.wait_for_termination()
    server.stop(grace=1.0).wait(5.0)
    return 0


# --- client -------------------------------------------------------------------------------


class CaseFailure(Exception):
    """A test case's assertion failed."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise CaseFailure(message)


def _check_code(code: grpc.StatusCode, expected: grpc.StatusCode, what: str) -> None:
    _check(code == expected, f"{what}: expected {expected.name}, got {code.name}")


def _check_sizes(responses: list[Received], expected: tuple[int, ...]) -> None:
    sizes = tuple(len(received.message.payload.body) for received in responses)
    _check(sizes == expected, f"response sizes {sizes}, expected {expected}")


def _metadata_value(metadata: Any, key: str) -> Any:
    for item_key, value in metadata or ():
        if item_key == key:
            return value
    return None


class InteropClient:
    """The interop test cases on a grpc.aio channel."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        def method(kind: Callable[..., Any], path: str, response: Any) -> Any:
            return kind(
                path, request_serializer=_serialize, response_deserializer=_deserializer(response)
            )

        self.empty = method(channel.unary_unary, cases.EMPTY_CALL, Empty)
        self.unary = method(channel.unary_unary, cases.UNARY_CALL, SimpleResponse)
        self.output = method(
            channel.unary_stream, cases.STREAMING_OUTPUT_CALL, StreamingOutputCallResponse
        )
        self.input = method(
            channel.stream_unary, cases.STREAMING_INPUT_CALL, StreamingInputCallResponse
        )
        self.duplex = method(
            channel.stream_stream, cases.FULL_DUPLEX_CALL, StreamingOutputCallResponse
        )
        self.unimplemented_call = method(channel.unary_unary, cases.UNIMPLEMENTED_METHOD, Empty)
        self.unimplemented_service_call = method(
            channel.unary_unary, cases.UNIMPLEMENTED_SERVICE_METHOD, Empty
        )

    async def empty_unary(self) -> None:
        """empty_unary"""
        received = await self.empty(Empty())
        _check(received.message == Empty(), "response is not the empty message")

    async def large_unary(self) -> None:
        """large_unary"""
        received = await self.unary(cases.large_unary_request())
        _check_sizes([received], (cases.LARGE_RESPONSE_SIZE,))

    async def client_compressed_unary(self) -> None:
        """client_compressed_unary"""
        probe = self.unary(
            cases.large_unary_request(expect_compressed=True),
            compression=grpc.Compression.NoCompression,
        )
        _check_code(await probe.code(), grpc.StatusCode.INVALID_ARGUMENT, "probe")
        for expect, compression in (
            (True, grpc.Compression.Gzip),
            (False, grpc.Compression.NoCompression),
        ):
            received = await self.unary(
                cases.large_unary_request(expect_compressed=expect), compression=compression
            )
            _check_sizes([received], (cases.LARGE_RESPONSE_SIZE,))

    async def server_compressed_unary(self) -> None:
        """server_compressed_unary"""
        for compressed in (True, False):
            request = cases.large_unary_request()
            request.response_compressed.value = compressed
            received = await self.unary(request)
            _check(
                received.compressed == compressed,
                f"response compressed flag {received.compressed}, expected {compressed}",
            )
            _check_sizes([received], (cases.LARGE_RESPONSE_SIZE,))

    async def client_streaming(self) -> None:
        """client_streaming"""
        requests = [cases.streaming_input_request(size) for size in cases.CLIENT_STREAMING_SIZES]
        received = await self.input(iter(requests))
        total = received.message.aggregated_payload_size
        _check(total == 74922, f"aggregated_payload_size {total}, expected 74922")

    async def client_compressed_streaming(self) -> None:
        """client_compressed_streaming (second message: see the module docstring)"""
        first, second = cases.CLIENT_COMPRESSED_STREAMING_SIZES
        probe = self.input(compression=grpc.Compression.NoCompression)
        await probe.write(cases.streaming_input_request(first, expect_compressed=True))
        await probe.done_writing()
        _check_code(await probe.code(), grpc.StatusCode.INVALID_ARGUMENT, "probe")
        call = self.input(compression=grpc.Compression.Gzip)
        await call.write(cases.streaming_input_request(first, expect_compressed=True))
        await call.write(cases.streaming_input_request(second))
        await call.done_writing()
        total = (await call).message.aggregated_payload_size
        _check(total == 73086, f"aggregated_payload_size {total}, expected 73086")

    async def server_streaming(self) -> None:
        """server_streaming"""
        call = self.output(cases.streaming_output_request(cases.SERVER_STREAMING_SIZES))
        responses = [received async for received in call]
        _check_sizes(responses, cases.SERVER_STREAMING_SIZES)
        _check_code(await call.code(), grpc.StatusCode.OK, "status")

    async def server_compressed_streaming(self) -> None:
        """server_compressed_streaming"""
        request = cases.streaming_output_request(cases.SERVER_COMPRESSED_STREAMING_SIZES)
        responses = [received async for received in self.output(request)]
        _check_sizes(responses, tuple(size for size, _ in cases.SERVER_COMPRESSED_STREAMING_SIZES))
        flags = tuple(received.compressed for received in responses)
        expected = tuple(compressed for _, compressed in cases.SERVER_COMPRESSED_STREAMING_SIZES)
        _check(flags == expected, f"compressed flags {flags}, expected {expected}")

    async def ping_pong(self) -> None:
        """ping_pong"""
        call = self.duplex()
        for response_size, request_size in cases.PING_PONG_REQUEST_SIZES:
            await call.write(cases.ping_pong_request(response_size, request_size))
            received = await call.read()
            _check(received is not grpc.aio.EOF, "stream ended early")
            _check_sizes([received], (response_size,))
        await call.done_writing()
        _check(await call.read() is grpc.aio.EOF, "more responses than requests")
        _check_code(await call.code(), grpc.StatusCode.OK, "status")

    async def empty_stream(self) -> None:
        """empty_stream"""
        call = self.duplex()
        await call.done_writing()
        responses = [received async for received in call]
        _check(not responses, f"{len(responses)} responses, expected none")
        _check_code(await call.code(), grpc.StatusCode.OK, "status")

    async def timeout_on_sleeping_server(self) -> None:
        """timeout_on_sleeping_server"""
        call = self.duplex(timeout=cases.SLEEPING_SERVER_TIMEOUT)
        # The deadline may pass before the write goes out.
        with contextlib.suppress(grpc.aio.AioRpcError, asyncio.InvalidStateError):
            await call.write(cases.sleeping_server_request())
        _check_code(await call.code(), grpc.StatusCode.DEADLINE_EXCEEDED, "status")

    async def cancel_after_begin(self) -> None:
        """cancel_after_begin"""
        call = self.input()
        call.cancel()
        _check_code(await call.code(), grpc.StatusCode.CANCELLED, "status")

    async def cancel_after_first_response(self) -> None:
        """cancel_after_first_response"""
        call = self.duplex()
        await call.write(cases.ping_pong_request(31415, 27182))
        received = await call.read()
        _check(received is not grpc.aio.EOF, "no response")
        _check_sizes([received], (31415,))
        call.cancel()
        _check_code(await call.code(), grpc.StatusCode.CANCELLED, "status")

    async def custom_metadata(self) -> None:
        """custom_metadata"""
        metadata = (
            (cases.ECHO_INITIAL_KEY, cases.ECHO_INITIAL_VALUE),
            (cases.ECHO_TRAILING_KEY, cases.ECHO_TRAILING_VALUE),
        )
        unary = self.unary(cases.large_unary_request(), metadata=metadata)
        _check_sizes([await unary], (cases.LARGE_RESPONSE_SIZE,))
        duplex = self.duplex(metadata=metadata)
        await duplex.write(
            cases.ping_pong_request(cases.LARGE_RESPONSE_SIZE, cases.LARGE_REQUEST_SIZE)
        )
        await duplex.done_writing()
        _check_sizes([received async for received in duplex], (cases.LARGE_RESPONSE_SIZE,))
        for name, call in (("UnaryCall", unary), ("FullDuplexCall", duplex)):
            initial = _metadata_value(await call.initial_metadata(), cases.ECHO_INITIAL_KEY)
            _check(
                initial == cases.ECHO_INITIAL_VALUE, f"{name}: initial metadata echo {initial!r}"
            )
            trailing = _metadata_value(await call.trailing_metadata(), cases.ECHO_TRAILING_KEY)
            _check(
                trailing == cases.ECHO_TRAILING_VALUE,
                f"{name}: trailing metadata echo {trailing!r}",
            )

    async def _check_echo_status(self, message: str, *, streaming: bool) -> None:
        call = self.unary(cases.echo_status_unary_request(message))
        code, details = await call.code(), await call.details()
        _check_code(code, grpc.StatusCode.UNKNOWN, "UnaryCall")
        _check(details == message, f"UnaryCall: details {details!r}, expected {message!r}")
        if not streaming:
            return
        duplex = self.duplex()
        await duplex.write(cases.echo_status_stream_request(message))
        await duplex.done_writing()
        code, details = await duplex.code(), await duplex.details()
        _check_code(code, grpc.StatusCode.UNKNOWN, "FullDuplexCall")
        _check(details == message, f"FullDuplexCall: details {details!r}, expected {message!r}")

    async def status_code_and_message(self) -> None:
        """status_code_and_message"""
        await self._check_echo_status(cases.STATUS_MESSAGE, streaming=True)

    async def special_status_message(self) -> None:
        """special_status_message"""
        await self._check_echo_status(cases.SPECIAL_STATUS_MESSAGE, streaming=False)

    async def unimplemented_method(self) -> None:
        """unimplemented_method"""
        call = self.unimplemented_call(Empty())
        _check_code(await call.code(), grpc.StatusCode.UNIMPLEMENTED, "status")

    async def unimplemented_service(self) -> None:
        """unimplemented_service"""
        call = self.unimplemented_service_call(Empty())
        _check_code(await call.code(), grpc.StatusCode.UNIMPLEMENTED, "status")

    async def concurrent_large_unary(self) -> None:
        """concurrent_large_unary"""
        await asyncio.gather(
            *(self.large_unary() for _ in range(cases.CONCURRENT_LARGE_UNARY_CALLS))
        )


async def _run_cases(args: argparse.Namespace) -> int:
    options: list[tuple[str, Any]] = [_NO_DECOMPRESSION]
    target = f"{args.server_host}:{args.server_port}"
    if args.use_tls or args.use_mtls:
        ca, key, cert = _credentials_files(args.use_mtls)
        credentials = grpc.ssl_channel_credentials(ca, key or None, cert or None)
        override = args.server_host_override or SERVER_HOST_OVERRIDE
        options.append(("grpc.ssl_target_name_override", override))
        channel = grpc.aio.secure_channel(target, credentials, options=options)
    else:
        channel = grpc.aio.insecure_channel(target, options=options)
    names = cases.TEST_CASES if args.test_case == "all" else (args.test_case,)
    failures = 0
    async with channel:
        client = InteropClient(channel)
        for name in names:
            case: Callable[[], Awaitable[None]] | None = getattr(client, name, None)
            if name not in cases.TEST_CASES or case is None:
                print(f"FAIL {name}: unknown test case", flush=True)
                failures += 1
                continue
            try:
                await asyncio.wait_for(case(), _CASE_TIMEOUT)
            except CaseFailure as error:
                print(f"FAIL {name}: {error}", flush=True)
                failures += 1
            except grpc.aio.AioRpcError as error:
                print(
                    f"FAIL {name}: RPC failed: {error.code().name}: {error.details()}", flush=True
                )
                failures += 1
            except Exception as error:
                print(f"FAIL {name}: {type(error).__name__}: {error}", flush=True)
                failures += 1
            else:
                print(f"PASS {name}", flush=True)
    return 1 if failures else 0


def _bool(text: str) -> bool:
    return text.lower() in ("true", "1", "yes", "")


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the server or the client."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="role", required=True)
    server = sub.add_parser("server")
    server.add_argument("--host", default="127.0.0.1")
    server.add_argument("--port", type=int, default=0)
    client = sub.add_parser("client")
    client.add_argument("--server_host", default="127.0.0.1")
    client.add_argument("--server_port", type=int, required=True)
    client.add_argument("--server_host_override", default="")
    client.add_argument("--test_case", default="all")
    for role in (server, client):
        role.add_argument("--use_tls", type=_bool, nargs="?", const=True, default=False)
        role.add_argument("--use_mtls", type=_bool, nargs="?", const=True, default=False)
    args = parser.parse_args(argv)
    if args.role == "server":
        return serve(args)
    return asyncio.run(_run_cases(args))


if __name__ == "__main__":
    sys.exit(main())
