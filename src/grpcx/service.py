"""How services are described to a server: methods, their cardinality and their codecs.

A server registers :class:`ServiceDefinition` objects. Generated code (``protoc-gen-grpcx``)
builds them from a servicer class; by hand they are built with :func:`unary_unary`,
:func:`unary_stream`, :func:`stream_unary` and :func:`stream_stream`::

    service = grpcx.ServiceDefinition(
        "helloworld.Greeter",
        [grpcx.unary_unary("SayHello", say_hello, HelloRequest, HelloReply)],
    )
    server.add_service(service)

Handlers for the asyncio server are coroutine functions (unary responses) or async
generator functions (streamed responses) taking ``(request, context)`` where
``request`` is a message, or an async iterator of messages for streamed requests.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, cast, runtime_checkable

__all__ = [
    "Cardinality",
    "MessageType",
    "MethodHandler",
    "ServiceDefinition",
    "SupportsServiceDefinition",
    "stream_stream",
    "stream_unary",
    "unary_stream",
    "unary_unary",
]

RequestT = TypeVar("RequestT")
ResponseT = TypeVar("ResponseT")


class Cardinality(enum.Enum):
    """Whether each side of a method sends one message or a stream of them.

    ``request_streaming`` is True when the client sends a stream of messages, and
    ``response_streaming`` when the server does. (Plain attributes, set once per member:
    the server reads them on every call.)
    """

    request_streaming: bool
    response_streaming: bool

    UNARY_UNARY = "unary_unary"
    UNARY_STREAM = "unary_stream"
    STREAM_UNARY = "stream_unary"
    STREAM_STREAM = "stream_stream"

    def __init__(self, value: str) -> None:
        self.request_streaming = value.startswith("stream_")
        self.response_streaming = value.endswith("_stream")


class MessageType(Protocol):
    """What grpcx needs of a message class: protobuf's generated classes satisfy it."""

    @classmethod
    def FromString(cls, data: bytes, /) -> Any:
        """Parse a serialized message."""
        ...

    def SerializeToString(self) -> bytes:
        """Serialize this message."""
        ...


@dataclass(frozen=True, slots=True)
class MethodHandler:
    """One method of a service: its name, cardinality, handler and message codecs.

    ``request_deserializer`` turns request bytes into what the handler receives;
    ``response_serializer`` turns what it returns or yields into bytes. ``request_type``
    and ``response_type`` are kept for reflection and code generation when known.
    """

    name: str
    cardinality: Cardinality
    handler: Callable[..., Any]
    request_deserializer: Callable[[bytes], Any]
    response_serializer: Callable[[Any], bytes]
    request_type: type | None = None
    response_type: type | None = None


def _method(
    cardinality: Cardinality,
    name: str,
    handler: Callable[..., Any],
    request_type: type[MessageType] | Callable[[bytes], Any],
    response_type: type[MessageType] | Callable[[Any], bytes],
) -> MethodHandler:
    # Message classes bring their own codecs; plain callables (``bytes`` too) are used as
    # they are, so a method can carry raw bytes or another serialization.
    from_string = getattr(request_type, "FromString", None)
    to_string = getattr(response_type, "SerializeToString", None)
    is_request_message = isinstance(request_type, type) and from_string is not None
    is_response_message = isinstance(response_type, type) and to_string is not None
    deserializer = cast(
        "Callable[[bytes], Any]", from_string if is_request_message else request_type
    )
    serializer = cast("Callable[[Any], bytes]", to_string if is_response_message else response_type)
    req_type = cast("type", request_type) if is_request_message else None
    resp_type = cast("type", response_type) if is_response_message else None
    return MethodHandler(name, cardinality, handler, deserializer, serializer, req_type, resp_type)


def unary_unary(
    name: str,
    handler: Callable[..., Any],
    request_type: type[MessageType] | Callable[[bytes], Any],
    response_type: type[MessageType] | Callable[[Any], bytes],
) -> MethodHandler:
    """A method taking one request and returning one response."""
    return _method(Cardinality.UNARY_UNARY, name, handler, request_type, response_type)


def unary_stream(
    name: str,
    handler: Callable[..., Any],
    request_type: type[MessageType] | Callable[[bytes], Any],
    response_type: type[MessageType] | Callable[[Any], bytes],
) -> MethodHandler:
    """A method taking one request and streaming responses (an async generator)."""
    return _method(Cardinality.UNARY_STREAM, name, handler, request_type, response_type)


def stream_unary(
    name: str,
    handler: Callable[..., Any],
    request_type: type[MessageType] | Callable[[bytes], Any],
    response_type: type[MessageType] | Callable[[Any], bytes],
) -> MethodHandler:
    """A method taking a stream of requests and returning one response."""
    return _method(Cardinality.STREAM_UNARY, name, handler, request_type, response_type)


def stream_stream(
    name: str,
    handler: Callable[..., Any],
    request_type: type[MessageType] | Callable[[bytes], Any],
    response_type: type[MessageType] | Callable[[Any], bytes],
) -> MethodHandler:
    """A method taking a stream of requests and streaming responses."""
    return _method(Cardinality.STREAM_STREAM, name, handler, request_type, response_type)


@dataclass(frozen=True, slots=True)
class ServiceDefinition:
    """A service's full name (``package.Service``) and its methods by name."""

    name: str
    """The full name, ``package.Service``."""
    methods: Mapping[str, MethodHandler] = field(default_factory=dict)
    """The methods by their names."""

    def __init__(self, name: str, methods: Iterable[MethodHandler] | Mapping[str, MethodHandler]):
        if isinstance(methods, Mapping):
            table = dict(methods)
        else:
            table = {}
            for method in methods:
                if method.name in table:
                    raise ValueError(f"method {method.name!r} is defined twice in {name}")
                table[method.name] = method
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "methods", table)

    def paths(self) -> dict[str, MethodHandler]:
        """Each method by its HTTP/2 ``:path``, ``/package.Service/Method``."""
        return {f"/{self.name}/{name}": method for name, method in self.methods.items()}


@runtime_checkable
class SupportsServiceDefinition(Protocol):
    """An object that describes itself as a service: generated servicer bases do."""

    def __grpcx_service__(self) -> ServiceDefinition:
        """The service this object implements."""
        ...
