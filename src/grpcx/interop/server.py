"""The grpcx interop server: ``grpc.testing.TestService`` on :class:`grpcx.aio.Server`.

Implements the server features of grpc/grpc ``doc/interop-test-descriptions.md``: every
TestService method except UnimplementedCall, echo of ``x-grpc-test-echo-initial`` (in the
initial metadata) and ``x-grpc-test-echo-trailing-bin`` (in the trailers), echo status,
compressed requests (``expect_compressed``) and responses (``response_compressed``,
``ResponseParameters.compressed``) and ``interval_us``. Run it as::

    python -m grpcx.interop.server --port=10000 [--use_tls=true]
        [--tls_cert_file=F --tls_key_file=F] [--use_mtls=true --tls_ca_file=F]

With ``--use_tls=true`` and no certificate flags it serves the shipped test certificate
(``*.test.google.fr``). ``--use_mtls=true`` also requires a client certificate signed by
the shipped test CA (or ``--tls_ca_file``). ``--port=0`` picks a free port; either way
the server prints ``... listening on port N`` once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import sys
import time
from collections.abc import AsyncIterator, Sequence
from typing import NoReturn

import grpcx
import grpcx.aio
from grpcx.interop import CA_FILE, SERVER_CERT_FILE, SERVER_KEY_FILE, cases
from grpcx.interop._flags import parse_bool
from grpcx.interop.protos.empty_pb2 import Empty
from grpcx.interop.protos.messages_pb2 import (
    COMPRESSABLE,
    Payload,
    PayloadType,
    SimpleRequest,
    SimpleResponse,
    StreamingInputCallRequest,
    StreamingInputCallResponse,
    StreamingOutputCallRequest,
    StreamingOutputCallResponse,
)

__all__ = ["TestService", "main", "serve", "server_ssl_context", "service_definition"]

_Trailers = list[tuple[str, str | bytes]]


class TestService:
    """``grpc.testing.TestService`` as the interop spec's server features describe it."""

    # Not a pytest test class, whatever its name says.
    __test__ = False

    @staticmethod
    def _echo_metadata(context: grpcx.aio.ServicerContext) -> _Trailers:
        """Echo the test metadata; returns the trailing metadata set (for aborts)."""
        metadata = context.invocation_metadata()
        initial = metadata.get(cases.ECHO_INITIAL_KEY)
        if initial is not None:
            context.send_initial_metadata([(cases.ECHO_INITIAL_KEY, initial)])
        trailing = metadata.get(cases.ECHO_TRAILING_KEY)
        if trailing is None:
            return []
        trailers: _Trailers = [(cases.ECHO_TRAILING_KEY, trailing)]
        context.set_trailing_metadata(trailers)
        return trailers

    @staticmethod
    def _check_compressed(
        request: SimpleRequest | StreamingInputCallRequest,
        context: grpcx.aio.ServicerContext,
        trailers: _Trailers,
    ) -> None:
        if not request.HasField("expect_compressed"):
            return
        compressed = context.request_compressed()
        if request.expect_compressed.value and not compressed:
            _abort(
                context,
                grpcx.StatusCode.INVALID_ARGUMENT,
                "expected a compressed request",
                trailers,
            )
        if not request.expect_compressed.value and compressed:
            _abort(
                context,
                grpcx.StatusCode.INVALID_ARGUMENT,
                "expected an uncompressed request",
                trailers,
            )

    @staticmethod
    def _echo_status(
        request: SimpleRequest | StreamingOutputCallRequest,
        context: grpcx.aio.ServicerContext,
        trailers: _Trailers,
    ) -> None:
        if request.HasField("response_status") and request.response_status.code != 0:
            status = request.response_status
            try:
                code = grpcx.StatusCode(status.code)
            except ValueError:
                code = grpcx.StatusCode.UNKNOWN
            _abort(context, code, status.message, trailers)

    @staticmethod
    def _payload(
        response_type: PayloadType.ValueType,
        size: int,
        context: grpcx.aio.ServicerContext,
        trailers: _Trailers,
    ) -> Payload:
        if response_type != COMPRESSABLE:
            _abort(
                context, grpcx.StatusCode.INVALID_ARGUMENT, "unsupported response_type", trailers
            )
        return Payload(type=COMPRESSABLE, body=bytes(size))

    async def empty_call(self, request: Empty, context: grpcx.aio.ServicerContext) -> Empty:
        """EmptyCall: the empty message back."""
        self._echo_metadata(context)
        return Empty()

    async def unary_call(
        self, request: SimpleRequest, context: grpcx.aio.ServicerContext
    ) -> SimpleResponse:
        """UnaryCall: check compression, echo the status, return response_size bytes."""
        # Before the echo, which may send the response headers that name the encoding.
        if request.HasField("response_compressed"):
            context.set_compression("gzip" if request.response_compressed.value else None)
        trailers = self._echo_metadata(context)
        self._check_compressed(request, context, trailers)
        self._echo_status(request, context, trailers)
        body = self._payload(request.response_type, request.response_size, context, trailers)
        return SimpleResponse(payload=body)

    async def cacheable_unary_call(
        self, request: SimpleRequest, context: grpcx.aio.ServicerContext
    ) -> SimpleResponse:
        """CacheableUnaryCall: the time in nanoseconds, cacheable by proxies for 60 s."""
        context.send_initial_metadata([("cache-control", "max-age=60, public")])
        return SimpleResponse(payload=Payload(body=str(time.time_ns()).encode()))

    async def _responses(
        self,
        request: StreamingOutputCallRequest,
        context: grpcx.aio.ServicerContext,
        trailers: _Trailers,
    ) -> AsyncIterator[StreamingOutputCallResponse]:
        self._echo_status(request, context, trailers)
        for params in request.response_parameters:
            if params.interval_us > 0:
                await asyncio.sleep(params.interval_us / 1e6)
            if params.HasField("compressed") and not params.compressed.value:
                context.disable_next_message_compression()
            body = self._payload(request.response_type, params.size, context, trailers)
            yield StreamingOutputCallResponse(payload=body)

    @staticmethod
    def _compress_if_asked(
        request: StreamingOutputCallRequest, context: grpcx.aio.ServicerContext
    ) -> None:
        # Compression is chosen for the whole call before its first response; messages
        # with compressed=false then opt out one by one (as grpc's C++ server does).
        if any(params.HasField("compressed") for params in request.response_parameters):
            context.set_compression("gzip")

    async def streaming_output_call(
        self, request: StreamingOutputCallRequest, context: grpcx.aio.ServicerContext
    ) -> AsyncIterator[StreamingOutputCallResponse]:
        """StreamingOutputCall: one response per ResponseParameters."""
        self._compress_if_asked(request, context)
        trailers = self._echo_metadata(context)
        async for response in self._responses(request, context, trailers):
            yield response

    async def streaming_input_call(
        self,
        requests: AsyncIterator[StreamingInputCallRequest],
        context: grpcx.aio.ServicerContext,
    ) -> StreamingInputCallResponse:
        """StreamingInputCall: the sum of the payload sizes received."""
        trailers = self._echo_metadata(context)
        total = 0
        async for request in requests:
            self._check_compressed(request, context, trailers)
            total += len(request.payload.body)
        return StreamingInputCallResponse(aggregated_payload_size=total)

    async def full_duplex_call(
        self,
        requests: AsyncIterator[StreamingOutputCallRequest],
        context: grpcx.aio.ServicerContext,
    ) -> AsyncIterator[StreamingOutputCallResponse]:
        """FullDuplexCall: answer each request as it arrives."""
        trailers = self._echo_metadata(context)
        async for request in requests:
            async for response in self._responses(request, context, trailers):
                yield response

    async def half_duplex_call(
        self,
        requests: AsyncIterator[StreamingOutputCallRequest],
        context: grpcx.aio.ServicerContext,
    ) -> AsyncIterator[StreamingOutputCallResponse]:
        """HalfDuplexCall: read every request, then answer them in order."""
        trailers = self._echo_metadata(context)
        buffered = [request async for request in requests]
        for request in buffered:
            async for response in self._responses(request, context, trailers):
                yield response


def _abort(
    context: grpcx.aio.ServicerContext, code: grpcx.StatusCode, details: str, trailers: _Trailers
) -> NoReturn:
    # The echoed trailing metadata goes out with an error status too.
    context.abort(code, details, trailing_metadata=trailers or None)


def service_definition(service: TestService | None = None) -> grpcx.ServiceDefinition:
    """The ``grpc.testing.TestService`` definition for :meth:`grpcx.aio.Server.add_service`."""
    service = service or TestService()
    output_call = (StreamingOutputCallRequest, StreamingOutputCallResponse)
    return grpcx.ServiceDefinition(
        "grpc.testing.TestService",
        [
            grpcx.unary_unary("EmptyCall", service.empty_call, Empty, Empty),
            grpcx.unary_unary("UnaryCall", service.unary_call, SimpleRequest, SimpleResponse),
            grpcx.unary_unary(
                "CacheableUnaryCall", service.cacheable_unary_call, SimpleRequest, SimpleResponse
            ),
            grpcx.unary_stream("StreamingOutputCall", service.streaming_output_call, *output_call),
            grpcx.stream_unary(
                "StreamingInputCall",
                service.streaming_input_call,
                StreamingInputCallRequest,
                StreamingInputCallResponse,
            ),
            grpcx.stream_stream("FullDuplexCall", service.full_duplex_call, *output_call),
            grpcx.stream_stream("HalfDuplexCall", service.half_duplex_call, *output_call),
        ],
    )


def server_ssl_context(
    cert_file: str = SERVER_CERT_FILE,
    key_file: str = SERVER_KEY_FILE,
    *,
    client_ca_file: str | None = None,
) -> ssl.SSLContext:
    """A server TLS context (ALPN ``h2``); with ``client_ca_file``, mutual TLS."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    context.set_alpn_protocols(["h2"])
    if client_ca_file is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(client_ca_file)
    return context


async def serve(
    port: int, *, host: str = "127.0.0.1", ssl_context: ssl.SSLContext | None = None
) -> None:
    """Serve TestService on ``host:port`` until SIGINT or SIGTERM."""
    server = grpcx.aio.Server()
    server.add_service(service_definition())
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    bound = await server.add_port(address, ssl=ssl_context)
    await server.start()  # (before the line below: the port is then ready for clients)
    print(f"grpcx interop server listening on port {bound}", flush=True)
    await server.serve(grace=1.0)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse grpc-style flags (``--port=N --use_tls=true``) and run the server."""
    parser = argparse.ArgumentParser(
        prog="python -m grpcx.interop.server", description="grpcx interop test server"
    )
    parser.add_argument("--port", type=int, required=True, help="port to listen on (0: any)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--use_tls", type=parse_bool, default=False, metavar="BOOL")
    parser.add_argument("--tls_cert_file", default=SERVER_CERT_FILE)
    parser.add_argument("--tls_key_file", default=SERVER_KEY_FILE)
    parser.add_argument("--use_mtls", type=parse_bool, default=False, metavar="BOOL")
    parser.add_argument("--tls_ca_file", default=CA_FILE, help="CA of client certificates")
    args = parser.parse_args(argv)
    context = None
    if args.use_tls or args.use_mtls:
        context = server_ssl_context(
            args.tls_cert_file,
            args.tls_key_file,
            client_ca_file=args.tls_ca_file if args.use_mtls else None,
        )
    asyncio.run(serve(args.port, host=args.host, ssl_context=context))
    return 0


if __name__ == "__main__":
    sys.exit(main())
