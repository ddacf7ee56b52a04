"""Run a handler coroutine's first step inline, and only fall back to a Task if it suspends.

A Task per call costs about 40% of a minimal server's throughput (DESIGN.md), and most
unary handlers finish without ever awaiting anything that suspends. So the starter runs
the coroutine's first step itself (through a reusable driver, :func:`_drive`). If the
coroutine finishes, no Task was made. If it yields a future, a Task continues it from
exactly that point (:class:`_Continue`).

During that first step ``asyncio.current_task()`` must still answer, because
``asyncio.timeout()`` and ``TaskGroup`` ask for it. A :class:`_PendingTask` stands in: it
records ``cancel()``/``uncancel()`` calls and forwards them to the real Task once there is
one. Python 3.12+ could use ``eager_start`` Tasks instead; this works from 3.10 on.
"""

from __future__ import annotations

import asyncio
import sys
import types
from collections.abc import Callable, Coroutine, Generator
from typing import Any

# Typed loosely: they are handed a _PendingTask as well as real Tasks.
_enter_task: Callable[[asyncio.AbstractEventLoop, Any], None] = asyncio.tasks._enter_task
_leave_task: Callable[[asyncio.AbstractEventLoop, Any], None] = asyncio.tasks._leave_task

__all__ = ["EagerStarter"]


class _PendingTask:
    """What ``current_task()`` returns during the inline first step of a handler."""

    # No __weakref__: per-task state kept in a WeakKeyDictionary would carry over from one
    # call to the next, the placeholder being reused (see EagerStarter).
    __slots__ = ("_cancel_requests", "_loop", "task")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._cancel_requests = 0
        self.task: asyncio.Task[Any] | None = None

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def cancel(self, msg: Any = None) -> bool:
        if self.task is not None:
            return self.task.cancel(msg)
        self._cancel_requests += 1
        return True

    # cancelling()/uncancel() exist on Task from Python 3.11 (asyncio.timeout uses them).
    def cancelling(self) -> int:
        if self.task is not None:
            count: int = getattr(self.task, "cancelling")()  # noqa: B009
            return count
        return self._cancel_requests

    def uncancel(self) -> int:
        if self.task is not None:
            count: int = getattr(self.task, "uncancel")()  # noqa: B009
            return count
        if self._cancel_requests:
            self._cancel_requests -= 1
        return self._cancel_requests

    def done(self) -> bool:
        return self.task.done() if self.task is not None else False


class _Continue(Coroutine[Any, Any, Any]):
    """What the Task runs: a coroutine that already yielded ``first`` outside any Task.

    Not an ``async def`` wrapper: a Task cancelled before its first step throws
    CancelledError into its coroutine without ever starting it, and a wrapper that never
    started could not pass that on, so the handler would stay suspended on ``first``
    forever (``asyncio.timeout(0)`` in a handler's first step does exactly that: its
    callback cancels the Task before the Task's first step). As a coroutine object of our
    own, the first ``send`` re-yields ``first`` and every ``throw`` reaches the handler.
    This is also one frame less per resumption than a wrapper.
    """

    __slots__ = ("_coro", "_first")

    def __init__(self, coro: Coroutine[Any, Any, Any], first: Any) -> None:
        self._coro = coro
        self._first = first

    def send(self, value: Any) -> Any:
        first = self._first
        if first is not _STARTED:
            # The Task's first step: it now waits on what the coroutine was waiting on.
            self._first = _STARTED
            return first
        return self._coro.send(value)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        first = self._first
        if first is not _STARTED:
            # Cancelled before the Task's first step. A Task cancelled while waiting
            # cancels the future it waits on; do the same for the one it never saw.
            self._first = _STARTED
            if isinstance(first, asyncio.Future):
                first.cancel()
        try:
            if val is None and tb is None:
                return self._coro.throw(typ)
            return self._coro.throw(typ, val, tb)  # pragma: no cover - legacy signature
        finally:
            # The exception comes back out through this frame, which its traceback then
            # holds: the frame must not hold the exception too (a cycle per cancelled call).
            del typ, val, tb

    def close(self) -> None:
        self._first = _STARTED
        self._coro.close()

    def __await__(self) -> Generator[Any, Any, Any]:
        # Tasks call send()/throw() directly; this makes ``await`` work too.
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                yielded = self.send(value) if error is None else self.throw(error)
            except StopIteration as stop:
                return stop.value
            error = None
            try:
                value = yield yielded
            except BaseException as exc:
                error = exc


_STARTED: Any = object()


class _Box:
    """A driver's result slot, and whether it was handed to a Task (see _drive)."""

    __slots__ = ("detached", "value")

    def __init__(self) -> None:
        self.detached = False
        self.value: Any = None


@types.coroutine
def _drive(box: _Box) -> Generator[Any, Any, Any]:
    """Run handler coroutines sent in, one after another, without a StopIteration each.

    ``coro.send(None)`` on a coroutine that returns raises StopIteration, and raising and
    catching it costs about as much again as the rest of starting the coroutine. A
    coroutine finished through ``yield from`` hands its value over without one, so the
    starter keeps one of these per connection and sends it each handler coroutine: it
    yields ``box`` back with the value in it. If a handler suspends instead, what it
    awaits comes out of ``send`` in place of ``box``; that driver is then ``detached`` and
    given to the Task, and returns the handler's value, as a coroutine would.
    """
    coro = yield
    while True:
        result = yield from coro
        if box.detached:
            return result
        box.value = result
        # Hold neither the response nor its coroutine until the next call (nor show them in
        # the locals of that call's traceback).
        result = coro = None
        coro = yield box


_current_task: Callable[[asyncio.AbstractEventLoop], Any] = asyncio.current_task
if hasattr(asyncio.current_task, "__code__") and isinstance(
    getattr(asyncio.tasks, "_current_tasks", None), dict
):
    # Python 3.10 and 3.11: current_task() is Python code around this dict lookup, which
    # _enter_task/_leave_task keep (in C). From 3.12 current_task() itself is C.
    _current_task = asyncio.tasks._current_tasks.get  # type: ignore[attr-defined]
_getrefcount = sys.getrefcount


class EagerStarter:
    """Starts handler coroutines eagerly on one loop (one per connection).

    :meth:`start` runs ``coro`` until it first suspends and continues it in a Task only if
    it did. The placeholder that stands in for ``current_task()`` during that first step
    is reused from call to call while nothing kept a reference to it (the usual case); a
    handler that stored it, or one that suspended (its placeholder now forwards to the
    real Task), gets the next call a fresh one.
    """

    __slots__ = ("_box", "_driver", "_loop", "_placeholder")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._placeholder = _PendingTask(loop)
        self._new_driver()

    def _new_driver(self) -> None:
        box = self._box = _Box()
        driver = self._driver = _drive(box)
        driver.send(None)  # to its first ``yield``, ready for a coroutine

    def start(self, coro: Coroutine[Any, Any, Any]) -> tuple[asyncio.Task[Any] | None, Any]:
        """``(None, result)`` if ``coro`` finished in its first step, else ``(task, None)``
        with the Task that continues it. Exceptions from the first step propagate."""
        loop = self._loop
        if _current_task(loop) is not None:
            # Called from inside a Task (an in-memory transport, say): the first step would
            # run as part of that Task, so take the ordinary route.
            return loop.create_task(coro), None
        # Native coroutines (``async def``) go through the driver; anything else (a
        # coroutine-like object of another kind, or not a coroutine at all) is stepped with
        # send() as before: ``yield from`` would take any iterable, and refuse awaitables
        # that are not iterable.
        native = type(coro) is types.CoroutineType
        placeholder = self._placeholder
        # Its references now (measured here each time, not assumed: the count of the same
        # references differs with the interpreter, and a tracer can hold extra ones); more
        # after the step means the handler kept it.
        free = _getrefcount(placeholder)
        _enter_task(loop, placeholder)
        try:
            yielded = self._driver.send(coro) if native else coro.send(None)
        except StopIteration as stop:  # (only from send(): the driver never returns here)
            return None, stop.value
        except BaseException:
            if native:
                self._new_driver()  # the handler's exception went through it: it is finished
            raise
        finally:
            _leave_task(loop, placeholder)
            if _getrefcount(placeholder) != free or placeholder._cancel_requests:
                self._placeholder = _PendingTask(loop)  # kept, or to be cancelled: not reused
        runner: Any = coro
        if native:
            box = self._box
            if yielded is box:
                result = box.value
                box.value = None
                return None, result
            # Suspended: this driver now carries the handler, so the Task gets it.
            box.detached = True
            runner = self._driver
            self._new_driver()
        self._placeholder = _PendingTask(loop)
        task = loop.create_task(_Continue(runner, yielded))
        placeholder.task = task
        for _ in range(placeholder._cancel_requests):
            task.cancel()
        return task, None
