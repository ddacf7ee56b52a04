"""The grpcx interop client: the test cases of ``doc/interop-test-descriptions.md``.

Run against any gRPC implementation's interop server::

    python -m grpcx.interop.client --server_host=127.0.0.1 --server_port=10000
        --test_case=large_unary [--use_tls=true] [--ca_file=F]
        [--server_host_override=foo.test.google.fr] [--use_mtls=true]

``--test_case=all`` runs every case in :data:`grpcx.interop.cases.TEST_CASES` on one
channel. Each case prints ``PASS name`` or ``FAIL name: reason``; the exit status is
non-zero when any failed. With TLS the server certificate is checked against the shipped
test CA (or ``--ca_file``) under the name ``foo.test.google.fr`` unless
``--server_host_override`` says otherwise; ``--use_mtls=true`` presents the shipped
client certificate.

server_compressed_unary and server_compressed_streaming check each response's
compressed flag (``Call.response_compressed()``) as well as its size.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpcx
import grpcx.aio
from grpcx.interop import (
    CA_FILE,
    CLIENT_CERT_FILE,
    CLIENT_KEY_FILE,
    SERVER_HOST_OVERRIDE,
    cases,
)
from grpcx.interop._flags import parse_bool
from grpcx.interop.protos.empty_pb2 import Empty
from grpcx.interop.protos.messages_pb2 import (
    SimpleRequest,
    SimpleResponse,
    StreamingInputCallRequest,
    StreamingInputCallResponse,
    StreamingOutputCallRequest,
    StreamingOutputCallResponse,
)

__all__ = [
    "CASE_TIMEOUT",
    "CaseFailure",
    "InteropClient",
    "client_ssl_context",
    "main",
    "run_test_case",
    "run_test_cases",
]

#: Seconds one test case may take before it counts as failed.
CASE_TIMEOUT = 60.0


class CaseFailure(Exception):
    """A test case's assertion did not hold."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise CaseFailure(message)


def _check_code(code: grpcx.StatusCode, expected: grpcx.StatusCode, what: str) -> None:
    _check(code == expected, f"{what}: expected {expected.name}, got {code.name}")


def _check_sizes(
    responses: Sequence[SimpleResponse | StreamingOutputCallResponse], expected: tuple[int, ...]
) -> None:
    sizes = tuple(len(response.payload.body) for response in responses)
    _check(sizes == expected, f"response payload sizes {sizes}, expected {expected}")


async def _status_of(call: Awaitable[Any]) -> tuple[grpcx.StatusCode, str]:
    """Await a call that should fail; its status code and message."""
    try:
        await call
    except grpcx.RpcError as error:
        return error.code(), error.details()
    return grpcx.StatusCode.OK, ""


class InteropClient:
    """The interop test cases, each a coroutine method named after its case."""

    def __init__(self, channel: grpcx.aio.Channel) -> None:
        self._empty: grpcx.aio.UnaryUnaryMethod[Empty, Empty] = channel.unary_unary(
            cases.EMPTY_CALL, Empty.SerializeToString, Empty.FromString
        )
        self._unary: grpcx.aio.UnaryUnaryMethod[SimpleRequest, SimpleResponse] = (
            channel.unary_unary(
                cases.UNARY_CALL, SimpleRequest.SerializeToString, SimpleResponse.FromString
            )
        )
        self._output: grpcx.aio.UnaryStreamMethod[
            StreamingOutputCallRequest, StreamingOutputCallResponse
        ] = channel.unary_stream(
            cases.STREAMING_OUTPUT_CALL,
            StreamingOutputCallRequest.SerializeToString,
            StreamingOutputCallResponse.FromString,
        )
        self._input: grpcx.aio.StreamUnaryMethod[
            StreamingInputCallRequest, StreamingInputCallResponse
        ] = channel.stream_unary(
            cases.STREAMING_INPUT_CALL,
            StreamingInputCallRequest.SerializeToString,
            StreamingInputCallResponse.FromString,
        )
        self._duplex: grpcx.aio.StreamStreamMethod[
            StreamingOutputCallRequest, StreamingOutputCallResponse
        ] = channel.stream_stream(
            cases.FULL_DUPLEX_CALL,
            StreamingOutputCallRequest.SerializeToString,
            StreamingOutputCallResponse.FromString,
        )
        self._unimplemented_method: grpcx.aio.UnaryUnaryMethod[Empty, Empty] = channel.unary_unary(
            cases.UNIMPLEMENTED_METHOD, Empty.SerializeToString, Empty.FromString
        )
        self._unimplemented_service: grpcx.aio.UnaryUnaryMethod[Empty, Empty] = channel.unary_unary(
            cases.UNIMPLEMENTED_SERVICE_METHOD, Empty.SerializeToString, Empty.FromString
        )

    async def empty_unary(self) -> None:
        """EmptyCall with the empty message succeeds and returns the empty message."""
        response = await self._empty(Empty())
        _check(response == Empty(), "response is not the empty message")

    async def large_unary(self) -> None:
        """UnaryCall with 271828 bytes in returns 314159 bytes."""
        response = await self._unary(cases.large_unary_request())
        _check_sizes([response], (cases.LARGE_RESPONSE_SIZE,))

    async def client_compressed_unary(self) -> None:
        """An uncompressed probe fails; compressed and uncompressed requests then pass."""
        probe = self._unary(cases.large_unary_request(expect_compressed=True), compression=None)
        code, _ = await _status_of(probe)
        _check_code(code, grpcx.StatusCode.INVALID_ARGUMENT, "uncompressed probe")
        for expect_compressed, compression in ((True, "gzip"), (False, None)):
            request = cases.large_unary_request(expect_compressed=expect_compressed)
            response = await self._unary(request, compression=compression)
            _check_sizes([response], (cases.LARGE_RESPONSE_SIZE,))

    async def server_compressed_unary(self) -> None:
        """UnaryCall asking for a compressed, then an uncompressed response."""
        for compressed in (True, False):
            request = cases.large_unary_request()
            request.response_compressed.value = compressed
            call = self._unary(request)
            response = await call
            _check_sizes([response], (cases.LARGE_RESPONSE_SIZE,))
            flag = call.response_compressed()
            _check(
                flag == compressed,
                f"response_compressed={compressed}: the response's compressed flag is {flag}",
            )

    async def client_streaming(self) -> None:
        """StreamingInputCall with four payloads; the server sums their sizes."""
        requests = [cases.streaming_input_request(size) for size in cases.CLIENT_STREAMING_SIZES]
        response = await self._input(requests)
        total = response.aggregated_payload_size
        _check(total == 74922, f"aggregated_payload_size {total}, expected 74922")

    async def client_compressed_streaming(self) -> None:
        """An uncompressed probe fails; then one compressed and one uncompressed message."""
        first, second = cases.CLIENT_COMPRESSED_STREAMING_SIZES
        probe = self._input(compression=None)
        try:
            await probe.write(cases.streaming_input_request(first, expect_compressed=True))
            await probe.done_writing()
        except grpcx.RpcError:
            pass  # the server may end the call before the half-close; await tells
        code, _ = await _status_of(probe)
        _check_code(code, grpcx.StatusCode.INVALID_ARGUMENT, "uncompressed probe")
        call = self._input(compression="gzip")
        await call.write(cases.streaming_input_request(first, expect_compressed=True))
        await call.write(
            cases.streaming_input_request(second, expect_compressed=False), compress=False
        )
        await call.done_writing()
        total = (await call).aggregated_payload_size
        _check(total == 73086, f"aggregated_payload_size {total}, expected 73086")

    async def server_streaming(self) -> None:
        """StreamingOutputCall returns four responses of the sizes asked for."""
        call = self._output(cases.streaming_output_request(cases.SERVER_STREAMING_SIZES))
        responses = [response async for response in call]
        _check_sizes(responses, cases.SERVER_STREAMING_SIZES)

    async def server_compressed_streaming(self) -> None:
        """StreamingOutputCall with a compressed, then an uncompressed response."""
        request = cases.streaming_output_request(cases.SERVER_COMPRESSED_STREAMING_SIZES)
        call = self._output(request)
        responses: list[StreamingOutputCallResponse] = []
        flags: list[bool] = []
        async for response in call:
            responses.append(response)
            flags.append(call.response_compressed())
        expected = tuple(size for size, _ in cases.SERVER_COMPRESSED_STREAMING_SIZES)
        _check_sizes(responses, expected)
        expected_flags = [compressed for _, compressed in cases.SERVER_COMPRESSED_STREAMING_SIZES]
        _check(flags == expected_flags, f"compressed flags {flags}, expected {expected_flags}")

    async def ping_pong(self) -> None:
        """FullDuplexCall: four requests, each answered before the next is sent."""
        call = self._duplex()
        for response_size, request_size in cases.PING_PONG_REQUEST_SIZES:
            await call.write(cases.ping_pong_request(response_size, request_size))
            response = await call.read()
            _check(isinstance(response, StreamingOutputCallResponse), "the stream ended early")
            assert isinstance(response, StreamingOutputCallResponse)  # for mypy
            _check_sizes([response], (response_size,))
        await call.done_writing()
        _check(await call.read() is grpcx.aio.EOF, "more responses than requests")
        _check_code(await call.code(), grpcx.StatusCode.OK, "status")

    async def empty_stream(self) -> None:
        """FullDuplexCall with no request gets no response."""
        call = self._duplex()
        await call.done_writing()
        responses = [response async for response in call]
        _check(not responses, f"{len(responses)} responses, expected none")
        _check_code(await call.code(), grpcx.StatusCode.OK, "status")

    async def timeout_on_sleeping_server(self) -> None:
        """FullDuplexCall with a 1 ms deadline ends with DEADLINE_EXCEEDED."""
        call = self._duplex(timeout=cases.SLEEPING_SERVER_TIMEOUT)
        try:
            await call.write(cases.sleeping_server_request())
            response = await call.read()
        except grpcx.RpcError as error:
            code = error.code()
        else:
            raise CaseFailure(f"the call did not fail (read {response!r})")
        _check_code(code, grpcx.StatusCode.DEADLINE_EXCEEDED, "status")

    async def cancel_after_begin(self) -> None:
        """StreamingInputCall cancelled once started, before any message: CANCELLED."""
        call = self._input()
        # grpcx starts a call (sends its headers) when it is first awaited or written to.
        started = asyncio.ensure_future(_status_of(call))
        await asyncio.sleep(0)
        call.cancel()
        code, _ = await started
        _check_code(code, grpcx.StatusCode.CANCELLED, "status")

    async def cancel_after_first_response(self) -> None:
        """FullDuplexCall cancelled after its first response: CANCELLED."""
        call = self._duplex()
        await call.write(cases.ping_pong_request(31415, 27182))
        response = await call.read()
        _check(isinstance(response, StreamingOutputCallResponse), "no response")
        assert isinstance(response, StreamingOutputCallResponse)  # for mypy
        _check_sizes([response], (31415,))
        call.cancel()
        code, _ = await _status_of(call.read())
        _check_code(code, grpcx.StatusCode.CANCELLED, "status after cancel()")
        _check_code(await call.code(), grpcx.StatusCode.CANCELLED, "code()")

    async def custom_metadata(self) -> None:
        """Metadata echoed back in the initial and trailing metadata, unary and duplex."""
        metadata: list[tuple[str, str | bytes]] = [
            (cases.ECHO_INITIAL_KEY, cases.ECHO_INITIAL_VALUE),
            (cases.ECHO_TRAILING_KEY, cases.ECHO_TRAILING_VALUE),
        ]
        unary = self._unary(cases.large_unary_request(), metadata=metadata)
        _check_sizes([await unary], (cases.LARGE_RESPONSE_SIZE,))
        duplex = self._duplex(metadata=metadata)
        await duplex.write(
            cases.ping_pong_request(cases.LARGE_RESPONSE_SIZE, cases.LARGE_REQUEST_SIZE)
        )
        await duplex.done_writing()
        _check_sizes([response async for response in duplex], (cases.LARGE_RESPONSE_SIZE,))
        calls: list[tuple[str, grpcx.aio.Call[Any, Any]]] = [
            ("UnaryCall", unary),
            ("FullDuplexCall", duplex),
        ]
        for name, call in calls:
            initial = (await call.initial_metadata()).get(cases.ECHO_INITIAL_KEY)
            _check(
                initial == cases.ECHO_INITIAL_VALUE,
                f"{name}: initial metadata {cases.ECHO_INITIAL_KEY} is {initial!r}",
            )
            trailing = (await call.trailing_metadata()).get(cases.ECHO_TRAILING_KEY)
            _check(
                trailing == cases.ECHO_TRAILING_VALUE,
                f"{name}: trailing metadata {cases.ECHO_TRAILING_KEY} is {trailing!r}",
            )

    async def _check_echo_status(self, message: str, *, duplex: bool) -> None:
        code, details = await _status_of(self._unary(cases.echo_status_unary_request(message)))
        _check_code(code, grpcx.StatusCode.UNKNOWN, "UnaryCall")
        _check(details == message, f"UnaryCall: message {details!r}, expected {message!r}")
        if not duplex:
            return
        call = self._duplex()
        try:
            await call.write(cases.echo_status_stream_request(message))
            await call.done_writing()
        except grpcx.RpcError:
            pass  # the server may end the call first; read() reports the status
        code, details = await _status_of(call.read())
        _check_code(code, grpcx.StatusCode.UNKNOWN, "FullDuplexCall")
        _check(details == message, f"FullDuplexCall: message {details!r}, expected {message!r}")

    async def status_code_and_message(self) -> None:
        """The status the client asks for comes back, unary and duplex."""
        await self._check_echo_status(cases.STATUS_MESSAGE, duplex=True)

    async def special_status_message(self) -> None:
        """A status message with whitespace and non-ASCII characters comes back intact."""
        await self._check_echo_status(cases.SPECIAL_STATUS_MESSAGE, duplex=False)

    async def unimplemented_method(self) -> None:
        """TestService/UnimplementedCall fails with UNIMPLEMENTED."""
        code, _ = await _status_of(self._unimplemented_method(Empty()))
        _check_code(code, grpcx.StatusCode.UNIMPLEMENTED, "status")

    async def unimplemented_service(self) -> None:
        """UnimplementedService/UnimplementedCall fails with UNIMPLEMENTED."""
        code, _ = await _status_of(self._unimplemented_service(Empty()))
        _check_code(code, grpcx.StatusCode.UNIMPLEMENTED, "status")

    async def concurrent_large_unary(self) -> None:
        """1000 large_unary calls at once on the channel."""
        calls = [self.large_unary() for _ in range(cases.CONCURRENT_LARGE_UNARY_CALLS)]
        await asyncio.gather(*calls)


def _case(client: InteropClient, name: str) -> Callable[[], Awaitable[None]]:
    if name not in cases.TEST_CASES:
        raise ValueError(f"unknown test case {name!r}")
    method: Callable[[], Awaitable[None]] = getattr(client, name)
    return method


async def run_test_case(channel: grpcx.aio.Channel, name: str) -> None:
    """Run one test case on ``channel``; raises :class:`CaseFailure` or RpcError on failure."""
    await _case(InteropClient(channel), name)()


async def run_test_cases(
    channel: grpcx.aio.Channel, names: Sequence[str], *, timeout: float = CASE_TIMEOUT
) -> dict[str, str | None]:
    """Run the cases in order, each within ``timeout`` seconds; prints PASS/FAIL lines.

    Returns each case's failure reason, or None where it passed.
    """
    client = InteropClient(channel)
    results: dict[str, str | None] = {}
    for name in names:
        reason: str | None = None
        try:
            await asyncio.wait_for(_case(client, name)(), timeout)
        except CaseFailure as error:
            reason = str(error)
        except grpcx.RpcError as error:
            reason = f"RPC failed: {error.code().name}: {error.details()}"
        except asyncio.TimeoutError:
            reason = f"timed out after {timeout} s"
        except Exception as error:
            reason = f"{type(error).__name__}: {error}"
        results[name] = reason
        print(f"PASS {name}" if reason is None else f"FAIL {name}: {reason}", flush=True)
    return results


def client_ssl_context(
    ca_file: str | None = CA_FILE, *, cert_file: str | None = None, key_file: str | None = None
) -> ssl.SSLContext:
    """A client TLS context (ALPN ``h2``) trusting ``ca_file``, or the system's roots if None.

    With ``cert_file`` (and ``key_file``) it presents that certificate for mutual TLS.
    """
    context = ssl.create_default_context(cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["h2"])
    if cert_file is not None:
        context.load_cert_chain(cert_file, key_file)
    return context


async def _run(args: argparse.Namespace) -> int:
    context = None
    override = None
    if args.use_tls or args.use_mtls:
        client_cert = (CLIENT_CERT_FILE, CLIENT_KEY_FILE) if args.use_mtls else (None, None)
        context = client_ssl_context(
            args.ca_file if args.use_test_ca else None,
            cert_file=client_cert[0],
            key_file=client_cert[1],
        )
        override = args.server_host_override or SERVER_HOST_OVERRIDE
    elif args.server_host_override:
        override = args.server_host_override
    host = f"[{args.server_host}]" if ":" in args.server_host else args.server_host
    names = cases.TEST_CASES if args.test_case == "all" else tuple(args.test_case.split(","))
    async with grpcx.aio.Channel(
        f"{host}:{args.server_port}", ssl=context, server_hostname=override
    ) as channel:
        results = await run_test_cases(channel, names)
    failed = [name for name, reason in results.items() if reason is not None]
    if failed:
        print(f"{len(failed)} of {len(results)} test cases failed: {', '.join(failed)}")
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse grpc-style flags (``--server_port=N --test_case=NAME``) and run the cases."""
    parser = argparse.ArgumentParser(
        prog="python -m grpcx.interop.client", description="grpcx interop test client"
    )
    parser.add_argument("--server_host", default="127.0.0.1")
    parser.add_argument("--server_port", type=int, required=True)
    parser.add_argument(
        "--server_host_override",
        default="",
        help=f"name for TLS verification and :authority (TLS default: {SERVER_HOST_OVERRIDE})",
    )
    parser.add_argument(
        "--test_case", default="all", help="a case name, several joined by commas, or all"
    )
    parser.add_argument("--use_tls", type=parse_bool, default=False, metavar="BOOL")
    parser.add_argument(
        "--use_test_ca",
        type=parse_bool,
        default=True,
        metavar="BOOL",
        help="trust --ca_file (default: the shipped test CA) rather than the system's roots",
    )
    parser.add_argument("--ca_file", default=CA_FILE)
    parser.add_argument("--use_mtls", type=parse_bool, default=False, metavar="BOOL")
    args = parser.parse_args(argv)
    unknown = [
        name
        for name in args.test_case.split(",")
        if args.test_case != "all" and name not in cases.TEST_CASES
    ]
    if unknown:
        parser.error(f"unknown test case(s): {', '.join(unknown)}")
    return asyncio.run(_run(args))


if __name__ == "__main__":
    sys.exit(main())
