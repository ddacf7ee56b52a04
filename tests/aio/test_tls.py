"""TLS on both sides: ALPN h2, mutual TLS, server name override."""

from __future__ import annotations

import asyncio
import json
import ssl

import pytest

from grpcx import RpcError, StatusCode

WAIT = 10.0
NAME = "grpcx.test.example"  # the only name on the server certificate


async def test_tls_alpn_h2(serve, connect, methods, make_probe, handlers, certs):
    server, port = await serve(*methods(make_probe()), ssl=certs.server_context())
    channel = connect(f"127.0.0.1:{port}", ssl=certs.client_context(), server_hostname=NAME)
    info = json.loads(
        await asyncio.wait_for(channel.unary_unary(handlers.path("Describe"))(b""), WAIT)
    )
    assert info["cert"] is None  # no client certificate
    (connection,) = server._connections
    assert connection.transport is not None
    ssl_object = connection.transport.get_extra_info("ssl_object")
    assert ssl_object.selected_alpn_protocol() == "h2"
    # all call types over TLS
    assert [m async for m in channel.unary_stream(handlers.path("Count"))(b"3")] == [
        b"0",
        b"1",
        b"2",
    ]


async def test_mutual_tls_peer_certificate(serve, connect, methods, make_probe, handlers, certs):
    _, port = await serve(
        *methods(make_probe()), ssl=certs.server_context(require_client_cert=True)
    )
    channel = connect(
        f"127.0.0.1:{port}", ssl=certs.client_context(with_cert=True), server_hostname=NAME
    )
    info = json.loads(
        await asyncio.wait_for(channel.unary_unary(handlers.path("Describe"))(b""), WAIT)
    )
    subject = dict(pair[0] for pair in info["cert"]["subject"])
    assert subject["commonName"] == "grpcx-test-client"


async def test_mutual_tls_without_client_cert_fails(
    serve, connect, methods, make_probe, handlers, certs
):
    _, port = await serve(
        *methods(make_probe()), ssl=certs.server_context(require_client_cert=True)
    )
    channel = connect(f"127.0.0.1:{port}", ssl=certs.client_context(), server_hostname=NAME)
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(channel.unary_unary(handlers.path("Echo"))(b""), WAIT)
    assert info.value.code() == StatusCode.UNAVAILABLE


async def test_server_name_must_match_without_override(
    serve, connect, methods, make_probe, handlers, certs
):
    _, port = await serve(*methods(make_probe()), ssl=certs.server_context())
    channel = connect(f"127.0.0.1:{port}", ssl=certs.client_context())
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(channel.unary_unary(handlers.path("Echo"))(b""), WAIT)
    assert info.value.code() == StatusCode.UNAVAILABLE
    # with the override, the same certificate is accepted, and :authority is the name
    channel = connect(f"127.0.0.1:{port}", ssl=certs.client_context(), server_hostname=NAME)
    assert await asyncio.wait_for(channel.unary_unary(handlers.path("Echo"))(b"ok"), WAIT) == b"ok"


async def test_untrusted_server_fails(serve, connect, methods, make_probe, handlers, certs):
    _, port = await serve(*methods(make_probe()), ssl=certs.server_context())
    channel = connect(f"127.0.0.1:{port}", ssl=ssl.create_default_context(), server_hostname=NAME)
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(channel.unary_unary(handlers.path("Echo"))(b""), WAIT)
    assert info.value.code() == StatusCode.UNAVAILABLE


async def test_plaintext_client_to_tls_server_fails(
    serve, connect, methods, make_probe, handlers, certs
):
    _, port = await serve(*methods(make_probe()), ssl=certs.server_context())
    channel = connect(f"127.0.0.1:{port}")
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(channel.unary_unary(handlers.path("Echo"))(b"", timeout=5), WAIT)
    assert info.value.code() in (StatusCode.UNAVAILABLE, StatusCode.INTERNAL)


async def test_tls_over_unix_socket(serve, connect, methods, make_probe, handlers, certs, tmp_path):
    sock = tmp_path / "tls.sock"
    _, _ = await serve(*methods(make_probe()), address=f"unix:{sock}", ssl=certs.server_context())
    channel = connect(f"unix:{sock}", ssl=certs.client_context(), server_hostname=NAME)
    assert await asyncio.wait_for(channel.unary_unary(handlers.path("Echo"))(b"u"), WAIT) == b"u"
