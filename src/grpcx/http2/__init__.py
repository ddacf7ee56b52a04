"""Sans-IO HTTP/2: frames, HPACK, streams, flow control and limits.

Nothing in this package touches a socket, a thread, a clock or an event loop.
"""
